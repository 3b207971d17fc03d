import asyncio
import sys
from collections.abc import AsyncIterator

from powerpost_async import PowerPost


async def stdin_chunks() -> AsyncIterator[bytes]:
    """The bytes piped into this program, 256 KiB at a time."""
    loop = asyncio.get_running_loop()
    while chunk := await loop.run_in_executor(
        None, sys.stdin.buffer.read, 256 * 1024
    ):
        yield chunk


async def main() -> None:
    async with PowerPost() as pp:
        # An async iterator is read once: its format is sniffed from its first
        # bytes, its size counted as it streams (sent chunked), and the upload
        # is stopped before it passes the type's limit. It is never retried
        # once read: if the upload fails, produce the bytes again.
        video = await pp.media.upload(
            stdin_chunks(), file_name="clip.mp4", timeout=600
        )
        print(f"{video.media_id}: {video.type}, {video.file_size} bytes")


if __name__ == "__main__":
    asyncio.run(main())
