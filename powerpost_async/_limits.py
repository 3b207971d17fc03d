"""What the PowerPost API v1 documents about its requests: paths and limits, in one place.

The SDK checks its arguments against these before sending, and the fake
(``powerpost_async.testing``) enforces the same figures when it answers, so the two
cannot drift apart. Plain constants, and pure functions reading them
(`identify_format`: which format a file's first bytes announce; `sniff_format`: the
same, among the accepted formats).
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
    "MEDIA_TYPE_ALIASES",
    "MEDIA_UPLOAD_PATH",
    "POSTS_PATH",
    "POST_ITEMS_PATH",
    "SCOPES",
    "SNIFF_BYTES",
    "TITLED_POST_TYPES",
    "UNLISTED_FORMATS",
    "VIDEOS_GENERATE_PATH",
    "VIDEO_FORMATS",
    "VIDEO_GENERATIONS_PATH",
    "VIDEO_MODELS",
    "VIDEO_SIZES",
    "VideoModel",
    "accepted_formats",
    "describe_format",
    "identify_format",
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
#: Accepted formats per type, as MIME types (the upload page: JPEG, PNG, WebP; MP4, MOV,
#: WebM).
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
#: Formats told apart by their first bytes that the API does not list: MIME type ->
#: (what it is, its name). Recognised only to be named when they are refused: a file
#: in one of them is never sent as one of the accepted formats.
UNLISTED_FORMATS: dict[str, tuple[str, str]] = {
    "image/heic": ("image", "HEIC"),
    "image/heif": ("image", "HEIF"),
    "image/avif": ("image", "AVIF"),
    "image/gif": ("image", "GIF"),
    "image/x-canon-cr3": ("image", "Canon CR3"),
    "audio/mp4": ("audio", "M4A"),
    "video/x-matroska": ("video", "Matroska"),
}
#: Other spellings of accepted MIME types, as clients send them.
MEDIA_TYPE_ALIASES: dict[str, str] = {"image/jpg": "image/jpeg", "video/mov": "video/quicktime"}
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
#: The first bytes of a file that its format is read from (by the SDK and the fake
#: alike): enough for an ``ftyp`` box with a dozen compatible brands, and for the
#: DocType of a WebM's EBML header.
SNIFF_BYTES = 64

# ISO base media files (MP4, MOV, HEIF, AVIF, M4A, 3GP...) all begin with an ``ftyp``
# box: its size (4 bytes), ``ftyp``, the major brand (the format the file is written
# as), a minor version, then compatible brands up to the box's size. A brand that
# names one format decides, the major brand first; a generic one (``isom``: "some ISO
# base media file", ``mif1``: "some HEIF image") decides only if none does.
_FTYP_BRANDS: dict[bytes, str] = {
    **dict.fromkeys([b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevm", b"hevs"], "image/heic"),
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"crx ": "image/x-canon-cr3",
    **dict.fromkeys([b"M4A ", b"M4B ", b"M4P "], "audio/mp4"),
    b"qt  ": "video/quicktime",
    **dict.fromkeys([b"mp41", b"mp42", b"avc1", b"dash", b"M4V "], "video/mp4"),
}
_FTYP_GENERIC: dict[bytes, str] = {
    **dict.fromkeys([b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6"], "video/mp4"),
    **dict.fromkeys([b"mif1", b"msf1", b"miaf"], "image/heif"),
}


def _ftyp_format(head: bytes) -> str | None:
    size = int.from_bytes(head[:4], "big")
    if size == 1:
        return None  # a 64-bit box size moves the brands: never seen for ftyp
    end = len(head) if size == 0 else min(size, len(head))  # 0: the box runs to the end
    brands = [head[8:12], *(head[i : i + 4] for i in range(16, end - 3, 4))]
    generic = None
    for brand in brands:
        if len(brand) < 4:
            break  # the file ends inside its ftyp box
        found = _FTYP_BRANDS.get(brand)
        if found is None and brand.startswith(b"3gp"):  # 3gp4, 3gp5, 3gp6... (3GPP)
            found = "video/mp4"
        if found is not None:
            return found
        if generic is None:
            generic = _FTYP_GENERIC.get(brand)
    return generic


def _ebml_format(head: bytes) -> str:
    # The EBML header's DocType element (ID 42 82, a one-byte size, the name) tells a
    # WebM from any other Matroska file; if it is not in the first bytes, WebM is assumed.
    at = head.find(b"\x42\x82", 4)
    if 0 <= at < len(head) - 2 and head[at + 2] & 0x80:
        doc_type = head[at + 3 : at + 3 + (head[at + 2] & 0x7F)]
        if doc_type == b"matroska":
            return "video/x-matroska"
    return "video/webm"


def identify_format(head: bytes) -> str | None:
    """The MIME type of the format a file's first bytes announce (accepted or one of
    `UNLISTED_FORMATS`), or ``None`` if they announce none the SDK knows."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[4:8] == b"ftyp":
        return _ftyp_format(head)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _ebml_format(head)
    return None


def sniff_format(head: bytes) -> str | None:
    """The MIME type the first bytes of a file announce, among the accepted formats."""
    found = identify_format(head)
    return found if found in MEDIA_FORMATS else None


_AN = frozenset({"AVIF", "M4A", "MP4"})


def describe_format(mime: str) -> str:
    """A format known by its MIME type, in words: ``"a HEIC image"``, ``"an MP4 video"``."""
    if mime in MEDIA_FORMATS:
        kind, label, _ = MEDIA_FORMATS[mime]
    else:
        kind, label = UNLISTED_FORMATS[mime]
    noun = "audio file" if kind == "audio" else kind
    return f"{'an' if label in _AN else 'a'} {label} {noun}"


def accepted_formats() -> str:
    """What the API accepts, in words: ``"JPEG, PNG, WebP images and MP4, MOV, WebM videos"``."""
    images = ", ".join(MEDIA_FORMATS[m][1] for m in IMAGE_FORMATS)
    videos = ", ".join(MEDIA_FORMATS[m][1] for m in VIDEO_FORMATS)
    return f"{images} images and {videos} videos"


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
