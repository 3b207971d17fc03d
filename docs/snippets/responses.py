import asyncio

from powerpost_async import PowerPost, to_json


async def main() -> None:
    async with PowerPost() as pp:
        # The result, and the HTTP response it came from.
        created = await pp.generations.with_response.create(
            prompt="We just shipped dark mode", post_types=["x-post"]
        )
        print(f"{created.status_code} {created.parsed.credits_used} credits")
        print(f"request id: {created.request_id is not None}")
        if created.rate_limit is not None:
            print(f"requests left: {created.rate_limit.remaining}")

        # Other settings; the same transport, gates and sweeper.
        tenant = pp.with_options(timeout=10, max_retries=1)
        generation = await tenant.generations.wait(created.parsed, timeout=120)

        # A field or an endpoint the SDK does not know yet.
        page = await pp.request(
            "GET", "/api/v1/content/generations", query={"limit": 1}
        )
        print(f"newest: {page.parsed['data'][0]['status']}")

        # The API's own JSON, for your logs, queue or HTTP answers.
        print(to_json(generation)[:30])


if __name__ == "__main__":
    asyncio.run(main())
