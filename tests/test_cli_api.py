"""The ``powerpost`` commands beyond captions, and ``demo --pipeline``, driven in-process.

As in ``test_cli.py``: ``main()`` runs its own event loop, so each call goes to a worker
thread while the fake serves on the test's loop over a socket. Every call checks that
the API key never shows up in what was printed, and that nothing printed a traceback.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from powerpost_async import (
    GeneratedImage,
    GenerationError,
    GenerationStatus,
    ImageGeneration,
    ImageGenerationFailedError,
    Post,
    PostFailedError,
    PostItem,
    PostItemStatus,
    PostStatus,
    VideoGeneration,
    VideoGenerationFailedError,
    to_dict,
)
from powerpost_async.cli import main
from powerpost_async.cli._app import build_parser
from powerpost_async.cli._output import ErrorReport
from powerpost_async.cli._pipeline import photo
from powerpost_async.testing import FakePowerPost

KEY = "pp_live_sk_SECRET_api_cli_key_012345"
NO_SCOPES_KEY = "pp_live_sk_SECRET_no_scopes_key_0123"
WS = "ws_cli"
SECRETS = (KEY, NO_SCOPES_KEY)
PNG = photo(1)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60
# The fake's clock starts at its epoch, 2026-01-10 18:30 UTC: "the future" is after that.
LATER = "2026-02-01T09:00:00+01:00"


@attrs.frozen
class Result:
    code: int
    out: str
    err: str

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines()]

    def json(self) -> Any:
        (document,) = self.json_lines()
        return document


Run = Callable[..., Awaitable[Result]]


@pytest.fixture
async def server() -> AsyncIterator[FakePowerPost]:
    """Jobs finish at once, items post at once; NO_SCOPES_KEY holds no scope at all."""
    async with FakePowerPost(
        keys={KEY: [WS], NO_SCOPES_KEY: [WS]},
        scopes={NO_SCOPES_KEY: []},
        pending=0.0,
        processing=0.0,
        post_duration=0.0,
        seed=11,
    ) as fake:
        yield fake


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    """``await cli(*argv, server=...)``: run ``main`` and capture what it printed."""

    async def run(*argv: str, server: FakePowerPost | None = None, key: str = KEY) -> Result:
        args = list(argv)
        if server is not None:
            args = [
                *("--base-url", server.base_url, "--api-key", key),
                *("--workspace-id", WS),
                *args,
            ]
        code = await asyncio.to_thread(main, args)
        out, err = capsys.readouterr()
        for secret in SECRETS:
            assert secret not in out, "the API key was printed on stdout"
            assert secret not in err, "the API key was printed on stderr"
        assert "Traceback" not in err
        return Result(code, out, err)

    return run


def json_error(result: Result) -> dict[str, Any]:
    """The error of a ``--json`` run: one JSON object, the last line on stdout."""
    assert result.err == ""
    document = json.loads(result.out.splitlines()[-1])
    assert set(document) == {"error"}
    error: dict[str, Any] = document["error"]
    assert isinstance(error["type"], str)
    assert isinstance(error["message"], str)
    return error


def fields(result: Result) -> dict[str, str]:
    """The ``label  value`` lines of plain output, up to the first blank line."""
    rows: dict[str, str] = {}
    for line in result.out.split("\n\n")[0].splitlines():
        label, _, value = line.partition("  ")
        rows[label.strip()] = value.strip()
    return rows


@pytest.fixture
def png(tmp_path: Path) -> Path:
    path = tmp_path / "cat.png"
    path.write_bytes(PNG)
    return path


async def upload(cli: Run, server: FakePowerPost, path: Path) -> str:
    result = await cli("media", "upload", str(path), "--json", server=server)
    assert result.code == 0, result.err
    media_id: str = result.json()["media_id"]
    return media_id


async def create_post(cli: Run, server: FakePowerPost, *items: str) -> dict[str, Any]:
    argv = [arg for item in items for arg in ("--item", item)]
    result = await cli("posts", "create", *argv, "--json", server=server)
    assert result.code == 0, result.err
    post: dict[str, Any] = result.json()
    return post


# -- usage errors: exit 2, nothing sent ----------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["media"],
        ["media", "upload"],
        ["media", "upload", "x.png", "--type", "gif"],
        ["images", "generate", "cat", "--quantity", "5"],
        ["images", "generate", "cat", "--size", "huge"],
        ["images", "get"],
        ["videos", "generate", "a river"],
        ["videos", "generate", "a river", "--duration", "0"],
        ["videos", "generate", "a river", "--duration", "five"],
        ["videos", "generate", "a river", "--duration", "5", "--size", "square"],
        ["posts", "create"],
        ["posts", "create", "--item", "x-post="],
        ["posts", "create", "--item", "=Hello"],
        ["posts", "create", "--item", "x-post=Hi", "--title", "x-post"],
        ["posts", "create", "--item", "x-post=Hi", "--media", "x-post"],
        ["posts", "schedule", "post-1"],
        ["posts", "schedule", "post-1", "--at", "tomorrow"],
        ["posts", "schedule", "post-1", "--at", "2026-02-01T09:00:00"],
        ["posts", "publish", "post-1", "--timeout", "0"],
        ["analytics"],
        ["calendar", "list", "--from", "2026-01-01"],
        ["calendar", "list", "--from", "2026-1-1", "--to", "2026-02-01"],
        ["calendar", "create", "Launch"],
        ["calendar", "create", "Launch", "--date", "2026-05-01", "--time", "25:00"],
        ["calendar", "create", "Launch", "--date", "2026-05-01", "--platform", "myspace"],
        ["demo", "--pipeline", "--posts", "0"],
    ],
)
async def test_bad_usage_exits_2(cli: Run, argv: list[str]) -> None:
    result = await cli(*argv)
    assert result.code == 2
    assert result.out == ""
    assert "usage: powerpost" in result.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["images", "generate"], "images generate needs a PROMPT, or --generation-id"),
        (
            ["images", "generate", "cat", "--source-post-type", "x-post"],
            "--source-post-type picks a caption of --generation-id",
        ),
        (["images", "generate", "cat", "--model", "gpt-image-2", "--size", "feed"], "feed"),
        (["videos", "generate", "a river", "--duration", "7"], "5 or 10 seconds, not 7"),
        (
            [
                *("videos", "generate", "a river", "--duration", "5"),
                *("--model", "runway-gen-4.5", "--audio"),
            ],
            "makes no audio",
        ),
        (["posts", "create", "--item", "x-post=A", "--item", "x-post=B"], "given twice"),
        (["posts", "create", "--item", "x-post"], "--item x-post has no content"),
        (["posts", "create", "--item", "youtube-short=Hi"], "a youtube-short item needs a title"),
        (
            ["posts", "create", "--item", "x-post=Hi", "--title", "youtube-video=T"],
            "--title youtube-video=...: there is no --item youtube-video",
        ),
        (
            ["posts", "create", "--item", "x-post=Hi", "--media", "linkedin-post=m1"],
            "there is no --item linkedin-post",
        ),
        (["posts", "create", "--item", "x-pots=Hi"], "unknown post type: x-pots"),
        (["posts", "get", "../credits"], "post_id"),
        (["calendar", "list", "--from", "2026-02-01", "--to", "2026-01-01"], "is before --from"),
        (["calendar", "list", "--from", "2026-01-01", "--to", "2027-01-02"], "at most 366"),
        (
            [
                "calendar",
                "create",
                "L",
                "--date",
                "2026-05-01",
                "--platform",
                "x",
                "--platform",
                "x",
            ],
            "twice",
        ),
    ],
)
async def test_usage_errors_are_caught_before_sending(
    cli: Run, server: FakePowerPost, argv: list[str], message: str
) -> None:
    result = await cli(*argv, server=server)
    assert result.code == 2, result.err
    assert result.err.startswith("error: ")
    assert message in result.err.splitlines()[0]
    assert len(server.requests) == 0
    as_json = await cli(*argv, "--json", server=server)
    assert as_json.code == 2
    assert json_error(as_json)["type"] == "UsageError"
    assert len(server.requests) == 0


async def test_a_post_type_typo_gets_a_suggestion(cli: Run, server: FakePowerPost) -> None:
    result = await cli("posts", "create", "--item", "x-pots=Hi", server=server)
    assert result.code == 2
    assert "  'x-pots': did you mean 'x-post'?" in result.err.splitlines()


async def test_the_help_lists_the_new_commands(cli: Run) -> None:
    result = await cli("--help")
    assert result.code == 0
    for text in ("media upload", "images generate", "videos generate", "posts create"):
        assert text in result.out
    for text in ("posts publish", "posts schedule", "analytics", "calendar list"):
        assert text in result.out
    create = await cli("posts", "create", "--help")
    assert "--item TYPE[=CONTENT]" in create.out
    assert "--media [TYPE=]ID" in create.out


# -- scopes: each command names the one it lacks -------------------------------------------


@pytest.mark.parametrize(
    ("argv", "scope"),
    [
        (["media", "upload", "PNG"], "media:write"),
        (["images", "generate", "a cat"], "images:generate"),
        (["images", "get", "img-1"], "images:read"),
        (["videos", "generate", "a river", "--duration", "5"], "videos:generate"),
        (["videos", "get", "vid-1"], "videos:read"),
        (["posts", "create", "--item", "x-post=Hi"], "posts:write"),
        (["posts", "get", "post-1"], "posts:read"),
        (["posts", "publish", "post-1"], "posts:publish"),
        (["posts", "schedule", "post-1", "--at", LATER], "posts:publish"),
        (["posts", "cancel", "post-1"], "posts:publish"),
        (["analytics", "item-1"], "analytics:read"),
        (["calendar", "list", "--from", "2026-01-01", "--to", "2026-01-31"], "calendar:read"),
        (["calendar", "create", "Launch", "--date", "2026-05-01"], "calendar:write"),
    ],
)
async def test_a_missing_scope_is_named_in_the_hint(
    cli: Run, server: FakePowerPost, png: Path, argv: list[str], scope: str
) -> None:
    argv = [str(png) if arg == "PNG" else arg for arg in argv]
    result = await cli(*argv, server=server, key=NO_SCOPES_KEY)
    assert result.code == 3
    lines = result.err.splitlines()
    assert lines[0] == (
        "error: 403 INSUFFICIENT_SCOPE: This API key is missing the required scope: "
        f"{scope} (request id {server.requests[-1].request_id})"
    )
    assert lines[1] == (
        f"  this API key lacks the scope {scope}: create a key that has it in PowerPost's "
        "settings, and use that one (POWERPOST_API_KEY or --api-key)"
    )
    assert len(lines) == 2  # not the workspace hint of other 403s
    as_json = await cli(*argv, "--json", server=server, key=NO_SCOPES_KEY)
    assert as_json.code == 3
    error = json_error(as_json)
    assert error["type"] == "InsufficientScopeError"
    assert (error["status_code"], error["code"], error["scope"]) == (
        403,
        "INSUFFICIENT_SCOPE",
        scope,
    )
    assert scope in error["hints"][0]


# -- media upload --------------------------------------------------------------------------


async def test_upload_prints_the_media(cli: Run, server: FakePowerPost, png: Path) -> None:
    result = await cli("media", "upload", str(png), server=server)
    assert result.code == 0, result.err
    assert result.err == ""  # no progress lines when stdout is not a terminal
    rows = fields(result)
    assert rows["type"] == "image"
    assert rows["file name"] == "cat.png"
    assert rows["size"] == f"{len(PNG)} bytes"
    assert rows["mime type"] == "image/png"
    assert server.media(rows["media id"])["file_size"] == len(PNG)
    (record,) = server.requests
    assert record.endpoint == "upload"


async def test_upload_json_is_the_wire_format(
    cli: Run, server: FakePowerPost, tmp_path: Path
) -> None:
    path = tmp_path / "photo.bin"  # the format comes from the bytes, not the name
    path.write_bytes(JPEG)
    result = await cli("media", "upload", str(path), "--type", "image", "--json", server=server)
    assert result.code == 0, result.err
    media = result.json()
    assert {"media_id", "type", "file_name", "file_size", "mime_type"} <= set(media)
    assert (media["type"], media["file_name"], media["file_size"]) == ("image", "photo.bin", 64)
    assert media["mime_type"] == "image/jpeg"


async def test_upload_refuses_what_it_can_before_sending(
    cli: Run, server: FakePowerPost, tmp_path: Path, png: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    for argv, message in [
        ([str(text)], "is not an accepted format"),
        ([str(tmp_path / "missing.png")], "cannot read"),
        ([str(tmp_path)], "cannot read"),
        ([str(png), "--type", "video"], "it cannot be uploaded as type='video'"),
    ]:
        result = await cli("media", "upload", *argv, server=server)
        assert result.code == 2, argv
        assert message in result.err, result.err
    assert len(server.requests) == 0


async def test_upload_over_the_storage_quota_exits_3(cli: Run, png: Path) -> None:
    async with FakePowerPost(keys={KEY: [WS]}, storage_quota=10) as fake:
        result = await cli("media", "upload", str(png), "--json", server=fake)
    assert result.code == 3
    error = json_error(result)
    assert error["type"] == "StorageQuotaExceededError"
    assert (error["status_code"], error["code"]) == (413, "STORAGE_QUOTA_EXCEEDED")


async def test_upload_shows_a_bar_with_rich(
    cli: Run, server: FakePowerPost, tmp_path: Path
) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(PNG + b"\x00" * 600_000)  # a few 256 KiB chunks
    result = await cli("--ui", "rich", "media", "upload", str(big), server=server)
    assert result.code == 0, result.err
    assert "big.png" in result.out
    assert "KiB" in result.out
    assert "media id" in result.out


# -- images ---------------------------------------------------------------------------------


async def test_images_generate_prints_the_id_and_cost(cli: Run, server: FakePowerPost) -> None:
    result = await cli("images", "generate", "a cat on a skateboard", server=server)
    assert result.code == 0, result.err
    rows = fields(result)
    assert rows["credits used"] == "5"  # flux2-flex, one image
    assert server.image_generation(rows["created"])["prompt"] == "a cat on a skateboard"
    as_json = await cli(
        "images", "generate", "a dog", "--quantity", "2", "--model", "ideogram-3", "--json",
        server=server,
    )  # fmt: skip
    created = as_json.json()
    assert set(created) >= {"image_generation_id", "status", "credits_used", "status_url"}
    assert created["credits_used"] == 12


async def test_images_generate_wait_shows_the_images(cli: Run, server: FakePowerPost) -> None:
    result = await cli(
        "images", "generate", "a cat", "--quantity", "2", "--size", "landscape", "--wait",
        server=server,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "status        completed" in result.out
    assert result.out.count("1920x1080") == 2
    as_json = await cli("images", "generate", "a cat", "--wait", "--json", server=server)
    job = as_json.json()
    assert job["status"] == "completed"
    assert len(job["images"]) == 1
    assert set(job["images"][0]) >= {"media_id", "url", "width", "height"}


async def test_a_partial_failure_keeps_the_images_and_exits_1(
    cli: Run, server: FakePowerPost
) -> None:
    argv = ("images", "generate", "a cat [partial]", "--quantity", "4", "--wait")
    result = await cli(*argv, server=server)
    assert result.code == 1
    assert "error         IMAGE_GENERATION_FAILED: 2 of 4 images failed" in result.out
    assert "2 image(s) were made and kept; only they cost credits" in result.out
    as_json = await cli(*argv, "--json", server=server)
    assert as_json.code == 1
    job = as_json.json()
    assert (job["status"], len(job["images"]), job["credits_used"]) == ("failed", 2, 10)
    got = await cli("images", "get", job["image_generation_id"], "--json", server=server)
    assert got.code == 1
    assert got.json() == job


async def test_images_from_a_generation(cli: Run, server: FakePowerPost) -> None:
    (generation_id,) = server.seed_generations(1, status="completed", post_types=("x-post",))
    argv = ("images", "generate", "--generation-id", generation_id)
    result = await cli(*argv, "--source-post-type", "x-post", "--wait", "--json", server=server)
    assert result.code == 0, result.err
    job = result.json()
    assert job["generation_id"] == generation_id
    assert job["prompt"]  # derived from the captions


async def test_images_unknown_model_warns_then_reports_the_api_error(
    cli: Run, server: FakePowerPost
) -> None:
    result = await cli("images", "generate", "a cat", "--model", "dalle-9", server=server)
    assert result.code == 3
    lines = result.err.splitlines()
    assert lines[0].startswith("warning: image model 'dalle-9' is not one this SDK knows")
    assert lines[1].startswith("error: 400 VALIDATION_ERROR")


async def test_images_without_credits_exits_3_and_says_to_check(cli: Run) -> None:
    async with FakePowerPost(keys={KEY: [WS]}, credits=3) as fake:
        result = await cli("images", "generate", "a cat", server=fake)
        as_json = await cli("images", "generate", "a cat", "--json", server=fake)
    assert result.code == 3
    assert result.err.splitlines()[1:] == ["  check the balance: powerpost credits"]
    error = json_error(as_json)
    assert (error["type"], error["status_code"]) == ("InsufficientCreditsError", 402)


async def test_images_get_unknown_is_not_found(cli: Run, server: FakePowerPost) -> None:
    result = await cli("images", "get", "nope", server=server)
    assert result.code == 3
    assert result.err.startswith("error: 404 NOT_FOUND: Image generation not found")
    error = json_error(await cli("images", "get", "nope", "--json", server=server))
    assert (error["type"], error["code"]) == ("NotFoundError", "NOT_FOUND")


# -- videos ---------------------------------------------------------------------------------


async def test_videos_generate_and_get(cli: Run, server: FakePowerPost, png: Path) -> None:
    media_id = await upload(cli, server, png)
    result = await cli(
        "videos", "generate", "the cat skates away", "--duration", "5", "--audio",
        "--source-image", media_id, "--wait", server=server,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "status        completed" in result.out
    assert "audio         yes" in result.out
    assert "credits used  25" in result.out  # kling 4/s x 5 s, +25% for audio
    as_json = await cli(
        "videos", "generate", "a river", "--duration", "8", "--model", "veo-3.1", "--json",
        server=server,
    )  # fmt: skip
    created = as_json.json()
    assert created["credits_used"] == 64
    got = await cli("videos", "get", created["video_generation_id"], "--json", server=server)
    assert got.code == 0
    video = got.json()
    assert (video["model"], video["duration"], video["status"]) == ("veo-3.1", 8, "completed")
    assert video["video"]["media_id"]


async def test_a_failed_video_exits_1(cli: Run, server: FakePowerPost) -> None:
    result = await cli(
        "videos", "generate", "[fail] a river", "--duration", "5", "--wait", "--json",
        server=server,
    )  # fmt: skip
    assert result.code == 1
    video = result.json()
    assert (video["status"], video["credits_used"]) == ("failed", 0)
    assert video["error"]["code"] == "VIDEO_GENERATION_FAILED"


async def test_a_video_wait_past_the_deadline_exits_1(cli: Run) -> None:
    async with FakePowerPost(keys={KEY: [WS]}, pending=0, processing=60) as fake:
        argv = ("videos", "generate", "a river", "--duration", "5", "--wait", "--timeout", "0.2")
        result = await cli(*argv, server=fake)
        as_json = await cli(*argv, "--json", server=fake)
    assert result.code == 1
    lines = result.err.splitlines()
    assert lines[0].startswith("error: video generation ")
    assert lines[0].endswith(" did not finish within 0.2 s")
    assert lines[1].startswith("  check on it: powerpost videos get ")
    error = json_error(as_json)
    assert error["type"] == "WaitTimeoutError"
    assert len(error["pending_ids"]) == 1


# -- posts ----------------------------------------------------------------------------------


async def test_posts_create_items_titles_and_media(
    cli: Run, server: FakePowerPost, png: Path
) -> None:
    image = await upload(cli, server, png)
    other = await upload(cli, server, png)
    result = await cli(
        "posts", "create",
        "--item", "x-post=Dark mode is here",
        "--item", "youtube-short=Dark mode in 30 seconds",
        "--title", "youtube-short=Dark mode",
        "--media", image,
        "--media", f"x-post={other}",
        "--json", server=server,
    )  # fmt: skip
    assert result.code == 0, result.err
    post = result.json()
    assert post["status"] == "draft"
    assert post["post_id"].startswith("post-")
    x, youtube = post["items"]
    assert (x["post_type"], x["content"], x["media_ids"]) == (
        "x-post",
        "Dark mode is here",
        [image, other],
    )
    assert (youtube["title"], youtube["media_ids"]) == ("Dark mode", [image])
    assert server.post(post["post_id"])["items"][1]["title"] == "Dark mode"
    plain = await cli("posts", "create", "--item", "linkedin-post=Hello", server=server)
    assert plain.code == 0
    assert "status   draft" in plain.out
    assert "linkedin-post  draft" in plain.out
    assert plain.out.splitlines()[-1].startswith(
        "a draft: publish it with  powerpost posts publish post-"
    )


async def test_posts_create_from_a_generation(cli: Run, server: FakePowerPost) -> None:
    (generation_id,) = server.seed_generations(
        1, status="completed", post_types=("x-post", "youtube-video")
    )
    result = await cli(
        "posts", "create", "--generation-id", generation_id,
        "--item", "x-post", "--item", "youtube-video", "--json", server=server,
    )  # fmt: skip
    assert result.code == 0, result.err
    post = result.json()
    assert post["generation_id"] == generation_id
    assert all(item["content"] for item in post["items"])
    assert post["items"][1]["title"]  # the generation's YouTube title


async def test_posts_create_with_unknown_media_exits_3(cli: Run, server: FakePowerPost) -> None:
    result = await cli("posts", "create", "--item", "x-post=Hi", "--media", "m-404", server=server)
    assert result.code == 3
    assert result.err.startswith("error: 400 VALIDATION_ERROR")


async def test_publish_and_wait_every_item_posts(cli: Run, server: FakePowerPost) -> None:
    post = await create_post(cli, server, "x-post=Hello", "linkedin-post=Hello")
    result = await cli("posts", "publish", post["post_id"], "--wait", server=server)
    assert result.code == 0, result.err
    assert "post    " + post["post_id"] in result.out
    assert "status   published" in result.out
    assert result.out.count(" posted ") == 2
    got = await cli("posts", "get", post["post_id"], "--json", server=server)
    assert got.code == 0
    items = got.json()["items"]
    assert all(item["status"] == "posted" and item["platform_post_id"] for item in items)


async def test_publish_without_wait_json(cli: Run, server: FakePowerPost) -> None:
    post = await create_post(cli, server, "x-post=Hello")
    result = await cli("posts", "publish", post["post_id"], "--json", server=server)
    assert result.code == 0
    action = result.json()
    assert action["post_id"] == post["post_id"]
    assert action["status"] in ("publishing", "published")  # items post at once here


async def test_a_failed_item_is_kept_and_exits_1(cli: Run, server: FakePowerPost) -> None:
    post = await create_post(cli, server, "x-post=Hello", "linkedin-post=Oops [fail]")
    result = await cli("posts", "publish", post["post_id"], "--wait", "--json", server=server)
    assert result.code == 1
    done = result.json()
    assert done["status"] == "published"  # one item posted
    x, linkedin = done["items"]
    assert (x["status"], linkedin["status"]) == ("posted", "failed")
    assert linkedin["error"]["code"]
    plain = await cli("posts", "get", post["post_id"], server=server)
    assert plain.code == 1
    assert plain.out.splitlines()[-1] == "1 of 2 items failed, 1 posted"


async def test_publishing_twice_is_already_published(cli: Run, server: FakePowerPost) -> None:
    post = await create_post(cli, server, "x-post=Hello")
    assert (await cli("posts", "publish", post["post_id"], server=server)).code == 0
    result = await cli("posts", "publish", post["post_id"], "--json", server=server)
    assert result.code == 3
    error = json_error(result)
    assert (error["type"], error["status_code"], error["code"]) == (
        "AlreadyPublishedError",
        409,
        "ALREADY_PUBLISHED",
    )


async def test_a_platform_not_connected_is_named(cli: Run, server: FakePowerPost) -> None:
    server.disconnect_platforms("x", workspace_id=WS)
    post = await create_post(cli, server, "x-post=Hello", "linkedin-post=Hello")
    result = await cli("posts", "publish", post["post_id"], server=server)
    assert result.code == 3
    lines = result.err.splitlines()
    assert lines[0].startswith("error: 422 PLATFORM_NOT_CONNECTED")
    assert lines[1] == f"  connect x to workspace {WS} in PowerPost, or leave those items out"
    error = json_error(await cli("posts", "publish", post["post_id"], "--json", server=server))
    assert (error["type"], error["platforms"]) == ("PlatformNotConnectedError", ["x"])


async def test_schedule_then_cancel(cli: Run, server: FakePowerPost) -> None:
    post = await create_post(cli, server, "x-post=Hello")
    result = await cli("posts", "schedule", post["post_id"], "--at", LATER, server=server)
    assert result.code == 0, result.err
    assert "status     scheduled" in result.out
    assert "scheduled  2026-02-01 08:00:00 UTC" in result.out
    as_json = await cli(
        "posts", "schedule", post["post_id"], "--at", "2026-02-02T10:00:00Z", "--json",
        server=server,
    )  # fmt: skip
    action = as_json.json()
    assert (action["status"], action["scheduled_at"]) == ("scheduled", "2026-02-02T10:00:00Z")
    cancel = await cli("posts", "cancel", post["post_id"], "--json", server=server)
    assert cancel.code == 0
    assert cancel.json()["status"] == "draft"
    again = await cli("posts", "cancel", post["post_id"], "--json", server=server)
    assert again.code == 3
    assert json_error(again)["status_code"] == 409


async def test_schedule_in_the_past_is_an_api_error(cli: Run, server: FakePowerPost) -> None:
    post = await create_post(cli, server, "x-post=Hello")
    result = await cli(
        "posts", "schedule", post["post_id"], "--at", "2025-01-01T00:00:00Z", server=server
    )
    assert result.code == 3
    assert result.err.startswith("error: 400 VALIDATION_ERROR")


async def test_posts_get_unknown_is_not_found(cli: Run, server: FakePowerPost) -> None:
    error = json_error(await cli("posts", "get", "post-nope", "--json", server=server))
    assert (error["type"], error["status_code"]) == ("NotFoundError", 404)


# -- analytics ------------------------------------------------------------------------------


async def test_analytics_of_a_posted_and_a_draft_item(cli: Run, server: FakePowerPost) -> None:
    post = await create_post(cli, server, "x-post=Hello")
    item_id = post["items"][0]["item_id"]
    draft = await cli("analytics", item_id, server=server)
    assert draft.code == 0
    assert fields(draft)["metrics"] == "none yet: measured once the item is posted"
    assert (await cli("posts", "publish", post["post_id"], "--wait", server=server)).code == 0
    result = await cli("analytics", item_id, server=server)
    assert result.code == 0
    rows = fields(result)
    assert (rows["status"], rows["platform"]) == ("posted", "x")
    assert int(rows["views"]) > 0
    numbers = (await cli("analytics", item_id, "--json", server=server)).json()
    assert numbers["post_item_id"] == item_id
    assert set(numbers["metrics"]) >= {"views", "likes", "comments", "fetched_at"}
    assert str(numbers["metrics"]["views"]) == rows["views"]


async def test_analytics_of_an_unknown_item(cli: Run, server: FakePowerPost) -> None:
    result = await cli("analytics", "item-nope", server=server)
    assert result.code == 3
    assert result.err.startswith("error: 404 NOT_FOUND: Post item not found")


# -- calendar -------------------------------------------------------------------------------


async def test_calendar_create_list_get_delete(cli: Run, server: FakePowerPost) -> None:
    created = await cli(
        "calendar", "create", "Launch day", "--date", "2026-05-01", "--time", "09:30",
        "--description", "Dark mode", "--platform", "x", "--platform", "linkedin", "--json",
        server=server,
    )  # fmt: skip
    assert created.code == 0, created.err
    entry = created.json()
    assert (entry["title"], entry["scheduled_date"], entry["scheduled_time"]) == (
        "Launch day",
        "2026-05-01",
        "09:30",
    )
    assert entry["platforms"] == ["x", "linkedin"]
    plain = await cli("calendar", "create", "Recap", "--date", "2026-05-03", server=server)
    assert fields(plain)["time"] == "-"
    listed = await cli(
        "calendar", "list", "--from", "2026-05-01", "--to", "2026-05-31", server=server
    )
    assert listed.code == 0
    lines = listed.out.splitlines()
    assert lines[0].split() == ["ID", "DATE", "TIME", "PLATFORMS", "TITLE"]
    assert lines[1].split()[1:] == ["2026-05-01", "09:30", "x,linkedin", "Launch", "day"]
    assert lines[-1] == "2 entries from 2026-05-01 to 2026-05-31"
    as_json = await cli(
        "calendar", "list", "--from", "2026-05-01", "--to", "2026-05-02", "--json", server=server
    )
    assert as_json.json_lines() == [entry]
    got = await cli("calendar", "get", entry["entry_id"], "--json", server=server)
    assert got.json() == entry
    deleted = await cli("calendar", "delete", entry["entry_id"], "--json", server=server)
    assert deleted.json() == {"entry_id": entry["entry_id"], "deleted": True}
    gone = await cli("calendar", "get", entry["entry_id"], server=server)
    assert gone.code == 3
    assert gone.err.startswith("error: 404 NOT_FOUND")


async def test_an_empty_calendar(cli: Run, server: FakePowerPost) -> None:
    result = await cli(
        "calendar", "list", "--from", "2026-01-01", "--to", "2026-01-01", server=server
    )
    assert (result.code, result.out) == (0, "0 entries from 2026-01-01 to 2026-01-01\n")


# -- --fake ---------------------------------------------------------------------------------


async def test_the_new_commands_run_against_the_embedded_fake(cli: Run, png: Path) -> None:
    uploaded = await cli("--fake", "media", "upload", str(png), "--json")
    assert uploaded.code == 0, uploaded.err
    assert uploaded.err.startswith("note: using a fresh embedded fake PowerPost API")
    assert uploaded.json()["type"] == "image"
    image = await cli("--fake", "images", "generate", "a cat", "--json")
    assert image.code == 0
    assert image.json()["credits_used"] == 5
    post = await cli("--fake", "posts", "create", "--item", "x-post=Hi", "--json")
    assert post.json()["status"] == "draft"
    empty = await cli("--fake", "calendar", "list", "--from", "2026-01-01", "--to", "2026-12-31")
    assert empty.out == "0 entries from 2026-01-01 to 2026-12-31\n"


# -- the SDK's models through to_dict: the JSON output is the wire format ------------------


async def test_json_output_is_to_dict_of_the_model(cli: Run, server: FakePowerPost) -> None:
    post = await create_post(cli, server, "x-post=Hello")
    async with server.client(use_socket=True) as pp:
        model = await pp.posts.get(post["post_id"])
    got = await cli("posts", "get", post["post_id"], "--json", server=server)
    assert got.json() == json.loads(json.dumps(to_dict(model)))


# -- demo --pipeline ------------------------------------------------------------------------

PIPELINE_STEPS = ["upload", "caption", "image", "post", "publish", "await", "analytics"]


async def test_pipeline_report_adds_up(cli: Run) -> None:
    result = await cli("demo", "--pipeline", "--posts", "10", "--pace", "0.2", "--json")
    assert result.code == 0, result.err
    summary = result.json()
    steps = {step["step"]: step for step in summary["steps"]}
    assert list(steps) == PIPELINE_STEPS
    total = summary["total"]
    # Every request the SDK sent reached the fake, and each is counted in one step.
    assert total["requests"] == total["requests_sent"] == total["requests_logged"]
    assert total["requests"] == sum(step["requests"] for step in steps.values())
    for step in steps.values():
        assert step["requests"] == step["requests_sent"] == sum(step["by_endpoint"].values())
    outcome = summary["outcome"]
    items = outcome["items_posted"] + outcome["items_failed"]
    assert steps["upload"]["by_endpoint"] == {"upload": 10}
    assert steps["caption"]["by_endpoint"]["create"] == 10
    assert steps["image"]["by_endpoint"]["image_create"] == 10
    assert steps["post"]["by_endpoint"] == {"post_create": 10}
    assert steps["publish"]["by_endpoint"] == {"publish": 10}
    assert set(steps["await"]["by_endpoint"]) == {"post_get"}
    assert steps["analytics"]["by_endpoint"] == {"analytics": items}
    # One polling GET at least per job awaited.
    assert steps["image"]["by_endpoint"]["image_get"] >= 10
    assert steps["await"]["by_endpoint"]["post_get"] >= 10
    # Every 5th post has one item set to fail: reported, with the others posted.
    assert outcome["posts_created"] == 10
    assert outcome["posts_published"] + outcome["posts_failed"] == 10
    assert outcome["items_failed"] == 2 == len(outcome["failed_items"])
    assert outcome["posts_fully_published"] == 8
    assert all(item["code"] for item in outcome["failed_items"])
    assert summary["analytics"]["items"] == items
    assert summary["analytics"]["with_metrics"] == outcome["items_posted"]
    # Credits: what each step cost adds up to what left the balance.
    balance = summary["balance"]
    assert total["credits"] == balance["start"] - balance["end"]
    assert total["credits"] == sum(step["credits"] for step in steps.values())
    assert steps["upload"]["credits"] == steps["analytics"]["credits"] == 0
    assert steps["image"]["credits"] == 10 * 5  # one flux2-flex image per post
    assert steps["await"]["credits"] > 0  # publishing is charged as items post
    assert total["time_s"] < 30


async def test_pipeline_plain_output(cli: Run) -> None:
    result = await cli("demo", "--pipeline", "--posts", "5", "--pace", "0.2")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == (
        "PowerPost pipeline demo: 5 posts, every step at once, on an embedded fake API"
    )
    progress = [line for line in lines if line[:1].isdigit() and line[1:2] == "/"]
    assert [line.split()[1] for line in progress] == PIPELINE_STEPS
    assert "1/7 upload    5 photos uploaded in " in result.out
    table = lines[lines.index("Cost per step") + 1 :]
    assert table[0].split()[:5] == ["STEP", "REQUESTS", "PER", "POST", "CREDITS"]
    total = next(line for line in table if line.split()[0] == "total").split()
    steps = [line.split() for line in table[1:8]]
    assert int(total[1]) == sum(int(row[1]) for row in steps)
    assert f"{total[1]} sent by the SDK, {total[1]} in the fake's log" in result.out
    assert "posts: 5 of 5 published (4 with every item), 0 failed" in lines
    assert "items: 10 posted, 1 failed (kept below)" in lines  # 11 items, one set to fail


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--posts", "5"], "--posts goes with --pipeline"),
        (["demo", "--pipeline", "--count", "5"], "--count is for the generations demo"),
    ],
)
async def test_pipeline_flags_misused(cli: Run, argv: list[str], message: str) -> None:
    result = await cli(*argv)
    assert result.code == 2
    assert result.err.startswith(f"error: {message}")


def test_the_photos_are_valid_pngs() -> None:
    import struct
    import zlib

    data = photo(3, size=4)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    offset, kinds = 8, []
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc
        kinds.append(kind)
        if kind == b"IDAT":
            assert len(zlib.decompress(body)) == 4 * (1 + 3 * 4)
        offset += 12 + length
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]
    assert photo(1) != photo(2)


# -- the documented command lines parse -------------------------------------------------------

ROOT = Path(__file__).parent.parent


def documented_command_lines() -> list[str]:
    """Every ``powerpost ...`` line of the shell and text blocks of docs/cli.md and the
    README (continuations joined, ``# comments`` and ``$`` prompts dropped)."""
    lines: list[str] = []
    for page in (ROOT / "docs" / "cli.md", ROOT / "README.md"):
        text = page.read_text(encoding="utf-8")
        for block in re.findall(r"```(?:text|sh)\n(.*?)```", text, re.S):
            joined = block.replace("\\\n", " ")
            for line in joined.splitlines():
                line = line.removeprefix("$ ").strip()
                if line.startswith("powerpost ") and not line.startswith("powerpost COMMAND"):
                    lines.append(line)
    return lines


def test_the_docs_show_command_lines() -> None:
    lines = documented_command_lines()
    for command in ("media upload", "images generate", "posts create", "calendar list"):
        assert any(line.startswith(f"powerpost {command}") for line in lines), command


@pytest.mark.parametrize("line", documented_command_lines())
def test_every_documented_command_line_parses(line: str) -> None:
    words = shlex.split(line, comments=True)
    build_parser().parse_args(words[1:])  # raises on a usage error


def test_job_errors_report_their_own_ids() -> None:
    """The image and video errors subclass GenerationFailedError without its
    ``generation``: each is reported with its own job's id."""
    image = ImageGeneration(
        image_generation_id="img-1",
        status=GenerationStatus.FAILED,
        images=(GeneratedImage(media_id="m-1"),),
        error=GenerationError(code="IMAGE_GENERATION_FAILED", message="1 of 2 failed"),
    )
    report = ErrorReport.of(ImageGenerationFailedError(image)).as_json()
    assert report["type"] == "ImageGenerationFailedError"
    assert (report["image_generation_id"], report["media_ids"]) == ("img-1", ["m-1"])
    assert report["code"] == "IMAGE_GENERATION_FAILED"
    video = VideoGeneration(video_generation_id="vid-1", status=GenerationStatus.FAILED)
    report = ErrorReport.of(VideoGenerationFailedError(video)).as_json()
    assert report["video_generation_id"] == "vid-1"
    post = Post(
        post_id="post-1",
        status=PostStatus.FAILED,
        items=(PostItem(item_id="i-1", post_type="x-post", status=PostItemStatus.FAILED),),
    )
    report = ErrorReport.of(PostFailedError(post)).as_json()
    assert (report["post_id"], report["failed_item_ids"]) == ("post-1", ["i-1"])
