"""What every command gets: the settings, where to print, and a way to get a client."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from typing import Any, TextIO

import attrs

from powerpost_async import PowerPost

from ._output import UI, emit_json

__all__ = [
    "EXIT_API",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CLIError",
    "Context",
    "Settings",
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


class CLIError(Exception):
    """A failure to report as it is: one ``error:`` line, optional hints, an exit code."""

    def __init__(self, message: str, *, code: int = EXIT_USAGE, hints: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.hints = tuple(hints)


@attrs.frozen
class Settings:
    """Where and as whom to talk to the API; flags already merged over the environment.

    Attributes:
        api_key: Never shown: left out of the repr, never printed.
        workspace_id: The workspace for ``generations`` commands.
        base_url: ``None`` for the SDK's default.
        fake: Talk to a fresh embedded fake API instead.
        http_timeout: Seconds one HTTP request may take (``None``: the SDK's default).
    """

    api_key: str | None = attrs.field(repr=False)
    workspace_id: str | None
    base_url: str | None
    fake: bool = False
    http_timeout: float | None = None

    @classmethod
    def resolve(
        cls,
        *,
        api_key: str | None,
        workspace_id: str | None,
        base_url: str | None,
        fake: bool,
        http_timeout: float | None,
    ) -> Settings:
        """Flags win over ``POWERPOST_API_KEY`` / ``_WORKSPACE_ID`` / ``_BASE_URL``."""
        env = os.environ
        return cls(
            api_key=api_key or env.get("POWERPOST_API_KEY") or None,
            workspace_id=workspace_id or env.get("POWERPOST_WORKSPACE_ID") or None,
            base_url=base_url or env.get("POWERPOST_BASE_URL") or None,
            fake=fake,
            http_timeout=http_timeout,
        )


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
                "no workspace configured (generations commands need one)",
                hints=_WORKSPACE_HINTS,
            )
        try:
            pp = PowerPost(
                settings.api_key,
                settings.workspace_id,
                base_url=settings.base_url,
                **kwargs,
            )
        except ValueError as error:  # e.g. a malformed base URL; the SDK never echoes the key
            raise CLIError(f"bad configuration: {error}") from None
        async with pp:
            yield pp
