"""What the PowerPost API v1 documents about its requests: paths and limits, in one place.

The SDK checks its arguments against these before sending, and the fake
(``powerpost_async.testing``) enforces the same figures when it answers, so the two
cannot drift apart. Plain constants, and one pure function reading them
(`sniff_format`: which format a file's first bytes announce).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "API_PREFIX",
    "CALENDAR_ENTRIES_PATH",
    "CALENDAR_PLATFORMS",
    "CREDITS_PATH",
    "DEFAULT_PAGE_SIZE",
    "GENERATE_PATH",
    "GENERATIONS_PATH",
    "IMAGES_GENERATE_PATH",
    "IMAGE_FORMATS",
    "IMAGE_GENERATIONS_PATH",
    "IMAGE_MODELS",
    "IMAGE_SIZES",
    "MAX_CALENDAR_RANGE_DAYS",
    "MAX_CTA_TEXT",
    "MAX_ENTRY_DESCRIPTION",
    "MAX_ENTRY_TITLE",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PROMPT",
    "MAX_MEDIA_IDS",
    "MAX_PAGE_SIZE",
    "MAX_POST_ITEMS",
    "MAX_PROMPT",
    "MAX_QUANTITY",
    "MAX_SCHEDULED_POSTS",
    "MAX_SCHEDULE_DAYS",
    "MAX_SOURCE_URLS",
    "MAX_STYLE_IMAGES",
    "MAX_VIDEO_BYTES",
    "MEDIA_EXTENSIONS",
    "MEDIA_FORMATS",
    "MEDIA_TYPES",
    "MEDIA_UPLOAD_PATH",
    "POSTS_PATH",
    "POST_ITEMS_PATH",
    "SCOPES",
    "TITLED_POST_TYPES",
    "VIDEOS_GENERATE_PATH",
    "VIDEO_FORMATS",
    "VIDEO_GENERATIONS_PATH",
    "VIDEO_MODELS",
    "VIDEO_SIZES",
    "VideoModel",
    "sniff_format",
]

#: Every endpoint of the API lives under this path.
API_PREFIX = "/api/v1"
#: ``GET``: a page of generations; ``GET {GENERATIONS_PATH}/{id}``: one generation.
GENERATIONS_PATH = f"{API_PREFIX}/content/generations"
#: ``POST``: start a generation.
GENERATE_PATH = f"{API_PREFIX}/content/generate"
#: ``GET``: the account's credit balance.
CREDITS_PATH = f"{API_PREFIX}/account/credits"

#: Generations per list page when ``limit`` is not given, and the most a page may hold.
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
#: Characters in a prompt, and in a call to action.
MAX_PROMPT = 2000
MAX_CTA_TEXT = 100
#: Items in ``source_urls`` and in ``media_ids``.
MAX_SOURCE_URLS = 10
MAX_MEDIA_IDS = 10

# -- media, images, videos, posts, analytics, calendar (MORE.md; see docs/concepts/api.md) --

#: ``POST`` (multipart): upload an image or a video.
MEDIA_UPLOAD_PATH = f"{API_PREFIX}/media/upload"
#: ``POST``: start an image generation; ``GET {IMAGE_GENERATIONS_PATH}/{id}``: read one.
IMAGES_GENERATE_PATH = f"{API_PREFIX}/images/generate"
IMAGE_GENERATIONS_PATH = f"{API_PREFIX}/images/generations"
#: ``POST``: start a video generation; ``GET {VIDEO_GENERATIONS_PATH}/{id}``: read one.
VIDEOS_GENERATE_PATH = f"{API_PREFIX}/videos/generate"
VIDEO_GENERATIONS_PATH = f"{API_PREFIX}/videos/generations"
#: ``POST``: create a draft post; ``GET {POSTS_PATH}/{id}``; ``POST {POSTS_PATH}/{id}/publish``,
#: ``/schedule``, ``/cancel-publish``.
POSTS_PATH = f"{API_PREFIX}/posts"
#: ``GET {POST_ITEMS_PATH}/{item_id}/analytics``.
POST_ITEMS_PATH = f"{API_PREFIX}/post-items"
#: ``GET`` (date range), ``POST``; ``GET``/``PATCH``/``DELETE {CALENDAR_ENTRIES_PATH}/{id}``.
CALENDAR_ENTRIES_PATH = f"{API_PREFIX}/calendar/entries"

#: What ``type`` an upload may be.
MEDIA_TYPES = ("image", "video")
#: Upload size limits. The docs say "10 MB" and "500 MB" without saying which MB: the
#: larger reading (MiB) is used, so that nothing the server takes is refused here.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_VIDEO_BYTES = 500 * 1024 * 1024
#: Accepted formats per type, as MIME types.
IMAGE_FORMATS = ("image/jpeg", "image/png", "image/webp")
VIDEO_FORMATS = ("video/mp4", "video/quicktime", "video/webm")
#: Every accepted format: MIME type -> (media type, its name, the extension of a file
#: name made up for it).
MEDIA_FORMATS: dict[str, tuple[str, str, str]] = {
    "image/jpeg": ("image", "JPEG", ".jpg"),
    "image/png": ("image", "PNG", ".png"),
    "image/webp": ("image", "WebP", ".webp"),
    "video/mp4": ("video", "MP4", ".mp4"),
    "video/quicktime": ("video", "MOV", ".mov"),
    "video/webm": ("video", "WebM", ".webm"),
}
#: File name extensions -> MIME type (fixed here: ``mimetypes`` answers per machine).
MEDIA_EXTENSIONS: dict[str, str] = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".qt": "video/quicktime",
    ".webm": "video/webm",
}


def sniff_format(head: bytes) -> str | None:
    """The MIME type the first bytes of a file announce, among the accepted formats."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return None


