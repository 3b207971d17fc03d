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
    "KNOWN_POST_TYPES",
    "KNOWN_RESEARCH_MODES",
    "USE_CLIENT_DEFAULT",
    "APIConnectionError",
    "APIError",
    "APIResponse",
    "APIStatusError",
    "APITimeoutError",
    "Account",
    "AccountWithResponse",
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
    "GenerationsWithResponse",
    "InsufficientCreditsError",
    "InternalServerError",
    "MalformedResponseError",
    "MockTransport",
    "NotFoundError",
    "Output",
    "Page",
    "PermissionDeniedError",
    "PostType",
    "PowerPost",
    "PowerPostError",
    "PowerPostWarning",
    "RateLimit",
    "RateLimitError",
    "Request",
    "ResearchMode",
    "Response",
    "ResponseValidationError",
    "Transport",
    "UnprocessableEntityError",
    "UseClientDefault",
    "WaitProgress",
    "WaitTimeoutError",
    "YouTubeOutput",
    "__version__",
    "to_dict",
    "to_json",
]


def test_all_is_pinned() -> None:
    assert powerpost_async.__all__ == EXPECTED


def test_every_exported_name_exists_and_is_public() -> None:
    # Type aliases (a union of exported classes, Literal types) and tuples of names.
    aliases = {"Output", "PostType", "ResearchMode", "KNOWN_POST_TYPES", "KNOWN_RESEARCH_MODES"}
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
