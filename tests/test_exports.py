"""The names exported from the package root are a contract."""

from __future__ import annotations

import powerpost_async
from powerpost_async import (
    AlreadyPublishedError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ContentTooLargeError,
    FileTooLargeError,
    GenerationFailedError,
    ImageGenerationFailedError,
    InsufficientCreditsError,
    InsufficientScopeError,
    InternalServerError,
    JobFailedError,
    NotFoundError,
    PermissionDeniedError,
    PlatformNotConnectedError,
    PostFailedError,
    PowerPostError,
    RateLimitError,
    ResponseValidationError,
    StorageQuotaExceededError,
    UnprocessableEntityError,
    VideoGenerationFailedError,
    WaitTimeoutError,
)

EXPECTED = [
    "KNOWN_POST_TYPES",
    "KNOWN_RESEARCH_MODES",
    "UNSET",
    "USE_CLIENT_DEFAULT",
    "APIConnectionError",
    "APIError",
    "APIResponse",
    "APIStatusError",
    "APITimeoutError",
    "Account",
    "AccountWithResponse",
    "AiohttpTransport",
    "AlreadyPublishedError",
    "Analytics",
    "AnalyticsWithResponse",
    "AuthenticationError",
    "BadRequestError",
    "Calendar",
    "CalendarEntry",
    "CalendarWithResponse",
    "CircuitOpenError",
    "ConflictError",
    "ContentTooLargeError",
    "Coordinator",
    "CreatedGeneration",
    "CreatedImageGeneration",
    "CreatedVideoGeneration",
    "Credits",
    "FileTooLargeError",
    "FleetMember",
    "GeneratedImage",
    "GeneratedVideo",
    "Generation",
    "GenerationError",
    "GenerationFailedError",
    "GenerationStatus",
    "GenerationSummary",
    "Generations",
    "GenerationsWithResponse",
    "ImageGeneration",
    "ImageGenerationFailedError",
    "Images",
    "ImagesWithResponse",
    "InsufficientCreditsError",
    "InsufficientScopeError",
    "InternalServerError",
    "ItemAnalytics",
    "JobFailedError",
    "MalformedResponseError",
    "Media",
    "MediaResource",
    "MediaWithResponse",
    "Metrics",
    "MockTransport",
    "NotFoundError",
    "Output",
    "Page",
    "PermissionDeniedError",
    "PlatformNotConnectedError",
    "Post",
    "PostAction",
    "PostFailedError",
    "PostItem",
    "PostItemParam",
    "PostItemStatus",
    "PostStatus",
    "PostType",
    "Posts",
    "PostsWithResponse",
    "PowerPost",
    "PowerPostError",
    "PowerPostWarning",
    "RateLimit",
    "RateLimitError",
    "Request",
    "ResearchMode",
    "Response",
    "ResponseValidationError",
    "StorageQuotaExceededError",
    "StreamBody",
    "Transport",
    "UnprocessableEntityError",
    "Unset",
    "UploadContent",
    "UploadFileNotFoundError",
    "UploadProgressCallback",
    "UploadSource",
    "UseClientDefault",
    "VideoGeneration",
    "VideoGenerationFailedError",
    "Videos",
    "VideosWithResponse",
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
    aliases = {
        "Output",
        "PostType",
        "ResearchMode",
        "KNOWN_POST_TYPES",
        "KNOWN_RESEARCH_MODES",
        "UploadContent",
        "UploadSource",
    }
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
    by_code = [
        (InsufficientScopeError, PermissionDeniedError),
        (AlreadyPublishedError, ConflictError),
        (FileTooLargeError, ContentTooLargeError),
        (StorageQuotaExceededError, ContentTooLargeError),
        (ContentTooLargeError, APIStatusError),
        (PlatformNotConnectedError, UnprocessableEntityError),
        (GenerationFailedError, JobFailedError),
        (ImageGenerationFailedError, JobFailedError),
        (VideoGenerationFailedError, JobFailedError),
        (PostFailedError, JobFailedError),
        (JobFailedError, PowerPostError),
    ]
    for cls, parent in by_code:
        assert issubclass(cls, parent), cls
        assert cls.__name__ in (powerpost_async._exceptions.__doc__ or ""), cls
    for name in ["APIStatusError", "RateLimitError", "APITimeoutError", "WaitTimeoutError"]:
        assert name in (powerpost_async._exceptions.__doc__ or "")


def test_httpx_transport_is_importable_lazily() -> None:
    assert "HttpxTransport" in dir(powerpost_async)
    assert "HttpxTransport" not in powerpost_async.__all__  # star-import never needs httpx
    from powerpost_async import HttpxTransport

    assert HttpxTransport.__module__ == "powerpost_async._httpx"
