import asyncio
import time
from urllib.parse import urlsplit

from powerpost_async import (
    AiohttpTransport,
    PowerPost,
    Request,
    Response,
    Transport,
)


class TimingTransport:
    """Wraps another transport; records each request's status and duration."""

    def __init__(self, inner: Transport) -> None:
        self._inner = inner
        self.timings: list[tuple[str, int | None, float]] = []

    @property
    def connection_limit(self) -> int:
        # Optional: get_many() sizes its concurrency on it (else 100).
        limit = getattr(self._inner, "connection_limit", 100)
        return limit if isinstance(limit, int) else 100

    async def send(self, request: Request) -> Response:
        started = time.perf_counter()
        status: int | None = None  # stays None if no response came back
        try:
            response = await self._inner.send(request)
            status = response.status_code
            return response
        finally:
            what = f"{request.method} {urlsplit(request.url).path}"
            elapsed = time.perf_counter() - started
            self.timings.append((what, status, elapsed))

    async def aclose(self) -> None:
        await self._inner.aclose()


async def main() -> None:
    transport = TimingTransport(AiohttpTransport())
    async with PowerPost(transport=transport) as pp:
        await pp.account.credits()
        await pp.generations.list(limit=5)
    for what, status, seconds in transport.timings:
        print(f"{what} -> {status} in {seconds * 1000:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
