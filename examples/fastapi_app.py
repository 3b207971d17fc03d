"""FastAPI + powerpost-async: one client per app, opened and closed in the lifespan.

Why it is shaped like this:

* **One client per app, created in the lifespan, never at import time.** A
  :class:`~powerpost_async.PowerPost` owns a connection pool, and a pool belongs to the
  event loop it first ran in. A client made at import (``pp = PowerPost()`` at module
  level) is shared by every loop that later uses the module: uvicorn's, each test's, a
  worker's ``asyncio.run``. The second loop gets a ``PowerPostError`` telling it so (with
  bare aiohttp it would be "attached to a different loop", a hang, or "Event loop is
  closed"). The lifespan runs inside the server's loop, so the client is born there.
* **Closed in the lifespan too**, by ``async with``: the pool is closed while its loop
  still runs, so there is no "Unclosed client session" and no "Event loop is closed" at
  shutdown.
* **Never a client per request.** Each would open its own pool (a TCP and TLS handshake
  per call, sockets leaking whenever one is not closed), and waits on different clients
  cannot share the polling that lets a hundred waits on one client cost a few requests.
* **Routes get the client through a dependency** (:data:`PowerPostDep`), not a global:
  explicit, and replaceable in tests with ``app.dependency_overrides``.

Run it against the fake API that ships with the SDK::

    powerpost serve-fake                       # terminal 1: serves http://127.0.0.1:8765
    python -m examples.fastapi_app --fake      # terminal 2: open http://127.0.0.1:8000/docs

or against the real API, configured from ``POWERPOST_API_KEY``,
``POWERPOST_WORKSPACE_ID`` (and ``POWERPOST_BASE_URL``)::

    uvicorn examples.fastapi_app:create_app --factory
"""

import argparse
import logging
import math
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from powerpost_async import (
    APIError,
    APIStatusError,
    CircuitOpenError,
    GenerationFailedError,
    NotFoundError,
    PowerPost,
    PowerPostError,
    RateLimitError,
    WaitTimeoutError,
    to_dict,
)
from powerpost_async.webhooks import (
    InvalidWebhookError,
    Verifier,
    WebhookVerificationError,
    parse_webhook,
)

__all__ = [
    "PowerPostDep",
    "Settings",
    "SettingsDep",
    "create_app",
    "get_powerpost",
    "get_settings",
    "main",
]

logger = logging.getLogger(__name__)

#: Seconds ``POST /captions/sync`` waits for the captions before answering 504.
DEFAULT_WAIT_TIMEOUT = 30.0
#: The longest wait a caller may ask for: an HTTP request should not hang for minutes.
MAX_WAIT_TIMEOUT = 120.0

#: What ``powerpost serve-fake`` serves: its built-in test key, not a secret.
FAKE_BASE_URL = "http://127.0.0.1:8765"
FAKE_API_KEY = "pp_live_sk_test"
FAKE_WORKSPACE_ID = "ws_test"


@dataclass(frozen=True)
class Settings:
    """What the app is configured with, besides the client's own settings."""

    wait_timeout: float = DEFAULT_WAIT_TIMEOUT
    webhook_verify: Verifier | None = None


def create_app(
    *,
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
    webhook_verify: Verifier | None = None,
    redis_url: str | None = None,
    **client_kwargs: Any,
) -> FastAPI:
    """Build the app. No client is made here: the lifespan makes it, in the server's loop.

    Args:
        wait_timeout: Default seconds ``POST /captions/sync`` waits before answering 504.
        webhook_verify: Checks each webhook request (see :func:`parse_webhook`).
            ``None`` accepts webhooks unverified: **verification is yours to add** until
            PowerPost publishes its signing scheme. Until then, keep the webhook URL
            secret (e.g. a random path segment) or check a header your proxy adds.
        redis_url: Fleet mode: the worker processes of the service (``uvicorn
            --workers 8``, replicas) share one sweeper, webhooks and 429 pauses through
            this Redis (``pip install 'powerpost-async[redis]'``). Left out, read from
            ``POWERPOST_REDIS_URL``; unset there too, each worker waits on its own.
        client_kwargs: Passed to :class:`~powerpost_async.PowerPost` (``api_key``,
            ``workspace_id``, ``base_url``, ``transport``, ...). Left out, the client
            reads ``POWERPOST_API_KEY``, ``POWERPOST_WORKSPACE_ID`` and
            ``POWERPOST_BASE_URL`` from the environment.
    """
    if not 0 < wait_timeout <= MAX_WAIT_TIMEOUT:
        raise ValueError(f"wait_timeout must be in (0, {MAX_WAIT_TIMEOUT}], got {wait_timeout}")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Born inside the running server loop, closed before that loop stops: the one
        # place where both are guaranteed. A bad setting (no key) fails startup here,
        # loudly, instead of failing the first request.
        kwargs = dict(client_kwargs)
        url = redis_url if redis_url is not None else os.environ.get("POWERPOST_REDIS_URL")
        if url:
            # One coordinator per client, made here with it: each worker process runs
            # its own lifespan, and all of them meet in Redis.
            from powerpost_async.redis import RedisCoordinator

            kwargs["coordinator"] = RedisCoordinator(url)
        async with PowerPost(**kwargs) as pp:
            app.state.powerpost = pp
            yield

    app = FastAPI(title="Captions (powerpost-async example)", lifespan=lifespan)
    app.state.settings = Settings(wait_timeout=wait_timeout, webhook_verify=webhook_verify)
    app.include_router(router)
    # PowerPostError and ValueError share one handler: InvalidWebhookError is both, and
    # Starlette picks the handler of the first class in the exception's MRO.
    app.add_exception_handler(PowerPostError, powerpost_error_handler)
    app.add_exception_handler(ValueError, powerpost_error_handler)
    return app


