import asyncio
from collections.abc import Sequence

from powerpost_async import Generation, GenerationStatus, PowerPost

PROMPTS = [
    "How we cut our cloud bill by 40%",
    "Join our live Q&A on Thursday",
    "Weekend sale: 20% off everything",
]


async def publish(generation: Generation) -> None:
    """Your own code: store the captions, notify someone, schedule a post."""
    print(f"ready: {(generation.outputs or {}).get('instagram')}")


async def publish_as_ready(pp: PowerPost, prompts: Sequence[str]) -> None:
    created = [
        await pp.generations.create(
            prompt=prompt, post_types=["instagram-feed"]
        )
        for prompt in prompts
    ]
    # Each generation as soon as it is seen finished: the first one ready
    # is not held back by the slowest.
    finished = pp.generations.as_completed(created, timeout=900)
    async for generation in finished:
        if generation.status is GenerationStatus.FAILED:
            print(f"failed: {generation.generation_id}")  # and refunded
        else:
            await publish(generation)


async def main() -> None:
    async with PowerPost() as pp:
        await publish_as_ready(pp, PROMPTS)


if __name__ == "__main__":
    asyncio.run(main())
