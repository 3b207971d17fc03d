import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from powerpost_async import (
    APIConnectionError,
    InternalServerError,
    MalformedResponseError,
    PowerPost,
)

# Errors after which a create may have been carried out (and charged).
AMBIGUOUS = (APIConnectionError, InternalServerError, MalformedResponseError)


async def create_once(
    pp: PowerPost, prompt: str, post_types: Sequence[str]
) -> str:
    """Start a generation; if that fails ambiguously, look for it."""
    try:
        created = await pp.generations.create(
            prompt=prompt, post_types=post_types
        )
        return created.generation_id
    except AMBIGUOUS as error:
        if isinstance(error, APIConnectionError) and not error.request_sent:
            raise  # surely never reached PowerPost: nothing was charged
        ambiguous = error
    # PowerPost has no idempotency key, so look among the newest. This is
    # a heuristic: the same prompt, created in the last few minutes.
    since = datetime.now(timezone.utc) - timedelta(minutes=5)
    for summary in await pp.generations.list(limit=20):
        if summary.prompt == prompt and summary.created_at >= since:
            return summary.generation_id
    raise ambiguous  # not there: creating it again will not charge twice


async def main() -> None:
    async with PowerPost() as pp:
        generation_id = await create_once(
            pp, "Weekend sale: 20% off", ["instagram-story"]
        )
        generation = await pp.generations.wait(generation_id)
        print(f"{generation_id}: {generation.status}")


if __name__ == "__main__":
    asyncio.run(main())