# -- dependencies --------------------------------------------------------------------------
# ``async def`` on purpose: FastAPI calls a plain ``def`` dependency in a worker thread,
# a needless thread hop to read an attribute.


async def get_powerpost(request: Request) -> PowerPost:
    """The app's one client, made by its lifespan."""
    pp: PowerPost | None = getattr(request.app.state, "powerpost", None)
    if pp is None:
        raise RuntimeError(
            "no PowerPost client: the app's lifespan has not run (in tests, enter it: "
            "`with TestClient(app)`, or `async with app.router.lifespan_context(app)`)"
        )
    return pp


async def get_settings(request: Request) -> Settings:
    """The app's :class:`Settings`."""
    settings: Settings = request.app.state.settings
    return settings


PowerPostDep = Annotated[PowerPost, Depends(get_powerpost)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


# -- what goes over the wire ---------------------------------------------------------------
# In: our own request model (validated, shown in /docs). Out: the SDK's models as the
# API's own JSON (``to_dict``: field names as PowerPost sends them, datetimes with ``Z``),
# byte for byte what the aiohttp example answers: no mirror models to keep in step.


class CaptionRequest(BaseModel):
    """What to write captions about, and for which post types."""

    prompt: str | None = Field(default=None, examples=["We just shipped dark mode"])
    post_types: list[str] = Field(examples=[["x-post", "linkedin-post"]])


# -- routes --------------------------------------------------------------------------------

router = APIRouter()


@router.post("/captions", status_code=202)
async def create_caption(body: CaptionRequest, pp: PowerPostDep, request: Request) -> JSONResponse:
    """Start a generation and answer at once (202); it takes seconds to minutes."""
    created = await pp.generations.create(prompt=body.prompt, post_types=body.post_types)
    location = str(request.url_for("get_caption", generation_id=created.generation_id))
    return JSONResponse(to_dict(created), status_code=202, headers={"Location": location})


@router.post("/captions/sync")
async def create_caption_and_wait(
    body: CaptionRequest,
    pp: PowerPostDep,
    settings: SettingsDep,
    timeout: Annotated[
        float | None,
        Query(gt=0, le=MAX_WAIT_TIMEOUT, description="Seconds to wait before a 504"),
    ] = None,
) -> JSONResponse:
    """Start a generation and answer with its captions (504 if it takes too long).

    The wait polls with backoff; a webhook fed to this same client (``POST
    /webhooks/powerpost``) ends it at once. Many concurrent waits on one client share
    one sweep of list requests instead of one poll each: one more reason for one client.
    """
    created = await pp.generations.create(prompt=body.prompt, post_types=body.post_types)
    generation = await pp.generations.wait(created, timeout=timeout or settings.wait_timeout)
    return JSONResponse(to_dict(generation))


@router.get("/captions/{generation_id}")
async def get_caption(generation_id: str, pp: PowerPostDep) -> JSONResponse:
    """One generation: its status, and its captions once completed."""
    return JSONResponse(to_dict(await pp.generations.get(generation_id)))


@router.get("/captions")
async def list_captions(
    pp: PowerPostDep,
    # A Literal, not GenerationStatus: that enum keeps any unknown value it is given
    # (forward compatibility with API responses), which callers' input must not feed.
    status: Literal["pending", "processing", "completed", "failed"] | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: str | None = None,
) -> JSONResponse:
    """One page of generations, newest first; follow ``next_cursor`` for more."""
    page = await pp.generations.list(status=status, limit=limit, cursor=cursor)
    return JSONResponse(to_dict(page))


@router.post("/webhooks/powerpost", status_code=204)
async def powerpost_webhook(request: Request, pp: PowerPostDep, settings: SettingsDep) -> Response:
    """Receive PowerPost's webhook: pending ``/captions/sync`` waits for it end now."""
    # The raw bytes as sent: a signature is computed over them, not over re-encoded JSON.
    body = await request.body()
    # !!! With webhook_verify=None (the default) ANYONE who finds this URL can post
    # !!! events. PowerPost signs webhooks, but has not published how: verifying them
    # !!! is YOUR job (create_app(webhook_verify=...)) until it does.
    event = parse_webhook(body, headers=request.headers, verify=settings.webhook_verify)
    # The event is only a hint: feed() re-reads the generation from the API (one GET,
    # and only when a wait on this client awaits that id), so a forged event cannot
    # inject captions, and the answer stays quick (feed gives up after 5 s). With several
    # workers, the wait may live in another process: without a coordinator, feed() is
    # then a no-op here and polling finishes it there; with one (fleet mode), the hint
    # is passed on to the process that sweeps for the fleet.
    await pp.generations.feed(event)
    return Response(status_code=204)


# -- errors --------------------------------------------------------------------------------


async def powerpost_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Turn an SDK error into an answer for *our* caller.

    PowerPost's own status is not passed through: a 401 from PowerPost means our key is
    wrong, which is our fault (502), not the caller's. Bodies carry PowerPost's error
    code and request id (quote it to their support), never the key or request headers.
    """
    if isinstance(exc, WebhookVerificationError):
        return _error(401, "webhook rejected")
    if isinstance(exc, InvalidWebhookError):
        return _error(400, str(exc))  # describes the body the caller sent, nothing more
    if isinstance(exc, NotFoundError):
        return _error(404, "no such caption generation")
    if isinstance(exc, (RateLimitError, CircuitOpenError)):
        # Shed load with a hint rather than queueing callers behind PowerPost's limit.
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after or 1)))}
        return _error(503, "PowerPost is busy, try again later", headers=headers)
    if isinstance(exc, WaitTimeoutError):
        # Not a failure: the generation goes on. Say where to look for it later.
        pending = exc.generation.generation_id if exc.generation else None
        pending = pending or next(iter(exc.pending_ids), None)
        return _error(504, "the captions are not ready yet", generation_id=pending)
    if isinstance(exc, GenerationFailedError):
        failed = exc.generation
        code = failed.error.code if failed.error else None
        return _error(502, "the generation failed", code=code, generation_id=failed.generation_id)
    if isinstance(exc, APIStatusError):
        logger.error("PowerPost API error: %s", exc)
        return _error(502, "PowerPost API error", code=exc.code, request_id=exc.request_id)
    if isinstance(exc, APIError):
        logger.error("PowerPost API unreachable: %s", exc)
        return _error(502, "PowerPost API unreachable")
    if isinstance(exc, PowerPostError):
        # A misconfiguration (no workspace, a closed client): ours to fix, not theirs.
        logger.error("PowerPost client misused: %s", exc, exc_info=exc)
        return _error(500, "internal error")
    # The SDK checks arguments before sending anything and raises ValueError naming the
    # faulty one: the message describes the caller's own input.
    return _error(422, str(exc))


def _error(
    status: int, detail: str, *, headers: dict[str, str] | None = None, **extra: str | None
) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=headers)


# -- running it ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the app with uvicorn (``python -m examples.fastapi_app --help``)."""
    parser = argparse.ArgumentParser(description="Serve the FastAPI example with uvicorn.")
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--fake",
        nargs="?",
        const=FAKE_BASE_URL,
        metavar="URL",
        help=f"use `powerpost serve-fake` (at URL, default {FAKE_BASE_URL}) instead of "
        "the API configured by the POWERPOST_* environment variables",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="fleet mode through this Redis (default: $POWERPOST_REDIS_URL, if set)",
    )
    args = parser.parse_args(argv)

    import uvicorn  # only the runner needs a server; importing the app does not

    if args.fake:
        app = create_app(
            redis_url=args.redis,
            base_url=args.fake,
            api_key=FAKE_API_KEY,
            workspace_id=FAKE_WORKSPACE_ID,
        )
    else:
        app = create_app(redis_url=args.redis)
    # One worker process, one loop, one client. More workers: each gets its own
    # lifespan, hence its own client, which is right; with a Redis URL they share
    # one sweeper (docs/concepts/fleet.md).
    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
