import asyncio
import os

from powerpost_async import PowerPost

PHOTO = os.environ.get("PHOTO", "cat.jpg")


def progress(sent: int, total: int | None) -> None:
    # At most once per 256 KiB sent, and once at the end.
    print(f"{sent} of {total} bytes sent")


async def main() -> None:
    async with PowerPost() as pp:
        # Checked before anything is sent (format, type, size), then streamed
        # from the disk in 256 KiB chunks: never held whole in memory.
        photo = await pp.media.upload(PHOTO, on_progress=progress)
        print(f"{photo.file_name}: {photo.mime_type}, {photo.file_size} bytes")

        # Pass the media_id on: here, captions written about the photo.
        created = await pp.generations.create(
            media_ids=[photo.media_id], post_types=["instagram-feed"]
        )
        print(f"generation {created.generation_id} started")


if __name__ == "__main__":
    asyncio.run(main())
