import asyncio
import sys
from pathlib import Path

from powerpost_async import (
    ItemAnalytics,
    Post,
    PostFailedError,
    PowerPost,
)

POST_TYPES = ["instagram-feed", "linkedin-post"]


async def publish_photo(
    pp: PowerPost, photo: Path
) -> tuple[Post, list[ItemAnalytics]]:
    """Photo in, published post and its numbers out."""
    # 1. Upload the photo (streamed from disk, checked before sending).
    media = await pp.media.upload(photo)
    # 2. Caption it, for every platform at once.
    created = await pp.generations.create(
        media_ids=[media.media_id], post_types=POST_TYPES
    )
    captions = await pp.generations.wait(created)
    # 3. An image from those captions (post mode: no prompt needed).
    images = await pp.images.wait(
        await pp.images.generate(generation_id=captions, size="feed")
    )
    # 4. A draft post: captions from the generation, our photo and the new
    #    image attached by their media ids (never by URL).
    attached = [media.media_id, *images.media_ids]
    post = await pp.posts.create(
        [{"post_type": t, "media_ids": attached} for t in POST_TYPES],
        generation_id=captions,
    )
    # 5. Publish, and await every item: posted, or failed.
    await pp.posts.publish(post)
    try:
        post = await pp.posts.wait(post, timeout=600)
    except PostFailedError as error:  # the posted items are not lost
        post = error.post
        for item in error.failed_items:
            print(f"{item.post_type} failed: {item.error}", file=sys.stderr)
    # 6. The numbers of what went out.
    numbers = [await pp.analytics.item(item) for item in post.posted_items]
    return post, numbers


async def main() -> None:
    photo = Path(sys.argv[1] if len(sys.argv) > 1 else "photo.jpg")
    async with PowerPost() as pp:
        post, numbers = await publish_photo(pp, photo)
    print(f"post {post.post_id}: {post.status}")
    for item, analytics in zip(post.posted_items, numbers, strict=True):
        print(f"{item.post_type}: {item.platform_post_id}, {analytics.metrics}")


if __name__ == "__main__":
    asyncio.run(main())
