import asyncio

from powerpost_async import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    InsufficientCreditsError,
    NotFoundError,
    PowerPost,
    PowerPostError,
    RateLimitError,
)


def explain(error: PowerPostError) -> str:
    """What to do about an error: the most specific classes first."""
    if isinstance(error, NotFoundError):
        return "no such generation in this workspace"
    if isinstance(error, AuthenticationError):
        return "the API key is wrong: fix the configuration"
    if isinstance(error, InsufficientCreditsError):
        return "out of credits: top up, then try again"
    if isinstance(error, RateLimitError):
        return f"rate limited: wait {error.retry_after} s"
    if isinstance(error, APIStatusError):
        status, code = error.status_code, error.code
        return f"API error {status} {code}: quote {error.request_id}"
    if isinstance(error, APIConnectionError):
        return "no answer: network trouble, a timeout, or the breaker is open"
    return f"{type(error).__name__}: {error}"


async def main() -> None:
    async with PowerPost() as pp:
        try:
            await pp.generations.get("3f1e6a52-0000-4000-8000-000000000000")
        except PowerPostError as error:
            print(f"{error}\n  -> {explain(error)}")
        try:  # arguments are checked before anything is sent
            await pp.generations.create(prompt="Dark mode", post_types=[])
        except ValueError as error:
            print(f"refused before sending: {error}")

    async with PowerPost(api_key="pp_live_sk_not_a_real_key") as pp:
        try:
            await pp.generations.list()
        except PowerPostError as error:
            print(f"{error}\n  -> {explain(error)}")


if __name__ == "__main__":
    asyncio.run(main())
