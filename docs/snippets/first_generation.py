import asyncio

from powerpost_async import PowerPost, YouTubeOutput


async def main() -> None:
    async with PowerPost() as pp:
        created = await pp.generations.create(
            prompt="Our spring collection drops on Friday",
            post_types=[
                "instagram-feed",
                "instagram-reel",
                "youtube-short",
                "x-post",
            ],
            research_mode="regular",  # "deep" researches more, costs more
            cta_text="Shop the drop",
        )
        print(
            f"{created.generation_id}: {created.credits_used} credits used, "
            f"{created.remaining_credits} left"
        )

        # Polls at once, then every 2 s growing to 10 s, until it is done.
        generation = await pp.generations.wait(created, timeout=300)
        # One output per platform, not per post type: the two Instagram post
        # types share one caption.
        for platform, output in (generation.outputs or {}).items():
            if isinstance(output, YouTubeOutput):
                print(f"{platform}: {output.title} | {output.description}")
            else:
                print(f"{platform}: {output}")


if __name__ == "__main__":
    asyncio.run(main())
