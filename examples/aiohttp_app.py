"""aiohttp.web + powerpost-async: one client per app, sharing the app's own session.

Why it is shaped like this:

* **One client per app, created in a cleanup context, never at import time.** A
  :class:`~powerpost_async.PowerPost` owns (or, here, borrows) a connection pool, and a
  pool belongs to the event loop it first ran in. ``cleanup_ctx`` generators run inside
  the app's loop at startup, and again, after ``yield``, at cleanup: the client is born
  in the right loop and closed before that loop stops. No "Unclosed client session", no
  "Event loop is closed" at shutdown, and no client reused across loops (the SDK raises a
  ``PowerPostError`` saying so if one is).
* **One** :class:`aiohttp.ClientSession` **for every outgoing call.** The app already has
  a session for its own outgoing requests; the SDK rides on it through
  ``AiohttpTransport(session=...)``, so there is one connection pool to size and watch.
  The session is *borrowed*: the SDK never closes it. Cleanup contexts unwind in reverse
  order, so the client is closed first and the session after it.
* **Never a client per request.** Each would open its own pool (a TCP and TLS handshake
  per call, sockets leaking whenever one is not closed), and waits on different clients
  cannot share the polling that lets a hundred waits on one client cost a few requests.
* **Typed app keys** (:data:`POWERPOST`, :data:`HTTP_SESSION`): ``request.app[POWERPOST]``
  is a ``PowerPost`` to mypy, and aiohttp does not warn about string keys.

Run it against the fake API that ships with the SDK::

    powerpost serve-fake                       # terminal 1: serves http://127.0.0.1:8765
    python -m examples.aiohttp_app --fake      # terminal 2: http://127.0.0.1:8080/captions

or against the real API, configured from ``POWERPOST_API_KEY``,
``POWERPOST_WORKSPACE_ID`` (and ``POWERPOST_BASE_URL``)::

    python -m examples.aiohttp_app
"""

import argparse
import logging
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

from powerpost_async import (
    AiohttpTransport,
    APIError,
    APIStatusError,
    CircuitOpenError,
    GenerationFailedError,
    GenerationStatus,
    NotFoundError,
    PowerPost,
    PowerPostError,
    RateLimitError,
    WaitTimeoutError,
    to_json,
)
from powerpost_async.webhooks import (
    InvalidWebhookError,
    Verifier,
    WebhookVerificationError,
    parse_webhook,
)

__all__ = [
    "HTTP_SESSION",
    "POWERPOST",
    "SETTINGS",
    "Settings",
    "create_app",
    "http_session",
    "main",
    "powerpost_client",
    "powerpost_errors",
]

logger = logging.getLogger(__name__)

#: Seconds ``POST /captions/sync`` waits for the captions before answering 504.
DEFAULT_WAIT_TIMEOUT = 30.0
#: The longest wait a caller may ask for: an HTTP request should not hang for minutes.
MAX_WAIT_TIMEOUT = 120.0

_STATUSES = frozenset(status.value for status in GenerationStatus)

#: What ``powerpost serve-fake`` serves: its built-in test key, not a secret.
FAKE_BASE_URL = "http://127.0.0.1:8765"
FAKE_API_KEY = "pp_live_sk_test"
FAKE_WORKSPACE_ID = "ws_test"


@dataclass(frozen=True)
class Settings:
    """What the app is configured with."""

    client_options: Mapping[str, Any] = field(default_factory=dict)
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT
    webhook_verify: Verifier | None = None


SETTINGS = web.AppKey("settings", Settings)
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)
POWERPOST = web.AppKey("powerpost", PowerPost)


def create_app(
    *,
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
    webhook_verify: Verifier | None = None,
    **client_kwargs: Any,
) -> web.Application:
    """Build the app. No client or session is made here: cleanup contexts make them.

    Args:
        wait_timeout: Default seconds ``POST /captions/sync`` waits before answering 504.
        webhook_verify: Checks each webhook request (see :func:`parse_webhook`).
            ``None`` accepts webhooks unverified: **verification is yours to add** until
            PowerPost publishes its signing scheme. Until then, keep the webhook URL
            secret (e.g. a random path segment) or check a header your proxy adds.
        client_kwargs: Passed to :class:`~powerpost_async.PowerPost` (``api_key``,
            ``workspace_id``, ``base_url``, ...), all but ``transport``: this app's
            transport is its own session. Left out, the client reads
            ``POWERPOST_API_KEY``, ``POWERPOST_WORKSPACE_ID`` and ``POWERPOST_BASE_URL``.
    """
    if "transport" in client_kwargs:
        raise TypeError("this app's transport is its own ClientSession; do not pass one")
    if not 0 < wait_timeout <= MAX_WAIT_TIMEOUT:
        raise ValueError(f"wait_timeout must be in (0, {MAX_WAIT_TIMEOUT}], got {wait_timeout}")
    app = web.Application(middlewares=[powerpost_errors])
    app[SETTINGS] = Settings(
        client_options=dict(client_kwargs), wait_timeout=wait_timeout, webhook_verify=webhook_verify
    )
    # Order matters: startup runs these in order, cleanup in reverse. The client is
    # closed before the session it borrows.
    app.cleanup_ctx.append(http_session)
    app.cleanup_ctx.append(powerpost_client)
    app.add_routes(routes)
    return app


