"""The API key stays secret: in text the SDK produces, on the wire, and across TLS/redirects.

Every scenario below (401, 403, 500, 429, connection refused, timeout, dropped
connection, garbled and invalid bodies, an open circuit, a closed client, and plain
success) runs with the ``powerpost_async`` logger, aiohttp's own loggers and asyncio at
DEBUG, asyncio's debug mode on, and then every piece of text it produced is scanned for
the key: exceptions (``str``, ``repr``, the formatted traceback with its whole chain, the
attributes of every exception in the chain, their pickles), the reprs of the client,
its transport, requests and responses, every log record, and the CLI's output.

On the wire: TLS certificates are verified by default (a self-signed server is refused
before the key is sent), plain ``http://`` to anything but loopback is refused unless
``allow_insecure_http=True``, and a redirect to another host is never followed, so the
key is never forwarded there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import secrets
import socket
import ssl
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from powerpost_async import (
    AiohttpTransport,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    CircuitOpenError,
    InternalServerError,
    MalformedResponseError,
    MockTransport,
    PermissionDeniedError,
    PowerPost,
    PowerPostError,
    RateLimitError,
    Request,
    Response,
    ResponseValidationError,
)
from powerpost_async.testing import FakePowerPost, Fault

from ._tls import self_signed

KEY = "pp_live_sk_" + secrets.token_hex(16)  # unique: a hit can only be a leak
OTHER_KEY = "pp_live_sk_" + secrets.token_hex(16)
WS = "ws_secrets"
LOGGERS = (
    "powerpost_async",
    "aiohttp.client",
    "aiohttp.access",
    "aiohttp.server",
    "aiohttp.internal",
    "aiohttp.web",
    "asyncio",
)


# -- collecting every piece of text -----------------------------------------------------------


def exception_text(error: BaseException) -> str:
    """Everything an error reporter could render: str, repr, traceback, attributes, pickle."""
    parts = ["".join(traceback.format_exception(type(error), error, error.__traceback__))]
    stack: list[BaseException] = [error]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        parts += [str(current), repr(current), repr(current.args)]
        with contextlib.suppress(Exception):  # attributes of library errors, e.g. aiohttp's
            parts.append(repr(vars(current)))
        with contextlib.suppress(Exception):  # not every library error pickles
            parts.append(pickle.dumps(current).decode("latin-1"))
        stack += [e for e in (current.__cause__, current.__context__) if e is not None]
    return "\n".join(parts)


class Scan:
    """Text gathered during a test; ``check()`` fails if the key shows up in any of it."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, text: object) -> None:
        self.texts.append((where, text if isinstance(text, str) else repr(text)))

    def error(self, where: str, error: BaseException) -> None:
        self.add(where, exception_text(error))

    def client(self, pp: PowerPost) -> None:
        self.add("client", f"{pp!r} {pp} {pp.transport!r} {pp.generations!r} {pp.account!r}")

    def check(self) -> None:
        for record in self.caplog.records:
            self.add(f"log {record.name}", record.getMessage())
            self.add(f"log {record.name} (record)", repr(vars(record)))
        self.add("log text", self.caplog.text)
        assert self.texts, "nothing was scanned"
        leaks = [where for where, text in self.texts if KEY in text or OTHER_KEY in text]
        assert not leaks, f"the API key appeared in: {leaks}"


@pytest.fixture
def scan(caplog: pytest.LogCaptureFixture) -> Iterator[Scan]:
    """Everything at DEBUG, asyncio's debug mode too; scanned when the test ends."""
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    scanner = Scan(caplog)
    yield scanner
    scanner.check()


