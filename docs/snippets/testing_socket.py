import asyncio

from powerpost_async.testing import FakePowerPost


async def main() -> None:
    # A real HTTP server on 127.0.0.1 (a free port), on the real clock.
    # Anything that speaks HTTP can use it, not only this SDK.
    async with FakePowerPost(processing=0.2) as server:
        print(f"POWERPOST_BASE_URL={server.base_url}")
        print(f"POWERPOST_API_KEY={server.api_key}")
        print(f"POWERPOST_WORKSPACE_ID={server.workspace_id}")
        async with server.client(use_socket=True) as pp:  # wired to it
            created = await pp.generations.create(
                prompt="Dark mode", post_types=["x-post"]
            )
            # Real time: poll often, or the wait takes the default 2 s.
            generation = await pp.generations.wait(
                created, interval=0.1, max_interval=0.2
            )
        print(f"{generation.status}: {(generation.outputs or {}).get('x')}")
        print(f"requests: {dict(server.requests.counts())}")


if __name__ == "__main__":
    asyncio.run(main())
