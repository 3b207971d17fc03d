"""What every command gets: the settings, where to print, and a way to get a client."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, TextIO
from urllib.parse import urlsplit

import attrs

from powerpost_async import (
    AuthenticationError,
    InsufficientCreditsError,
    InsufficientScopeError,
    PermissionDeniedError,
    PlatformNotConnectedError,
    PowerPost,
)

from ._output import UI, USAGE_ERROR, ErrorReport, emit_json, error_details

__all__ = [
    "EXIT_API",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CLIError",
    "Context",
    "Settings",
    "hints_for",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_API = 3
EXIT_INTERRUPTED = 130

_KEY_HINTS = [
    "set it in the environment:  export POWERPOST_API_KEY=pp_live_sk_...",
    "and your workspace:         export POWERPOST_WORKSPACE_ID=<your workspace id>",
    "(or pass --api-key KEY --workspace-id ID before the command)",
    "to try the CLI without an account, add --fake: powerpost --fake generations list",
]
_WORKSPACE_HINTS = [
    "set it in the environment:  export POWERPOST_WORKSPACE_ID=<your workspace id>",
    "(or pass --workspace-id ID before the command)",
    "to try the CLI without an account, add --fake: powerpost --fake generations list",
]


_INSECURE_HINTS = [
    "on a network you trust, add --allow-insecure-http before the command",
]


class CLIError(Exception):
    """A failure to report as it is: one ``error:`` line, optional hints, an exit code.

    Args:
        message: The line, for people.
        code: The exit code (default 2, a usage or configuration error).
        hints: What to do about it, a line each.
        error: The SDK error this reports, if any: its class name and fields (status,
            request id, pending ids...) then go into the JSON error too.
        details: More fields for the JSON error (e.g. ``generation_ids``).
    """

    def __init__(
        self,
        message: str,
        *,
        code: int = EXIT_USAGE,
        hints: Sequence[str] = (),
        error: BaseException | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.hints = tuple(hints)
        self.error = error
        self.details = dict(details or {})

    def report(self) -> ErrorReport:
        """As the one shape every error is printed in."""
        error = self.error
        details = {} if error is None else error_details(error)
        details.update(self.details)
        kind = USAGE_ERROR if error is None else type(error).__name__
        return ErrorReport(kind, self.message, self.hints, details)


@attrs.frozen
class Settings:
    """Where and as whom to talk to the API; flags already merged over the environment.

    Attributes:
        api_key: Never shown: left out of the repr, never printed.
        workspace_id: The workspace for ``generations`` commands.
        base_url: ``None`` for the SDK's default.
        fake: Talk to a fresh embedded fake API instead.
        http_timeout: Seconds one HTTP request may take (``None``: the SDK's default).
        allow_insecure_http: Let the key travel over plain ``http://`` to a host that is
            not this machine.
        key_source: Where the key came from (``--api-key`` or ``POWERPOST_API_KEY``),
            for the hint when the API refuses it.
    """

    api_key: str | None = attrs.field(repr=False)
    workspace_id: str | None
    base_url: str | None
    fake: bool = False
    http_timeout: float | None = None
    allow_insecure_http: bool = False
    key_source: str | None = None

    @classmethod
    def resolve(
        cls,
        *,
        api_key: str | None,
        workspace_id: str | None,
        base_url: str | None,
        fake: bool,
        http_timeout: float | None,
        allow_insecure_http: bool = False,
    ) -> Settings:
        """Flags win over ``POWERPOST_API_KEY`` / ``_WORKSPACE_ID`` / ``_BASE_URL``.

        Raises:
            CLIError: ``--fake`` with ``--api-key``, ``--workspace-id`` or ``--base-url``:
                the fake has its own, and ignoring a flag given on purpose would hide a
                mistake (variables in the environment are left alone).
        """
        if fake:
            given = [
                flag
                for flag, value in (
                    ("--api-key", api_key),
                    ("--workspace-id", workspace_id),
                    ("--base-url", base_url),
                )
                if value
            ]
            if given:
                raise CLIError(
                    f"--fake cannot be combined with {' or '.join(given)}: the embedded "
                    "fake API has its own key, workspace and URL",
                    hints=[
                        f"drop {' and '.join(given)} to try the command against the fake",
                        "or drop --fake to talk to the API",
                    ],
                )
        env = os.environ
        key_source = "--api-key" if api_key else "POWERPOST_API_KEY"
        api_key = api_key or env.get("POWERPOST_API_KEY") or None
        return cls(
            api_key=api_key,
            workspace_id=workspace_id or env.get("POWERPOST_WORKSPACE_ID") or None,
            base_url=base_url or env.get("POWERPOST_BASE_URL") or None,
            fake=fake,
            http_timeout=http_timeout,
            allow_insecure_http=allow_insecure_http,
            key_source=None if fake or api_key is None else key_source,
        )


def hints_for(error: BaseException, settings: Settings) -> list[str]:
    """What to check when the API refused the key (401), its scopes or the workspace
    (403), a post's platforms (422) or the balance (402)."""
    if isinstance(error, InsufficientScopeError):
        scope = error.scope or "the scope this command needs"
        return [
            f"this API key lacks the scope {scope}: create a key that has it in "
            "PowerPost's settings, and use that one (POWERPOST_API_KEY or --api-key)"
        ]
    if isinstance(error, PlatformNotConnectedError):
        where = f"workspace {settings.workspace_id}" if settings.workspace_id else "the workspace"
        named = ", ".join(error.platforms) or "its platforms"
        return [f"connect {named} to {where} in PowerPost, or leave those items out"]
    if isinstance(error, InsufficientCreditsError):
        return ["check the balance: powerpost credits"]
    if isinstance(error, AuthenticationError):
        source = settings.key_source or "POWERPOST_API_KEY"
        hints = [f"the API did not accept the key from {source}: check it"]
        if source == "POWERPOST_API_KEY":
            hints.append("set it with:  export POWERPOST_API_KEY=pp_live_sk_...")
        else:
            hints.append("or set POWERPOST_API_KEY instead (a flag shows in the process list)")
        return hints
    if isinstance(error, PermissionDeniedError) and settings.workspace_id:
        return [
            f"check that this key may use workspace {settings.workspace_id} "
            "(POWERPOST_WORKSPACE_ID or --workspace-id)"
        ]
    return []


class Context:
    """The settings, the UI, and the streams of one command run."""

    def __init__(
        self, settings: Settings, ui: UI, *, json_output: bool, stdout: TextIO, stderr: TextIO
    ) -> None:
        self.settings = settings
        self.ui = ui
        self.json_output = json_output
        self.stdout = stdout
        self.stderr = stderr

    def emit(self, obj: Any) -> None:
        """One JSON document (or one line of JSON lines) on stdout."""
        emit_json(obj, self.stdout)

    def note(self, text: str) -> None:
        """A line on stderr: notes and warnings, kept apart from the data on stdout."""
        print(text, file=self.stderr, flush=True)

    @contextlib.asynccontextmanager
    async def client(self, *, workspace: bool = True) -> AsyncIterator[PowerPost]:
        """A client for this run: to the configured API, or to a fresh fake with ``--fake``.

        Raises:
            CLIError: No key (or, when ``workspace``, no workspace) is configured, or a
                setting is malformed. Checked before anything is sent.
        """
        settings = self.settings
        kwargs: dict[str, Any] = {}
        if settings.http_timeout is not None:
            kwargs["timeout"] = settings.http_timeout
        if settings.fake:
            from ._fake import new_fake

            async with new_fake() as server:
                self.note(
                    f"note: using a fresh embedded fake PowerPost API at {server.base_url} "
                    "(sample data; nothing leaves this machine)"
                )
                async with server.client(use_socket=True, **kwargs) as pp:
                    yield pp
            return
        if not settings.api_key:
            raise CLIError("no API key configured", hints=_KEY_HINTS)
        if workspace and not settings.workspace_id:
            raise CLIError(
                "no workspace configured (every command but credits needs one)",
                hints=_WORKSPACE_HINTS,
            )
        try:
            pp = PowerPost(
                settings.api_key,
                settings.workspace_id,
                base_url=settings.base_url,
                allow_insecure_http=settings.allow_insecure_http,
                **kwargs,
            )
        except ValueError as error:  # e.g. a malformed base URL; the SDK never echoes the key
            plain_http = urlsplit(settings.base_url or "").scheme == "http"
            hints = _INSECURE_HINTS if plain_http and not settings.allow_insecure_http else []
            raise CLIError(f"bad configuration: {error}", hints=hints) from None
        async with pp:
            yield pp