async def http_session(app: web.Application) -> AsyncIterator[None]:
    """The app's one :class:`aiohttp.ClientSession`, for all its outgoing calls."""
    async with aiohttp.ClientSession() as session:
        app[HTTP_SESSION] = session
        yield


async def powerpost_client(app: web.Application) -> AsyncIterator[None]:
    """The app's one PowerPost client, on the app's session (borrowed, never closed)."""
    settings = app[SETTINGS]
    transport = AiohttpTransport(session=app[HTTP_SESSION])
    # A bad setting (no key) fails startup here, loudly, not the first request.
    async with PowerPost(transport=transport, **settings.client_options) as pp:
        app[POWERPOST] = pp
        yield


# -- routes --------------------------------------------------------------------------------

routes = web.RouteTableDef()


@routes.post("/captions")
async def create_caption(request: web.Request) -> web.Response:
    """Start a generation and answer at once (202); it takes seconds to minutes."""
    pp = request.app[POWERPOST]
    prompt, post_types = _caption_request(await request.json())
    created = await pp.generations.create(prompt=prompt, post_types=post_types)
    location = request.app.router["get_caption"].url_for(generation_id=created.generation_id)
    return _json(created, status=202, headers={"Location": str(location)})


@routes.post("/captions/sync")
async def create_caption_and_wait(request: web.Request) -> web.Response:
    """Start a generation and answer with its captions (504 if it takes too long).

    The wait polls with backoff; a webhook fed to this same client (``POST
    /webhooks/powerpost``) ends it at once. Many concurrent waits on one client share
    one sweep of list requests instead of one poll each: one more reason for one client.
    """
    pp = request.app[POWERPOST]
    settings = request.app[SETTINGS]
    timeout = _timeout(request.query.get("timeout"))
    prompt, post_types = _caption_request(await request.json())
    created = await pp.generations.create(prompt=prompt, post_types=post_types)
    generation = await pp.generations.wait(created, timeout=timeout or settings.wait_timeout)
    return _json(generation)


@routes.get("/captions/{generation_id}", name="get_caption")
async def get_caption(request: web.Request) -> web.Response:
    """One generation: its status, and its captions once completed."""
    pp = request.app[POWERPOST]
    generation = await pp.generations.get(request.match_info["generation_id"])
    return _json(generation)


@routes.get("/captions")
async def list_captions(request: web.Request) -> web.Response:
    """One page of generations, newest first; follow ``next_cursor`` for more."""
    pp = request.app[POWERPOST]
    query = request.query
    # The cursor goes as given: the SDK checks it (ValueError -> 422) before sending.
    page = await pp.generations.list(
        status=_status(query.get("status")),
        limit=_limit(query.get("limit")),
        cursor=query.get("cursor"),
    )
    return _json(page)


@routes.post("/webhooks/powerpost")
async def powerpost_webhook(request: web.Request) -> web.Response:
    """Receive PowerPost's webhook: pending ``/captions/sync`` waits for it end now."""
    pp = request.app[POWERPOST]
    verify = request.app[SETTINGS].webhook_verify
    # The raw bytes as sent: a signature is computed over them, not over re-encoded JSON.
    body = await request.read()
    # !!! With webhook_verify=None (the default) ANYONE who finds this URL can post
    # !!! events. PowerPost signs webhooks, but has not published how: verifying them
    # !!! is YOUR job (create_app(webhook_verify=...)) until it does.
    event = parse_webhook(body, headers=request.headers, verify=verify)
    # The event is only a hint: feed() re-reads the generation from the API (one GET,
    # and only when a wait on this client awaits that id), so a forged event cannot
    # inject captions, and the answer stays quick. With several processes, the wait may
    # live in another one: feed() is then a no-op here and polling finishes it there.
    await pp.generations.feed(event)
    return web.Response(status=204)


# -- reading requests, writing answers -----------------------------------------------------