#: Image generation: prompt length, sizes, models (model -> the sizes it makes),
#: images per request, reference images.
MAX_IMAGE_PROMPT = 2000
IMAGE_SIZES = ("square", "feed", "portrait", "landscape")
IMAGE_MODELS: dict[str, tuple[str, ...]] = {
    "flux2-flex": IMAGE_SIZES,
    "ideogram-3": IMAGE_SIZES,
    "nano-banana-2": IMAGE_SIZES,
    "gpt-image-2": ("square", "portrait", "landscape"),
    "gpt-image-1.5": ("square", "portrait", "landscape"),  # the older name of gpt-image-2
}
MAX_QUANTITY = 4
MAX_STYLE_IMAGES = 4


class VideoModel(NamedTuple):
    """What one video model accepts."""

    max_prompt: int
    durations: tuple[int, ...]
    audio: bool


#: Video generation: sizes and models.
VIDEO_SIZES = ("landscape", "portrait")
VIDEO_MODELS: dict[str, VideoModel] = {
    "kling-3.0-pro": VideoModel(2500, (5, 10), True),
    "veo-3.1": VideoModel(3000, (4, 8), True),
    "runway-gen-4.5": VideoModel(1000, (5, 10), False),
}

#: Posts: items per post (one per post type), the types that need a title, how far
#: ahead a post may be scheduled, how many may be scheduled per workspace.
MAX_POST_ITEMS = 12
TITLED_POST_TYPES = ("youtube-video", "youtube-short")
MAX_SCHEDULE_DAYS = 60
MAX_SCHEDULED_POSTS = 100

#: Calendar entries.
MAX_ENTRY_TITLE = 500
MAX_ENTRY_DESCRIPTION = 5000
MAX_CALENDAR_RANGE_DAYS = 366
CALENDAR_PLATFORMS = ("instagram", "tiktok", "youtube", "x", "facebook", "linkedin")

#: Every scope a key may hold (the newer Authentication page).
SCOPES = (
    "account:read",
    "content:read",
    "content:generate",
    "images:read",
    "images:generate",
    "videos:read",
    "videos:generate",
    "media:write",
    "posts:read",
    "posts:write",
    "posts:publish",
    "calendar:read",
    "calendar:write",
    "analytics:read",
)
