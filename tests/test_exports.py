"""The names exported from the package root are a contract."""

from __future__ import annotations

import powerpost_async
from powerpost_async import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GenerationFailedError,
    InsufficientCreditsError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    PowerPostError,
    RateLimitError,
    ResponseValidationError,
    UnprocessableEntityError,
    WaitTimeoutError,
)

EXPECTED = [
    "USE_CLIENT_DEFAULT",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "Account",
    "AiohttpTransport",
    "AuthenticationError",
    "BadRequestError",
    "CircuitOpenError",
    "ConflictError",
    "Coordinator",
    "CreatedGeneration",
    "Credits",
    "FleetMember",
    "Generation",
    "GenerationError",
    "GenerationFailedError",
    "GenerationStatus",
    "GenerationSummary",
    "Generations",
    "InsufficientCreditsError",
    "InternalServerError",
    "MalformedResponseError",
    "MockTransport",
    "NotFoundError",
    "Output",
    "Page",
    "PermissionDeniedError",
    "PowerPost",
    "PowerPostError",
    "PowerPostWarning",
    "RateLimitError",
    "Request",
    "Response",
    "ResponseValidationError",
    "Transport",
    "UnprocessableEntityError",
    "UseClientDefault",
    "WaitProgress",
    "WaitTimeoutError",
    "YouTubeOutput",
    "__version__",
]


def test_all_is_pinned() -> None:
    assert powerpost_async.__all__ == EXPECTED


def test_every_exported_name_exists_and_is_public() -> None:
    aliases = {"Output"}  # a type alias: a union of exported classes, not a class of its own
    for name in powerpost_async.__all__:
        member = getattr(powerpost_async, name)
        if name in aliases:
            continue
        module = getattr(member, "__module__", "powerpost_async")
        assert module.startswith("powerpost_async"), (name, module)


def test_error_tree() -> None:
    status_errors = [
        BadRequestError,
        AuthenticationError,
        InsufficientCreditsError,
        PermissionDeniedError,
        NotFoundError,
        ConflictError,
        UnprocessableEntityError,
        RateLimitError,
        InternalServerError,
    ]
    for cls in status_errors:
        assert issubclass(cls, APIStatusError)
    for cls in (APIStatusError, APIConnectionError, ResponseValidationError):
        assert issubclass(cls, APIError)
    assert issubclass(APIError, PowerPostError)
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(APITimeoutError, TimeoutError)
    assert issubclass(WaitTimeoutError, PowerPostError)
    assert issubclass(WaitTimeoutError, TimeoutError)
    assert issubclass(GenerationFailedError, PowerPostError)
    for name in ["APIStatusError", "RateLimitError", "APITimeoutError", "WaitTimeoutError"]:
        assert name in (powerpost_async._exceptions.__doc__ or "")


def test_httpx_transport_is_importable_lazily() -> None:
    assert "HttpxTransport" in dir(powerpost_async)
    assert "HttpxTransport" not in powerpost_async.__all__  # star-import never needs httpx
    from powerpost_async import HttpxTransport

    assert HttpxTransport.__module__ == "powerpost_async._httpx"
