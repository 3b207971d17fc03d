import asyncio

from powerpost_async import Generation, PowerPost

PROMPTS = [
    "We just shipped dark mode",
    "New feature: AI-powered search",
    "Join our live Q&A on Thursday",
]


async def caption(pp: PowerPost, prompt: str) -> Generation:
    created = await pp.generations.create(
        prompt=prompt, post_types=["linkedin-post"]
    )
    return await pp.generations.wait(created)


class CaptionService:
    """Owns the program's one client, for separate start and stop hooks."""

    def __init__(self) -> None:
        self._pp: PowerPost | None = None

    async def start(self) -> None:
        self._pp = PowerPost()  # inside the running loop: never at import

    async def stop(self) -> None:
        if self._pp is not None:
            await self._pp.aclose()  # while the loop still runs

    @property
    def pp(self) -> PowerPost:
        if self._pp is None:
            raise RuntimeError("CaptionService.start() has not run")
        return self._pp


async def main() -> None:
    # One client for the whole program, shared by every task: one pool,
    # one rate-limit gate, one circuit breaker, one sweeper for all waits.
    async with PowerPost() as pp:
        generations = await asyncio.gather(*(caption(pp, p) for p in PROMPTS))
        for prompt, generation in zip(PROMPTS, generations, strict=True):
            print(f"{prompt!r}: {generation.status}")

    service = CaptionService()
    await service.start()
    try:
        credits = await service.pp.account.credits()
        print(f"{credits.balance} credits left")
    finally:
        await service.stop()


if __name__ == "__main__":
    asyncio.run(main())
