"""powerpost-async: the asyncio-first SDK for the PowerPost API v1.

Example:
    ```python
    from powerpost_async import PowerPost

    async with PowerPost() as pp:  # POWERPOST_API_KEY / POWERPOST_WORKSPACE_ID
        created = await pp.generations.create(prompt="We shipped dark mode",
                                              post_types=["x-post", "linkedin-post"])
        generation = await pp.generations.wait(created.generation_id)
        print(generation.outputs)
    ```
"""

from typing import TYPE_CHECKING

from ._aiohttp import AiohttpTransport
from ._client import PowerPost
from ._converter import to_dict, to_json
from ._creative import (
    Images,
    ImagesWithResponse,
    Videos,
    VideosWithResponse,
)
from ._defaults import USE_CLIENT_DEFAULT, UseClientDefault
from ._engine._engine import WaitProgress
from ._exceptions import (
    AlreadyPublishedError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CircuitOpenError,
    ConflictError,
    ContentTooLargeError,
    FileTooLargeError,
    GenerationFailedError,
    ImageGenerationFailedError,
    InsufficientCreditsError,
    InsufficientScopeError,
    InternalServerError,
    JobFailedError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    PlatformNotConnectedError,
    PostFailedError,
    PowerPostError,
    PowerPostWarning,
    RateLimitError,
    ResponseValidationError,
    StorageQuotaExceededError,
    UnprocessableEntityError,
    VideoGenerationFailedError,
    WaitTimeoutError,
)
from ._fleet import Coordinator, FleetMember
from ._media import (
    MediaResource,
    MediaWithResponse,
    UploadContent,
    UploadFileNotFoundError,
    UploadProgressCallback,
    UploadSource,
)
from ._models import (
    KNOWN_POST_TYPES,
    KNOWN_RESEARCH_MODES,
    CalendarEntry,
    CreatedGeneration,
    CreatedImageGeneration,
    CreatedVideoGeneration,
    Credits,
    GeneratedImage,
    GeneratedVideo,
    Generation,
    GenerationError,
    GenerationStatus,
    GenerationSummary,
    ImageGeneration,
    ItemAnalytics,
    Media,
    Metrics,
    Output,
    Page,
    Post,
    PostAction,
    PostItem,
    PostItemStatus,
    PostStatus,
    PostType,
    ResearchMode,
    VideoGeneration,
    YouTubeOutput,
)
from ._planning import (
    UNSET,
    Analytics,
    AnalyticsWithResponse,
    Calendar,
    CalendarWithResponse,
    Unset,
)
from ._posts import (
    PostItemParam,
    Posts,
    PostsWithResponse,
)
from ._resources import Account, AccountWithResponse, Generations, GenerationsWithResponse
from ._response import APIResponse, RateLimit
from ._telemetry import configure_logging_from_env as _configure_logging
from ._transport import (
    MockTransport,
    Request,
    Response,
    StreamBody,
    Transport,
)
from ._version import __version__

__all__ = [
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

if TYPE_CHECKING:
    from ._httpx import HttpxTransport as HttpxTransport


_configure_logging()  # POWERPOST_LOG=info|debug turns the SDK's logging on without code


def __getattr__(name: str) -> object:
    # httpx is an optional extra (``pip install 'powerpost-async[httpx]'``): import it
    # only when HttpxTransport is asked for. It stays out of __all__ so that
    # ``from powerpost_async import *`` never needs it.
    if name == "HttpxTransport":
        from ._httpx import HttpxTransport

        return HttpxTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return [*__all__, "HttpxTransport"]
