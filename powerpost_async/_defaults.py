"""The "use the client's default" sentinel for per-call overrides."""

from __future__ import annotations

from typing import Final

__all__ = ["USE_CLIENT_DEFAULT", "UseClientDefault"]


class UseClientDefault:
    """Type of [`USE_CLIENT_DEFAULT`][powerpost_async.USE_CLIENT_DEFAULT]: "use what the client was
    configured with".

    A per-call ``timeout=None`` means "no timeout", so ``None`` cannot also mean
    "the default"; this sentinel does.
    """

    _instance: UseClientDefault | None = None

    def __new__(cls) -> UseClientDefault:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "USE_CLIENT_DEFAULT"


#: Pass (or leave) as a per-call ``timeout``/``max_retries`` to use the client's setting.
USE_CLIENT_DEFAULT: Final = UseClientDefault()
