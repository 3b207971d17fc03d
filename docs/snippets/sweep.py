import asyncio
from collections import Counter
from collections.abc import Sequence

from powerpost_async import Generation, PowerPost


async def reconcile(pp: PowerPost, ids: Sequence[str]) -> list[Generation]:
    """After a restart: which ids your database holds as running are done?"""
    # The status of each, from a few list pages rather than a GET per id.
    statuses = await pp.generations.sweep(ids)
    counts = sorted(Counter(statuses.values()).items())
    print(", ".join(f"{n} {status}" for status, n in counts))
    # Then the outputs of the finished ones, fetched concurrently.
    finished = [i for i, status in statuses.items() if status.is_terminal]
    return await pp.generations.get_many(finished)


async def main() -> None:
    async with PowerPost() as pp:
        ids = []
        for prompt in ("We just shipped dark mode", "Our spring drop"):
            created = await pp.generations.create(
                prompt=prompt, post_types=["facebook-post"]
            )
            ids.append(created.generation_id)
        for generation in await reconcile(pp, ids):
            caption = (generation.outputs or {}).get("facebook")
            print(f"{generation.generation_id}: {caption}")


if __name__ == "__main__":
    asyncio.run(main())
