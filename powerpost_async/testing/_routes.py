"""Where the endpoints beyond captions live, and the scope every endpoint needs."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote

from powerpost_async._limits import (
    CALENDAR_ENTRIES_PATH,
    IMAGE_GENERATIONS_PATH,
    IMAGES_GENERATE_PATH,
    MEDIA_UPLOAD_PATH,
    POST_ITEMS_PATH,
    POSTS_PATH,
    VIDEO_GENERATIONS_PATH,
    VIDEOS_GENERATE_PATH,
)
from powerpost_async.testing._faults import Endpoint

__all__ = ["ENDPOINT_SCOPES", "route"]

#: The scope each endpoint needs (contract13.md).
ENDPOINT_SCOPES: Mapping[str, str] = {
    "list": "content:read",
    "get": "content:read",
    "create": "content:generate",
    "credits": "account:read",
    "upload": "media:write",
    "image_create": "images:generate",
    "image_get": "images:read",
    "video_create": "videos:generate",
    "video_get": "videos:read",
    "post_create": "posts:write",
    "post_get": "posts:read",
    "publish": "posts:publish",
    "schedule": "posts:publish",
    "cancel_publish": "posts:publish",
    "analytics": "analytics:read",
    "calendar_list": "calendar:read",
    "calendar_get": "calendar:read",
    "calendar_create": "calendar:write",
    "calendar_update": "calendar:write",
    "calendar_delete": "calendar:write",
}
# -- routing -------------------------------------------------------------------------------

# (base path, what follows it: None = nothing, "" = an id, "x" = an id then /x, methods)
_ROUTES: tuple[tuple[str, str | None, Mapping[str, Endpoint]], ...] = (
    (MEDIA_UPLOAD_PATH, None, {"POST": "upload"}),
    (IMAGES_GENERATE_PATH, None, {"POST": "image_create"}),
    (IMAGE_GENERATIONS_PATH, "", {"GET": "image_get"}),
    (VIDEOS_GENERATE_PATH, None, {"POST": "video_create"}),
    (VIDEO_GENERATIONS_PATH, "", {"GET": "video_get"}),
    (POSTS_PATH, None, {"POST": "post_create"}),
    (POSTS_PATH, "", {"GET": "post_get"}),
    (POSTS_PATH, "publish", {"POST": "publish"}),
    (POSTS_PATH, "schedule", {"POST": "schedule"}),
    (POSTS_PATH, "cancel-publish", {"POST": "cancel_publish"}),
    (POST_ITEMS_PATH, "analytics", {"GET": "analytics"}),
    (CALENDAR_ENTRIES_PATH, None, {"GET": "calendar_list", "POST": "calendar_create"}),
    (
        CALENDAR_ENTRIES_PATH,
        "",
        {"GET": "calendar_get", "PATCH": "calendar_update", "DELETE": "calendar_delete"},
    ),
)


def route(method: str, raw_path: str) -> tuple[Endpoint, str | None] | str | None:
    """The endpoint and target id of a request; a message if the method is not allowed
    (405); ``None`` if no endpoint here has this path."""
    for base, tail, methods in _ROUTES:
        target: str | None = None
        if tail is None:
            if raw_path != base:
                continue
        else:
            if not raw_path.startswith(base + "/"):
                continue
            rest = raw_path[len(base) + 1 :]
            if tail:
                if not rest.endswith("/" + tail):
                    continue
                rest = rest[: -len(tail) - 1]
            if not rest or "/" in rest:
                continue
            target = unquote(rest)
        endpoint = methods.get(method)
        if endpoint is None:
            return f"{method} is not allowed on {raw_path}"
        return endpoint, target
    return None