@pytest.fixture(autouse=True)
async def _asyncio_debug() -> None:
    asyncio.get_running_loop().set_debug(True)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def serving(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    *,
    host: str = "127.0.0.1",
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[str]:
    """Serve ``handler`` for every path; yields the base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, 0, ssl_context=ssl_context)
        await site.start()
        scheme = "https" if ssl_context is not None else "http"
        yield f"{scheme}://{host}:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


# -- the scenarios ------------------------------------------------------------------------------


async def expect(scan: Scan, label: str, kind: type[BaseException], call: Awaitable[Any]) -> None:
    """Await ``call``, expect ``kind``, and hand the error to the scanner."""
    with pytest.raises(kind) as info:
        await call
    scan.error(label, info.value)


@pytest.mark.parametrize("mode", ["memory", "socket"])
async def test_the_key_is_in_no_error_log_or_repr_across_scenarios(scan: Scan, mode: str) -> None:
    socket_mode = mode == "socket"
    server = FakePowerPost(keys={KEY: [WS], OTHER_KEY: ["ws_other"]}, processing=0.0)
    if socket_mode:
        await server.start()
    try:
        # A timeout long enough for the retry's backoff (up to 0.5 s) to fit within it.
        async with server.client(use_socket=socket_mode, timeout=5.0, max_retries=1) as pp:
            scan.client(pp)
            # Success first: debug logs of the happy path.
            created = await pp.generations.create(prompt="secret-free", post_types=["x-post"])
            done = await pp.generations.wait_many([created.generation_id], interval=0.05)
            scan.add("results", (created, done, await pp.generations.list()))
            scan.add("credits", await pp.account.credits())
            # 500 (retried once, then raised), for a read and for a create.
            server.faults.script(Fault.server_error(500), Fault.server_error(500), on="get")
            await expect(
                scan, "500", InternalServerError, pp.generations.get(created.generation_id)
            )
            server.faults.script(Fault.server_error(503, executed=True), on="create")
            await expect(
                scan,
                "503 create",
                InternalServerError,
                pp.generations.create(prompt="x y z", post_types=["x-post"]),
            )
            # 429 asking for longer than the client may wait.
            server.faults.script(Fault.rate_limit(3600), on="credits")
            await expect(scan, "429", RateLimitError, pp.account.credits())
        async with server.client(use_socket=socket_mode, timeout=0.2, max_retries=0) as pp:
            # Slow answers past the timeout, dropped connections, truncated bodies.
            server.faults.script(Fault.slow(1.0), on="get")
            await expect(scan, "timeout", APITimeoutError, pp.generations.get("abc"))
            # (A create: aiohttp quietly resends a GET once on a dropped reused connection.)
            server.faults.script(Fault.drop(executed=True), on="create")
            await expect(
                scan,
                "drop",
                APIConnectionError,
                pp.generations.create(prompt="x y z", post_types=["x-post"]),
            )
            server.faults.script(Fault.malformed(), on="credits")
            await expect(scan, "malformed", MalformedResponseError, pp.account.credits())
            # 503s until the circuit opens (the failures above count towards it too).
            server.faults.random(Fault.server_error(503), 1.0, on="get")
            for _ in range(11):
                with pytest.raises((InternalServerError, CircuitOpenError)) as failed:
                    await pp.generations.get("abc")
                scan.error("503 or circuit", failed.value)
            assert isinstance(failed.value, CircuitOpenError)
            server.faults.clear()
        await expect(scan, "closed", PowerPostError, pp.account.credits())
        # 401: the server does not know this key; 403: not this key's workspace.
        async with server.client(
            api_key="pp_live_sk_" + secrets.token_hex(8), use_socket=socket_mode
        ) as pp:
            await expect(scan, "401", AuthenticationError, pp.account.credits())
        async with server.client(workspace_id="ws_other", use_socket=socket_mode) as pp:
            scan.client(pp)
            await expect(scan, "403", PermissionDeniedError, pp.generations.list())
        if socket_mode:
            # The slow answer above is still held back server-side: let it end first.
            await asyncio.sleep(1.1)
    finally:
        await server.aclose()


async def test_connection_refused_names_the_host_but_not_the_key(scan: Scan) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    async with PowerPost(KEY, WS, base_url=base, max_retries=0) as pp:
        await expect(scan, "refused", APIConnectionError, pp.account.credits())
        await expect(
            scan,
            "refused create",
            APIConnectionError,
            pp.generations.create(prompt="hello", post_types=["x-post"]),
        )


@pytest.mark.parametrize(
    "body",
    [
        b'{"balance": "47"}',
        b'{"balance": 4',
        b"<html>oops</html>",
        b"",
        b'{"balance": 47, "echo": "x-api-key"}',
    ],
    ids=["wrong-type", "truncated", "html", "empty", "header-name"],
)
async def test_validation_errors_carry_the_body_not_the_request(scan: Scan, body: bytes) -> None:
    transport = MockTransport(lambda request: Response(200, content=body))
    async with PowerPost(KEY, WS, transport=transport, max_retries=0) as pp:
        scan.client(pp)
        try:
            credits = await pp.account.credits()
        except ResponseValidationError as error:
            scan.error("validation", error)
        else:
            scan.add("credits", credits)
        for request in transport.requests:
            scan.add("request", request)
            scan.add("request str", str(request))
        scan.add("response", Response(200, content=body))


async def test_a_key_is_redacted_even_in_the_authorization_header(scan: Scan) -> None:
    """A transport's request repr hides both spellings of the key (x-api-key, Bearer)."""
    request = Request(
        "GET",
        "https://powerpost.ai/api/v1/account/credits",
        {"x-api-key": KEY, "Authorization": f"Bearer {KEY}", "X-Workspace-Id": WS},
    )
    scan.add("request repr", repr(request))
    scan.add("request str", str(request))
    assert "<redacted>" in repr(request)
    assert WS in repr(request)


# -- the CLI ------------------------------------------------------------------------------------


@pytest.fixture
def cli_main() -> Callable[[list[str]], int]:
    cli = pytest.importorskip("powerpost_async.cli")
    main: Callable[[list[str]], int] = cli.main
    return main


async def test_the_cli_never_prints_the_key(
    scan: Scan,
    cli_main: Callable[[list[str]], int],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Success and every kind of failure, with the key as a flag and from the environment."""
    monkeypatch.delenv("POWERPOST_DEBUG", raising=False)

    async def run(*argv: str) -> int:
        code = await asyncio.to_thread(cli_main, list(argv))
        out, err = capsys.readouterr()
        scan.add(f"cli {argv[-2:]} stdout", out)
        scan.add(f"cli {argv[-2:]} stderr", err)
        return code

    async with FakePowerPost(keys={KEY: [WS]}, processing=0.0) as server:
        (generation_id,) = server.seed_generations(1, status="completed")
        flags = ["--api-key", KEY, "--workspace-id", WS, "--base-url", server.base_url]
        for ui in ("plain", "rich"):
            assert await run(*flags, "--ui", ui, "credits") == 0
            assert await run(*flags, "--ui", ui, "generations", "list") == 0
            assert await run(*flags, "--ui", ui, "generations", "get", generation_id) == 0
            assert await run(*flags, "--ui", ui, "generations", "get", generation_id, "--json") == 0
        code = await run(
            *flags, "generations", "create", "--prompt", "hello", "--post-type", "x-post", "--wait"
        )
        assert code == 0
        # Three of each: the first try and the CLI client's two retries.
        server.faults.script(*[Fault.server_error(500)] * 3, on="get")
        assert await run(*flags, "generations", "get", generation_id) == 3
        server.faults.script(*[Fault.malformed()] * 3, on="credits")
        assert await run(*flags, "credits") == 3
        assert await run(*flags, "generations", "get", "no-such-id") == 3
        # 401 and 403, with the key from the environment this time.
        monkeypatch.setenv("POWERPOST_API_KEY", OTHER_KEY)
        base = ["--base-url", server.base_url, "--workspace-id", WS]
        assert await run(*base, "credits") == 3
        monkeypatch.setenv("POWERPOST_API_KEY", KEY)
        assert await run("--base-url", server.base_url, "--workspace-id", "ws_nope", "sweep") == 3
    refused = f"http://127.0.0.1:{free_port()}"
    assert await run("--api-key", KEY, "--workspace-id", WS, "--base-url", refused, "credits") == 3
    insecure = "http://api.example.com"
    assert await run("--api-key", KEY, "--base-url", insecure, "credits") == 2


# -- TLS ----------------------------------------------------------------------------------------


async def test_tls_certificates_are_verified_by_default(scan: Scan, tmp_path: Path) -> None:
    server_context, trusting = self_signed(tmp_path)
    received: list[str | None] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        received.append(request.headers.get("x-api-key"))
        return web.json_response({"balance": 47})

    async with serving(handler, ssl_context=server_context) as base:
        # The default transport: the self-signed certificate is refused, nothing is sent.
        async with PowerPost(KEY, WS, base_url=base, max_retries=0) as pp:
            with pytest.raises(APIConnectionError) as info:
                await pp.account.credits()
        error = info.value
        scan.error("tls", error)
        assert "certificate" in str(error).lower()
        assert error.request_sent is False
        assert received == []
        # A session that trusts this certificate gets through: verification was the reason.
        connector = aiohttp.TCPConnector(ssl=trusting)
        async with aiohttp.ClientSession(connector=connector) as session:
            transport = AiohttpTransport(session)
            async with PowerPost(KEY, WS, base_url=base, transport=transport) as pp:
                assert (await pp.account.credits()).balance == 47
    assert received == [KEY]  # over verified TLS only


# -- plain HTTP ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "http://api.example.com",
        "HTTP://POWERPOST.AI",
        "http://powerpost.ai:443",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
        "http://0.0.0.0:8080",
        "http://192.168.1.10",
        "http://[2001:db8::1]:8080",
    ],
)
def test_plain_http_to_a_non_loopback_host_is_refused(
    base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="clear text"):
        PowerPost(KEY, base_url=base_url)
    monkeypatch.setenv("POWERPOST_BASE_URL", base_url)
    with pytest.raises(ValueError, match="clear text"):
        PowerPost(KEY)  # from the environment: refused the same way
    assert PowerPost(KEY, base_url=base_url, allow_insecure_http=True).base_url


# -- redirects ----------------------------------------------------------------------------------


def other_host() -> str:
    """Another loopback address if this system has one (Linux does), for a distinct host."""
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.2", 0))
    except OSError:
        return "localhost"
    return "127.0.0.2"


CALLS: dict[str, Callable[[PowerPost], Awaitable[object]]] = {
    "get": lambda pp: pp.generations.get("abc"),
    "list": lambda pp: pp.generations.list(),
    "create": lambda pp: pp.generations.create(prompt="hello", post_types=["x-post"]),
    "credits": lambda pp: pp.account.credits(),
}


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("call", list(CALLS))
async def test_a_redirect_to_another_host_is_not_followed(
    scan: Scan, status: int, call: str
) -> None:
    elsewhere: list[dict[str, str]] = []

    async def thief(request: web.Request) -> web.StreamResponse:
        elsewhere.append(dict(request.headers))
        return web.json_response({"balance": 1})

    api: list[str] = []

    async with serving(thief, host=other_host()) as stolen:

        async def redirecting(request: web.Request) -> web.StreamResponse:
            api.append(request.path)
            return web.Response(status=status, headers={"Location": f"{stolen}/collect"})

        async with (
            serving(redirecting) as base,
            PowerPost(KEY, WS, base_url=base, max_retries=2) as pp,
        ):
            with pytest.raises(APIStatusError) as info:
                await CALLS[call](pp)
    scan.error("redirect", info.value)
    assert info.value.status_code == status
    assert len(api) == 1  # a 3xx is not retried either
    assert elsewhere == []  # the key never reached the other host


async def test_errors_are_api_errors_with_the_key_nowhere_in_the_chain(scan: Scan) -> None:
    """The aiohttp errors underneath, chained with ``raise ... from``, carry no key either."""

    async def hang_up(request: web.Request) -> web.StreamResponse:
        await request.read()
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    async with serving(hang_up) as base, PowerPost(KEY, WS, base_url=base, max_retries=0) as pp:
        with pytest.raises(APIError) as info:
            await pp.generations.create(prompt="hello", post_types=["x-post"])
    error = info.value
    assert isinstance(error, APIConnectionError)
    assert error.__cause__ is not None  # the library error is kept, as the cause
    scan.error("hang up", error)


def test_the_scan_would_find_a_leak(caplog: pytest.LogCaptureFixture) -> None:
    """The scanner itself: a key planted in a log record or an error's cause is found."""
    caplog.set_level(logging.DEBUG)
    logging.getLogger("aiohttp.client").debug("headers: %s", {"x-api-key": KEY})
    planted = Scan(caplog)
    with pytest.raises(AssertionError, match=r"log aiohttp\.client"):
        planted.check()
    caplog.clear()
    cause = Scan(caplog)
    try:
        try:
            raise OSError(f"reset by peer while sending {KEY}")
        except OSError as exc:
            raise APIConnectionError("connection reset") from exc
    except APIConnectionError as error:
        cause.error("chained", error)
    with pytest.raises(AssertionError, match="chained"):
        cause.check()