def _caption_request(data: object) -> tuple[str | None, list[str]]:
    """``prompt`` and ``post_types`` from a JSON body; ``ValueError`` (422) if misshapen.

    Only the shape is checked here; the values are the SDK's to check.
    """
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object with prompt and post_types")
    prompt = data.get("prompt")
    post_types = data.get("post_types")
    if prompt is not None and not isinstance(prompt, str):
        raise ValueError("prompt must be a string")
    if not isinstance(post_types, list) or not all(isinstance(t, str) for t in post_types):
        raise ValueError("post_types must be a list of strings")
    return prompt, post_types


def _status(text: str | None) -> GenerationStatus | None:
    """A ``status`` query parameter, checked against the statuses the SDK knows."""
    # Checked before GenerationStatus(text): that enum keeps any unknown value it is
    # given (forward compatibility with API responses), which callers' input must not feed.
    if text is None:
        return None
    if text not in _STATUSES:
        raise ValueError(f"status must be one of {', '.join(sorted(_STATUSES))}, got {text!r}")
    return GenerationStatus(text)


def _timeout(text: str | None) -> float | None:
    """The ``timeout`` query parameter: seconds in (0, MAX_WAIT_TIMEOUT]."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_WAIT_TIMEOUT:  # also refuses nan
        raise ValueError(f"timeout must be a number in (0, {MAX_WAIT_TIMEOUT}], got {text!r}")
    return value


def _limit(text: str | None) -> int | None:
    """The ``limit`` query parameter: 1..100 items per page."""
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise ValueError(f"limit must be an integer from 1 to 100, got {text!r}")
    return value


def _json(model: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """An SDK model as the API's own JSON (``to_dict``): what the FastAPI example answers."""
    return web.Response(
        text=to_json(model), status=status, headers=headers, content_type="application/json"
    )


# -- errors --------------------------------------------------------------------------------


@web.middleware
async def powerpost_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn an SDK error into an answer for *our* caller.

    PowerPost's own status is not passed through: a 401 from PowerPost means our key is
    wrong, which is our fault (502), not the caller's. Bodies carry PowerPost's error
    code and request id (quote it to their support), never the key or request headers.
    """
    try:
        return await handler(request)
    except WebhookVerificationError:
        return _error(401, "webhook rejected")
    except InvalidWebhookError as exc:
        return _error(400, str(exc))  # describes the body the caller sent, nothing more
    except NotFoundError:
        return _error(404, "no such caption generation")
    except (RateLimitError, CircuitOpenError) as exc:
        # Shed load with a hint rather than queueing callers behind PowerPost's limit.
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after or 1)))}
        return _error(503, "PowerPost is busy, try again later", headers=headers)
    except WaitTimeoutError as exc:
        # Not a failure: the generation goes on. Say where to look for it later.
        pending = exc.generation.generation_id if exc.generation else None
        pending = pending or next(iter(exc.pending_ids), None)
        return _error(504, "the captions are not ready yet", generation_id=pending)
    except GenerationFailedError as exc:
        failed = exc.generation
        code = failed.error.code if failed.error else None
        return _error(502, "the generation failed", code=code, generation_id=failed.generation_id)
    except APIStatusError as exc:
        logger.error("PowerPost API error: %s", exc)
        return _error(502, "PowerPost API error", code=exc.code, request_id=exc.request_id)
    except APIError as exc:
        logger.error("PowerPost API unreachable: %s", exc)
        return _error(502, "PowerPost API unreachable")
    except PowerPostError:
        # A misconfiguration (no workspace, a closed client): ours to fix, not theirs.
        logger.exception("PowerPost client misused")
        return _error(500, "internal error")
    except ValueError as exc:
        # Our shape checks, a non-JSON body, and the SDK's argument checks (run before
        # anything is sent): each message describes the caller's own input.
        return _error(422, str(exc))


def _error(
    status: int, detail: str, *, headers: dict[str, str] | None = None, **extra: str | None
) -> web.Response:
    return web.json_response({"detail": detail, **extra}, status=status, headers=headers)


# -- running it ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the app (``python -m examples.aiohttp_app --help``)."""
    parser = argparse.ArgumentParser(description="Serve the aiohttp.web example.")
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    parser.add_argument(
        "--fake",
        nargs="?",
        const=FAKE_BASE_URL,
        metavar="URL",
        help=f"use `powerpost serve-fake` (at URL, default {FAKE_BASE_URL}) instead of "
        "the API configured by the POWERPOST_* environment variables",
    )
    args = parser.parse_args(argv)
    if args.fake:
        app = create_app(base_url=args.fake, api_key=FAKE_API_KEY, workspace_id=FAKE_WORKSPACE_ID)
    else:
        app = create_app()
    # run_app makes the loop, runs the cleanup contexts in it, and unwinds them on
    # Ctrl-C or SIGTERM: the client and the session close before the loop does.
    web.run_app(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
