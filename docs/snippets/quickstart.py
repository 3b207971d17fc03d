import asyncio

from powerpost_async import PowerPost


async def main() -> None:
    async with PowerPost() as pp:  # POWERPOST_API_KEY, POWERPOST_WORKSPACE_ID
        created = await pp.generations.create(
            prompt="We just shipped dark mode",
            post_types=["x-post", "linkedin-post"],
        )
        generation = await pp.generations.wait(created)
        for platform, caption in (generation.outputs or {}).items():
            print(f"{platform}: {caption}")


if __name__ == "__main__":
    asyncio.run(main())
