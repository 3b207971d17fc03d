import asyncio

from powerpost_async import (
    APIConnectionError,
    APIStatusError,
    CircuitOpenError,
    PowerPost,
    RateLimitError,
)


async def status_badge(pp: PowerPost, generation_id: str) -> str:
    """A status for a web page: within 2 s, or why not. Never retries."""
    try:
        generation = await pp.generations.get(
            generation_id, timeout=2.0, max_retries=0
        )
    except RateLimitError as error:
        return f"busy: try again in {error.retry_after or 1:.0f} s"
    except CircuitOpenError as error:  # before APIConnectionError: it is one
        return f"PowerPost is failing: next probe in {error.retry_after:.0f} s"
    except APIConnectionError as error:
        return f"PowerPost unreachable: {error}"
    except APIStatusError as error:
        code, request_id = error.code, error.request_id
        return f"error {error.status_code} {code} (request id {request_id})"
    return str(generation.status)


async def main() -> None:
    # Client-wide defaults; each call may override timeout= and max_retries=.
    client = PowerPost(timeout=15.0, max_retries=3, max_retry_after=30.0)
    async with client as pp:
        created = await pp.generations.create(
            prompt="Join our live Q&A", post_types=["x-post"]
        )
        print(await status_badge(pp, created.generation_id))


if __name__ == "__main__":
    asyncio.run(main())
