import asyncio
from collections.abc import Sequence

from powerpost_async import (
    CreatedGeneration,
    Generation,
    PowerPost,
    WaitProgress,
)

PROMPTS = [
    "We just shipped dark mode",
    "New feature: AI-powered search",
    "Behind the scenes of our launch week",
    "Our spring collection drops on Friday",
    "Five tips for calmer remote meetings",
    "Customer story: support time cut in half",
    "Weekend sale: 20% off everything",
    "Meet the team behind the mobile app",
]


async def create_all(
    pp: PowerPost, prompts: Sequence[str], *, concurrency: int = 20
) -> list[CreatedGeneration]:
    """One generation per prompt, at most ``concurrency`` creates at once."""
    gate = asyncio.Semaphore(concurrency)

    async def create(prompt: str) -> CreatedGeneration:
        async with gate:
            return await pp.generations.create(
                prompt=prompt, post_types=["x-post"]
            )

    return await asyncio.gather(*(create(prompt) for prompt in prompts))


def report(progress: WaitProgress) -> None:
    print(
        f"{progress.done}/{progress.total} done: "
        f"{progress.completed} completed, {progress.failed} failed, "
        f"{progress.total - progress.done} to go"
    )


async def caption_batch(
    pp: PowerPost, prompts: Sequence[str]
) -> list[Generation]:
    created = await create_all(pp, prompts)
    # One call for the whole batch. With more than a few ids, one shared
    # sweep of the list endpoint answers for all, not one poll per id.
    return await pp.generations.wait_many(
        created, timeout=900, on_progress=report
    )


async def main() -> None:
    async with PowerPost() as pp:
        generations = await caption_batch(pp, PROMPTS)
    for generation in generations:  # in input order; failed ones too
        print(f"{generation.status}: {(generation.outputs or {}).get('x')}")


if __name__ == "__main__":
    asyncio.run(main())
