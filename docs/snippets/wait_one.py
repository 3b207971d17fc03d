import asyncio

from powerpost_async import GenerationFailedError, PowerPost, WaitTimeoutError


async def linkedin_caption(
    pp: PowerPost, prompt: str, *, timeout: float = 120.0
) -> str:
    """The LinkedIn caption for ``prompt``, or why there is none yet."""
    created = await pp.generations.create(
        prompt=prompt, post_types=["linkedin-post"]
    )
    try:
        generation = await pp.generations.wait(created, timeout=timeout)
    except GenerationFailedError as error:
        failed = error.generation  # refunded: its credits_used is 0
        code = failed.error.code if failed.error else "unknown"
        return f"failed ({code}), {failed.credits_used} credits charged"
    except WaitTimeoutError as error:
        # Not a failure: the generation goes on. Keep the id, look later.
        last = error.generation.status if error.generation else "not seen"
        return (
            f"not ready after {error.timeout:.0f} s (last seen: {last}): "
            f"{created.generation_id}"
        )
    return str((generation.outputs or {}).get("linkedin"))


async def main() -> None:
    async with PowerPost() as pp:
        print(await linkedin_caption(pp, "Meet the team behind the mobile app"))


if __name__ == "__main__":
    asyncio.run(main())
