"""The ``powerpost`` command, driven in-process against the embedded fake server.

``main()`` runs its own event loop (``asyncio.run``), so each call goes to a worker thread
while the fake serves on the test's loop. Every call also checks that the API key never
shows up in what was printed, and that nothing printed a traceback. The console-script
wiring, ``serve-fake`` and Ctrl-C are checked in subprocesses, bounded by timeouts.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.metadata import entry_points
from typing import Any

import aiohttp
import attrs
import pytest

from powerpost_async import KNOWN_POST_TYPES, GenerationStatus, __version__, to_dict
from powerpost_async.cli import main
from powerpost_async.testing import FakePowerPost

KEY = "pp_live_sk_SECRET_cli_key_0123456789"
WRONG_KEY = "pp_live_sk_WRONG_cli_key_9876543210"
WS = "ws_cli"
SECRETS = (KEY, WRONG_KEY)
# A subprocess gets this long for any one step; they take well under a second.
STEP_TIMEOUT = 20.0
CREDITS = "/api/v1/account/credits"


@attrs.frozen
class Result:
    code: int
    out: str
    err: str

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines()]


Run = Callable[..., Awaitable[Result]]


@pytest.fixture
async def server() -> AsyncIterator[FakePowerPost]:
    """A fake on a socket where generations finish at once (durations 0)."""
    async with FakePowerPost(keys={KEY: [WS]}, pending=0.0, processing=0.0, seed=7) as fake:
        yield fake


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    """``await cli(*argv, server=...)``: run ``main`` and capture what it printed."""

    async def run(*argv: str, server: FakePowerPost | None = None, key: str = KEY) -> Result:
        args = list(argv)
        if server is not None:
            args = [
                *("--base-url", server.base_url, "--api-key", key),
                *("--workspace-id", server.workspace_id),
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


def one_error_line(result: Result) -> str:
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ")
    return lines[0]


def one_error_line_and_hints(result: Result) -> list[str]:
    lines = result.err.splitlines()
    assert lines[0].startswith("error: ")
    assert all(line.startswith("  ") for line in lines[1:])
    return lines


def json_error(result: Result) -> dict[str, Any]:
    """The error of a ``--json`` run: one JSON object, the last line on stdout.

    Nothing else says it: stderr stays empty, and the object has the one shape of every
    JSON error of the CLI (``type`` and ``message``, then fields a program may act on).
    """
    assert result.err == ""
    document = json.loads(result.out.splitlines()[-1])
    assert set(document) == {"error"}
    error: dict[str, Any] = document["error"]
    assert isinstance(error["type"], str)
    assert isinstance(error["message"], str)
    assert not error["message"].startswith("error")
    return error


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- usage, configuration ------------------------------------------------------------------


async def test_help_lists_the_commands_and_the_exit_codes(cli: Run) -> None:
    result = await cli("--help")
    assert result.code == 0
    for text in ("generations list", "sweep", "credits", "serve-fake", "demo", "--fake"):
        assert text in result.out
    assert "exit codes:" in result.out
    for code in ("0 ", "1 ", "2 ", "3 ", "130 "):
        assert f"\n  {code}" in result.out
    sub = await cli("generations", "create", "--help")
    assert sub.code == 0
    assert "--post-type" in sub.out
    assert "--wait" in sub.out


async def test_version(cli: Run) -> None:
    result = await cli("--version")
    assert result.code == 0
    assert result.out.strip() == f"powerpost {__version__}"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["generations"],
        ["nonsense"],
        ["generations", "list", "--limit", "0"],
        ["generations", "list", "--limit", "101"],
        ["generations", "list", "--status", "done"],
        ["generations", "create", "--prompt", "no post type"],
        ["generations", "create", "--post-type", "x-post", "--research-mode", "shallow"],
        ["generations", "wait"],
        ["generations", "wait", "some-id", "--timeout", "0"],
        ["--timeout", "-1", "credits"],
        ["demo", "--count", "0"],
        ["demo", "--pace", "nan"],
        ["serve-fake", "--port", "70000"],
        ["serve-fake", "--pending", "-1"],
        ["serve-fake", "--pending", "2-1"],
        ["serve-fake", "--processing", "1-2-3"],
        ["serve-fake", "--processing", "inf"],
        ["serve-fake", "--failure-rate", "1.5"],
        ["serve-fake", "--rate-limit", "60"],
        ["serve-fake", "--rate-limit", "0/60"],
        ["serve-fake", "--rate-limit", "10/0"],
        ["serve-fake", "--rate-limit", "ten/60"],
        ["serve-fake", "--fault-rate", "-0.1"],
        ["serve-fake", "--fault-rate", "0.1", "--fault-kinds", "404"],
        ["serve-fake", "--fault-rate", "0.1", "--fault-kinds", "503,explode"],
    ],
)
async def test_bad_usage_exits_2(cli: Run, argv: list[str]) -> None:
    result = await cli(*argv)
    assert result.code == 2
    assert result.out == ""
    assert "usage: powerpost" in result.err


async def test_no_key_says_what_to_set_and_mentions_fake(cli: Run) -> None:
    result = await cli("generations", "list")
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("error: no API key configured\n")
    assert "export POWERPOST_API_KEY=" in result.err
    assert "POWERPOST_WORKSPACE_ID" in result.err
    assert "--fake" in result.err


async def test_no_workspace_says_what_to_set(
    cli: Run, server: FakePowerPost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERPOST_API_KEY", KEY)
    monkeypatch.setenv("POWERPOST_BASE_URL", server.base_url)
    result = await cli("generations", "list")
    assert result.code == 2
    assert "no workspace configured" in result.err
    assert "export POWERPOST_WORKSPACE_ID=" in result.err
    assert len(server.requests) == 0
    # The balance needs no workspace.
    credits = await cli("credits")
    assert credits.code == 0
    assert credits.out == f"{server.balance()} credits\n"


async def test_environment_is_read_and_flags_win_over_it(
    cli: Run, server: FakePowerPost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERPOST_API_KEY", KEY)
    monkeypatch.setenv("POWERPOST_WORKSPACE_ID", WS)
    monkeypatch.setenv("POWERPOST_BASE_URL", server.base_url)
    from_env = await cli("credits", "--json")
    assert from_env.code == 0
    assert from_env.json_lines() == [{"balance": 1000}]

    monkeypatch.setenv("POWERPOST_API_KEY", WRONG_KEY)
    monkeypatch.setenv("POWERPOST_WORKSPACE_ID", "ws_other")
    monkeypatch.setenv("POWERPOST_BASE_URL", f"http://127.0.0.1:{free_port()}")
    flags = await cli("generations", "list", "--json", server=server)
    assert flags.code == 0
    assert server.requests[-1].workspace_id == WS


async def test_usage_errors_are_json_under_json(cli: Run) -> None:
    result = await cli("generations", "list", "--limit", "0", "--json")
    assert result.code == 2
    assert json_error(result) == {
        "type": "UsageError",
        "message": "argument --limit: must be between 1 and 100, got 0",
        "hints": ["powerpost generations list --help tells more"],
    }
    unknown = await cli("credits", "--json", "--nonsense")
    assert unknown.code == 2
    assert "--nonsense" in json_error(unknown)["message"]
    # After "--", "--json" is an id, not the flag: the error stays a line on stderr.
    literal = await cli("generations", "wait", "--", "--json")
    assert literal.code == 2
    assert literal.out == ""
    assert one_error_line_and_hints(literal)[0] == "error: no API key configured"


async def test_no_key_is_a_json_error_under_json(cli: Run) -> None:
    result = await cli("generations", "list", "--json")
    assert result.code == 2
    error = json_error(result)
    assert (error["type"], error["message"]) == ("UsageError", "no API key configured")
    assert any("export POWERPOST_API_KEY=" in hint for hint in error["hints"])


@pytest.mark.parametrize(
    "flag", [("--api-key", KEY), ("--base-url", "http://127.0.0.1:9"), ("--workspace-id", WS)]
)
async def test_fake_with_a_key_url_or_workspace_is_a_usage_error(
    cli: Run, flag: tuple[str, str]
) -> None:
    result = await cli("--fake", *flag, "generations", "list")
    assert result.code == 2
    assert result.out == ""
    assert result.err.splitlines()[0] == (
        f"error: --fake cannot be combined with {flag[0]}: the embedded fake API has its "
        "own key, workspace and URL"
    )
    as_json = await cli("--fake", *flag, "credits", "--json")
    assert as_json.code == 2
    assert json_error(as_json)["type"] == "UsageError"


async def test_fake_leaves_the_environment_alone(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERPOST_API_KEY", WRONG_KEY)
    monkeypatch.setenv("POWERPOST_BASE_URL", f"http://127.0.0.1:{free_port()}")
    result = await cli("--fake", "credits")
    assert (result.code, result.out) == (0, "10000 credits\n")


async def test_a_plain_http_url_says_how_to_allow_it(cli: Run) -> None:
    result = await cli("--api-key", KEY, "--base-url", "http://example.com", "credits")
    assert result.code == 2
    assert result.out == ""
    first, hint = result.err.splitlines()
    assert first.startswith("error: bad configuration: refusing to send the API key in clear")
    assert hint == "  on a network you trust, add --allow-insecure-http before the command"


def _own_address() -> str | None:
    """An address of this machine that is not loopback, if it has one (nothing is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: a UDP connect only picks a route
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


async def test_allow_insecure_http_lets_the_key_go_over_plain_http(cli: Run) -> None:
    address = _own_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    fake = FakePowerPost(keys={KEY: [WS]})
    try:
        await fake.start(host=address)
    except OSError:
        pytest.skip(f"cannot serve on {address}")
    try:
        argv = ("--base-url", fake.base_url, "--api-key", KEY)
        refused = await cli(*argv, "credits")
        assert refused.code == 2
        assert "--allow-insecure-http" in refused.err
        allowed = await cli(*argv, "--allow-insecure-http", "credits")
        assert (allowed.code, allowed.out) == (0, "1000 credits\n")
        assert len(fake.requests) == 1
    finally:
        await fake.aclose()


# -- API and network errors -------------------------------------------------------------------


async def test_not_found_is_one_line_and_exit_3(cli: Run, server: FakePowerPost) -> None:
    result = await cli("generations", "get", "no-such-generation", server=server)
    assert result.code == 3
    assert result.out == ""
    line = one_error_line(result)
    assert line.startswith("error: 404 NOT_FOUND: Generation not found (request id req_")


async def test_not_found_is_json_under_json(cli: Run, server: FakePowerPost) -> None:
    result = await cli("generations", "get", "no-such-generation", "--json", server=server)
    assert result.code == 3
    error = json_error(result)
    request_id = server.requests[-1].request_id
    assert error == {
        "type": "NotFoundError",
        "message": f"404 NOT_FOUND: Generation not found (request id {request_id})",
        "status_code": 404,
        "code": "NOT_FOUND",
        "request_id": request_id,
    }


async def test_invalid_key_exits_3_and_says_what_to_check(
    cli: Run, server: FakePowerPost, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = await cli("credits", server=server, key=WRONG_KEY)
    assert result.code == 3
    first, *hints = result.err.splitlines()
    assert first.startswith("error: 401 INVALID_API_KEY: ")
    assert hints == [
        "  the API did not accept the key from --api-key: check it",
        "  or set POWERPOST_API_KEY instead (a flag shows in the process list)",
    ]
    as_json = await cli("credits", "--json", server=server, key=WRONG_KEY)
    error = json_error(as_json)
    assert (error["type"], error["status_code"]) == ("AuthenticationError", 401)
    assert error["hints"] == [hint.strip() for hint in hints]

    monkeypatch.setenv("POWERPOST_API_KEY", WRONG_KEY)
    from_env = await cli("--base-url", server.base_url, "credits")
    assert from_env.err.splitlines()[1:] == [
        "  the API did not accept the key from POWERPOST_API_KEY: check it",
        "  set it with:  export POWERPOST_API_KEY=pp_live_sk_...",
    ]
    # Also when the error is about the one id a command was given.
    (generation_id,) = server.seed_generations(1, status="completed")
    waited = await cli("generations", "wait", generation_id, server=server, key=WRONG_KEY)
    assert waited.code == 3
    assert "did not accept the key" in waited.err


async def test_a_workspace_the_key_may_not_use_says_so(cli: Run, server: FakePowerPost) -> None:
    result = await cli("--workspace-id", "ws_other", "generations", "list", server=server)
    assert result.code == 3
    assert result.err.splitlines()[1] == (
        "  check that this key may use workspace ws_other (POWERPOST_WORKSPACE_ID or "
        "--workspace-id)"
    )


async def test_an_invalid_id_is_a_usage_error_and_nothing_is_sent(
    cli: Run, server: FakePowerPost
) -> None:
    result = await cli("generations", "get", "../credits", server=server)
    assert result.code == 2
    assert "not a valid id" in one_error_line(result)
    assert len(server.requests) == 0


async def test_refused_connection_exits_3(cli: Run) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = await cli("--base-url", url, "--api-key", KEY, "credits")
    assert result.code == 3
    assert "could not connect to" in one_error_line(result)
    as_json = await cli("--base-url", url, "--api-key", KEY, "credits", "--json")
    assert as_json.code == 3
    error = json_error(as_json)
    assert error["type"] == "APIConnectionError"
    assert error["request_sent"] is False


async def test_a_closed_server_exits_3(cli: Run) -> None:
    fake = FakePowerPost(keys={KEY: [WS]})
    async with fake:
        url = fake.base_url
    result = await cli("--base-url", url, "--api-key", KEY, "--workspace-id", WS, "sweep")
    assert result.code == 3
    assert one_error_line(result).startswith("error: could not connect to http://127.0.0.1:")


# -- generations list / get ---------------------------------------------------------------


async def test_list_shows_a_table_of_one_page(cli: Run, server: FakePowerPost) -> None:
    server.seed_generations(25, status="completed", prompt="A fairly long prompt " * 5)
    result = await cli("generations", "list", server=server)
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "MODE", "CREDITS", "CREATED", "(UTC)", "PROMPT"]
    assert len(lines) == 1 + 20 + 1  # header, the API's default page, the count line
    assert lines[-1] == "20 generations; more on the next pages: add --all"
    newest = server.generations()[0]
    assert lines[1].split()[:5] == [
        newest.generation_id,
        "completed",
        "regular",
        "10",
        "2026-01-10",
    ]
    assert lines[1].endswith("...")  # the prompt is cut
    assert server.requests.count(endpoint="list") == 1


async def test_list_all_follows_cursors_and_json_lines(cli: Run, server: FakePowerPost) -> None:
    server.seed_generations(23, status="completed")
    server.seed_generations(4, status="failed")
    result = await cli("generations", "list", "--all", "--limit", "10", "--json", server=server)
    assert result.code == 0
    items = result.json_lines()
    assert [i["generation_id"] for i in items] == [g.generation_id for g in server.generations()]
    assert server.requests.count(endpoint="list") == 3
    failed = await cli("generations", "list", "--status", "failed", "--json", server=server)
    assert [i["status"] for i in failed.json_lines()] == ["failed"] * 4
    table = await cli("generations", "list", "--all", server=server)
    assert table.out.splitlines()[-1] == "27 generations"


async def test_list_of_an_empty_workspace(cli: Run, server: FakePowerPost) -> None:
    result = await cli("generations", "list", server=server)
    assert (result.code, result.out) == (0, "0 generations\n")
    assert (await cli("generations", "list", "--json", server=server)).out == ""


async def test_get_shows_each_platform_and_youtube_as_title_and_description(
    cli: Run, server: FakePowerPost
) -> None:
    (generation_id,) = server.seed_generations(
        1,
        status="completed",
        prompt="We just shipped dark mode",
        post_types=("youtube-video", "x-post", "linkedin-post"),
    )
    result = await cli("generations", "get", generation_id, server=server)
    assert result.code == 0
    generation = server.generation(generation_id)
    assert generation.outputs is not None
    out = result.out
    assert f"id             {generation_id}\n" in out
    assert "status         completed\n" in out
    assert "[youtube]\ntitle: We just shipped dark mode\ndescription: " in out
    for platform in ("x", "linkedin"):
        caption = generation.outputs[platform]
        assert f"[{platform}]\n{caption}\n" in out


async def test_get_a_failed_generation_shows_the_error_and_exits_1(
    cli: Run, server: FakePowerPost
) -> None:
    (generation_id,) = server.seed_generations(1, status="failed")
    result = await cli("generations", "get", generation_id, server=server)
    assert result.code == 1
    assert "error          GENERATION_FAILED: Failed to generate content." in result.out


async def test_get_json_is_the_wire_format(cli: Run, server: FakePowerPost) -> None:
    (generation_id,) = server.seed_generations(1, status="completed", post_types=["youtube-short"])
    result = await cli("generations", "get", generation_id, "--json", server=server)
    assert result.code == 0
    assert result.json_lines() == [to_dict(server.generation(generation_id))]


async def test_get_an_unfinished_generation_says_how_to_wait(
    cli: Run, server: FakePowerPost
) -> None:
    (generation_id,) = server.seed_generations(1, status="processing")
    result = await cli("generations", "get", generation_id, server=server)
    assert result.code == 0
    assert f"no outputs yet (processing): powerpost generations wait {generation_id}" in result.out


# -- generations create / wait ------------------------------------------------------------


async def test_create_prints_the_id_and_credits(cli: Run, server: FakePowerPost) -> None:
    result = await cli(
        "generations",
        "create",
        *("--prompt", "We just shipped dark mode", "--post-type", "x-post"),
        *("--post-type", "instagram-feed", "--research-mode", "deep", "--cta-text", "Try it"),
        *("--source-url", "https://example.com/post", "--writing-style-id", "style_1"),
        server=server,
    )
    assert result.code == 0
    (generation,) = server.generations()
    assert generation.platforms == ("x", "instagram")
    assert generation.research_mode == "deep"
    assert result.out.splitlines() == [
        f"created       {generation.generation_id}",
        "status        completed",  # durations are 0 on this fake
        "credits used  15",
        "remaining     985",
    ]
    as_json = await cli(
        "generations", "create", "--prompt", "Hi", "--post-type", "x-post", "--json", server=server
    )
    (document,) = as_json.json_lines()
    assert document["credits_used"] == 10
    assert document["remaining_credits"] == 975 == server.balance()


async def test_create_refuses_bad_arguments_before_sending(cli: Run, server: FakePowerPost) -> None:
    too_long = await cli(
        "generations",
        "create",
        "--prompt",
        "Hi",
        "--post-type",
        "x-post",
        "--cta-text",
        "x" * 101,
        server=server,
    )
    assert too_long.code == 2
    assert "cta_text" in one_error_line(too_long)
    nothing = await cli("generations", "create", "--post-type", "x-post", server=server)
    assert nothing.code == 2
    assert "give a prompt, media_ids, or both" in one_error_line(nothing)
    assert len(server.requests) == 0


async def test_create_refuses_an_unknown_post_type_before_sending(
    cli: Run, server: FakePowerPost
) -> None:
    argv = ("generations", "create", "--prompt", "Hi", "--post-type", "x-post")
    result = await cli(*argv, "--post-type", "X-Pst", "--post-type", "myspace", server=server)
    assert result.code == 2
    assert result.out == ""
    assert result.err.splitlines() == [
        "error: unknown post types: X-Pst, myspace",
        "  'X-Pst': did you mean 'x-post'?",
        f"  known post types: {', '.join(KNOWN_POST_TYPES)}",
        "  to send it anyway (a type the API added since this version): add "
        "--allow-unknown-post-types",
    ]
    as_json = await cli(*argv, "--post-type", "myspace", "--json", server=server)
    assert as_json.code == 2
    error = json_error(as_json)
    assert (error["type"], error["unknown_post_types"]) == ("UsageError", ["myspace"])
    assert len(server.requests) == 0


async def test_create_sends_an_unknown_post_type_when_allowed(
    cli: Run, server: FakePowerPost
) -> None:
    result = await cli(
        *("generations", "create", "--prompt", "Hi", "--post-type", "myspace-post"),
        "--allow-unknown-post-types",
        server=server,
    )
    assert result.code == 3  # the fake refuses it, as the API documents
    lines = result.err.splitlines()
    assert lines[0].startswith("warning: unknown post type(s) 'myspace-post'")
    assert lines[1].startswith("error: 400 VALIDATION_ERROR: Unknown post type(s): myspace-post")


async def test_create_wait_prints_the_captions(cli: Run, server: FakePowerPost) -> None:
    result = await cli(
        "generations",
        "create",
        "--prompt",
        "Dark mode is here",
        "--post-type",
        "youtube-short",
        "--wait",
        server=server,
    )
    assert result.code == 0
    assert "status         completed" in result.out
    assert "[youtube]\ntitle: Dark mode is here\n" in result.out
    as_json = await cli(
        "generations",
        "create",
        "--prompt",
        "Dark mode is here",
        "--post-type",
        "x-post",
        "--wait",
        "--json",
        server=server,
    )
    (document,) = as_json.json_lines()
    assert document["status"] == "completed"
    assert set(document["outputs"]) == {"x"}


async def test_create_wait_on_a_failing_generation_exits_1(cli: Run) -> None:
    async with FakePowerPost(keys={KEY: [WS]}, processing=0.0, failure_rate=1.0) as failing:
        result = await cli(
            "generations",
            "create",
            "--prompt",
            "Doomed",
            "--post-type",
            "x-post",
            "--wait",
            server=failing,
        )
        assert failing.balance() == 1000  # refunded
    assert result.code == 1
    assert "error          GENERATION_FAILED: " in result.out


async def test_create_wait_past_the_deadline_exits_1_and_says_how_to_go_on(cli: Run) -> None:
    async with FakePowerPost(keys={KEY: [WS]}, processing=60.0) as slow:
        result = await cli(
            *("generations", "create", "--prompt", "Slow", "--post-type", "x-post"),
            *("--wait", "--timeout", "0.3"),
            server=slow,
        )
        (generation,) = slow.generations()
    assert result.code == 1
    assert f"created       {generation.generation_id}" in result.out
    assert result.err.splitlines() == [
        f"error: generation {generation.generation_id} did not finish within 0.3 s",
        f"  keep waiting: powerpost generations wait {generation.generation_id}",
    ]


async def test_create_wait_json_past_the_deadline_is_a_json_error(cli: Run) -> None:
    async with FakePowerPost(keys={KEY: [WS]}, processing=60.0) as slow:
        result = await cli(
            *("generations", "create", "--prompt", "Slow", "--post-type", "x-post"),
            *("--wait", "--timeout", "0.3", "--json"),
            server=slow,
        )
        (generation,) = slow.generations()
    assert result.code == 1
    assert len(result.out.splitlines()) == 1
    assert json_error(result) == {
        "type": "WaitTimeoutError",
        "message": f"generation {generation.generation_id} did not finish within 0.3 s",
        "pending_ids": [generation.generation_id],
        "timeout": 0.3,
        "hints": [f"keep waiting: powerpost generations wait {generation.generation_id}"],
    }


async def test_wait_prints_a_line_per_generation_and_exits_1_if_one_failed(
    cli: Run, server: FakePowerPost
) -> None:
    completed = server.seed_generations(2, status="completed")
    (failed,) = server.seed_generations(1, status="failed")
    ids = [*completed, failed]
    result = await cli("generations", "wait", *ids, server=server)
    assert result.code == 1
    lines = result.out.splitlines()
    assert sorted(lines[:3]) == sorted(
        [f"completed  {i}  instagram, x; 10 credits" for i in completed]
        + [f"failed     {failed}  GENERATION_FAILED: Failed to generate content. Please try again."]
    )
    assert lines[3] == "3 generations: 2 completed, 1 failed"
    as_json = await cli("generations", "wait", *ids, "--json", server=server)
    assert as_json.code == 1
    assert sorted(d["generation_id"] for d in as_json.json_lines()) == sorted(ids)
    ok = await cli("generations", "wait", *completed, server=server)
    assert ok.code == 0


async def test_wait_for_generations_in_flight_with_a_progress_bar(cli: Run) -> None:
    async with FakePowerPost(keys={KEY: [WS]}, pending=0.05, processing=(0.1, 0.4)) as fake:
        async with fake.client(use_socket=True) as pp:
            created = [
                await pp.generations.create("In flight", post_types=["x-post"]) for _ in range(5)
            ]
        ids = [c.generation_id for c in created]
        result = await cli("--ui", "rich", "generations", "wait", *ids, server=fake)
        assert all(g.status is GenerationStatus.COMPLETED for g in fake.generations())
    assert result.code == 0
    for generation_id in ids:
        assert f"completed  {generation_id}  x; 10 credits" in result.out
    assert "5/5" in result.out  # the bar's last state
    assert "5 generations: 5 completed, 0 failed" in result.out


async def test_wait_past_the_deadline_exits_1(cli: Run, server: FakePowerPost) -> None:
    (stuck,) = server.seed_generations(1, status="processing")
    result = await cli("generations", "wait", stuck, "--timeout", "0.3", server=server)
    assert result.code == 1
    assert one_error_line(result) == (
        f"error: 1 of 1 generations did not finish within 0.3 s: {stuck}"
    )


async def test_wait_json_past_the_deadline_ends_with_a_json_error(
    cli: Run, server: FakePowerPost
) -> None:
    (done,) = server.seed_generations(1, status="completed")
    (stuck,) = server.seed_generations(1, status="processing")
    result = await cli(
        "generations", "wait", done, stuck, "--timeout", "0.3", "--json", server=server
    )
    assert result.code == 1
    finished, _ = result.json_lines()
    assert finished["generation_id"] == done
    assert json_error(result) == {
        "type": "WaitTimeoutError",
        "message": f"1 of 2 generations did not finish within 0.3 s: {stuck}",
        "pending_ids": [stuck],
        "timeout": 0.3,
    }


async def test_wait_for_an_unknown_id_names_it_and_exits_3(cli: Run, server: FakePowerPost) -> None:
    (done,) = server.seed_generations(1, status="completed")
    result = await cli("generations", "wait", done, "no-such-id", server=server)
    assert result.code == 3
    assert f"completed  {done}" in result.out  # the others are still reported
    assert one_error_line(result).startswith("error: no-such-id: 404 NOT_FOUND: ")
    as_json = await cli("generations", "wait", done, "no-such-id", "--json", server=server)
    assert as_json.code == 3
    assert as_json.json_lines()[0]["generation_id"] == done
    error = json_error(as_json)
    assert error["type"] == "NotFoundError"
    assert error["generation_ids"] == ["no-such-id"]
    assert error["message"].startswith("no-such-id: 404 NOT_FOUND: ")


async def test_wait_with_a_bad_key_is_one_api_error(cli: Run, server: FakePowerPost) -> None:
    ids = server.seed_generations(2, status="completed")
    result = await cli("generations", "wait", *ids, server=server, key=WRONG_KEY)
    assert result.code == 3
    first, *hints = one_error_line_and_hints(result)
    assert first.startswith("error: 401 INVALID_API_KEY: ")
    assert len(hints) == 2


# -- sweep and credits ------------------------------------------------------------------------


async def test_sweep_counts_the_whole_workspace(cli: Run, server: FakePowerPost) -> None:
    server.seed_generations(3, status="completed")
    server.seed_generations(2, status="failed")
    server.seed_generations(1, status="processing", research_mode="deep")
    server.seed_generations(150, status="pending")
    credits = sum(g.credits_used for g in server.generations())
    result = await cli("sweep", "--json", server=server)
    assert result.code == 0
    assert result.json_lines() == [
        {
            "counts": {"pending": 150, "processing": 1, "completed": 3, "failed": 2},
            "total": 156,
            "credits_used": credits,
        }
    ]
    assert server.requests.count(endpoint="list") == 2  # pages of 100
    table = await cli("sweep", server=server)
    assert table.out.splitlines() == [
        "STATUS        COUNT",
        "pending         150",
        "processing        1",
        "completed         3",
        "failed            2",
        "total           156",
        f"credits used   {credits}",
    ]
    only_failed = await cli("sweep", "--status", "failed", "--json", server=server)
    assert only_failed.json_lines()[0]["total"] == 2


async def test_sweep_of_ids(cli: Run, server: FakePowerPost) -> None:
    completed = server.seed_generations(2, status="completed")
    pending = server.seed_generations(1, status="pending")
    server.seed_generations(5, status="completed")  # not asked about
    ids = [*completed, *pending]
    result = await cli("sweep", *ids, "--json", server=server)
    assert result.code == 0
    (document,) = result.json_lines()
    assert document["counts"] == {"pending": 1, "processing": 0, "completed": 2, "failed": 0}
    assert document["statuses"] == dict.fromkeys(completed, "completed") | {pending[0]: "pending"}
    assert server.requests.count(endpoint="get") == 0  # the list pages answered
    chosen = await cli("sweep", "--status", "completed", *ids, server=server)
    assert chosen.out.splitlines()[-3:] == ["completed: 2", *completed]
    unknown = await cli("sweep", *ids, "no-such-id", server=server)
    assert unknown.code == 3
    assert "not found       1" in unknown.out
    assert one_error_line(unknown).startswith("error: no-such-id: 404 NOT_FOUND: ")
    unknown_json = await cli("sweep", *ids, "no-such-id", "--json", server=server)
    assert unknown_json.code == 3
    assert unknown_json.err == ""
    (document,) = unknown_json.json_lines()
    (error,) = document["errors"].values()  # each in the shape of every JSON error
    assert set(document["errors"]) == {"no-such-id"}
    assert (error["type"], error["status_code"], error["code"]) == (
        "NotFoundError",
        404,
        "NOT_FOUND",
    )


async def test_credits(cli: Run, server: FakePowerPost) -> None:
    assert (await cli("credits", server=server)).out == "1000 credits\n"
    assert (await cli("--timeout", "5", "credits", server=server)).out == "1000 credits\n"
    assert (await cli("credits", "--json", server=server)).json_lines() == [{"balance": 1000}]


# -- --fake, rich, the key ------------------------------------------------------------------


async def test_fake_flag_runs_against_a_fresh_embedded_server(cli: Run) -> None:
    listed = await cli("--fake", "generations", "list", "--json")
    assert listed.code == 0
    assert len(listed.json_lines()) == 8
    assert listed.err.startswith("note: using a fresh embedded fake PowerPost API at http://")
    # The sample history is the same on every start: a listed id works next time.
    first = listed.json_lines()[0]["generation_id"]
    got = await cli("--fake", "generations", "get", first, "--json")
    assert got.json_lines()[0]["generation_id"] == first
    assert (await cli("--fake", "credits")).out == "10000 credits\n"


async def test_rich_output_when_forced(cli: Run, server: FakePowerPost) -> None:
    (generation_id,) = server.seed_generations(
        1, status="completed", prompt="[bold]not markup[/bold]", post_types=["youtube-video"]
    )
    listed = await cli("--ui", "rich", "generations", "list", server=server)
    assert listed.code == 0
    assert generation_id in listed.out  # whole, even on a narrow console
    got = await cli("--ui", "rich", "generations", "get", generation_id, server=server)
    assert "[bold]not markup[/bold]" in got.out  # shown as text, never read as markup
    assert "youtube" in got.out
    swept = await cli("--ui", "rich", "sweep", server=server)
    assert "completed" in swept.out


async def test_the_key_is_not_in_the_client_repr_or_settings() -> None:
    from powerpost_async.cli._context import Settings

    settings = Settings.resolve(
        api_key=KEY, workspace_id=WS, base_url=None, fake=False, http_timeout=None
    )
    assert KEY not in repr(settings)


# -- demo ----------------------------------------------------------------------------------


async def test_demo_summary_adds_up(cli: Run) -> None:
    result = await cli("demo", "--count", "20", "--pace", "0.02", "--seed", "3", "--json")
    assert result.code == 0
    (summary,) = result.json_lines()
    assert summary["generations"] == 20
    assert summary["completed"] + summary["failed"] == 20
    assert summary["regular"] + summary["deep"] == 20
    assert summary["credits_used"] == summary["starting_balance"] - summary["balance"]
    requests = summary["requests"]
    by_endpoint = requests["by_endpoint"]
    assert by_endpoint["create"] == 20
    assert by_endpoint["credits"] == 1
    assert by_endpoint["get"] >= 20  # each finished generation is read once for its outputs
    assert requests["total"] == sum(by_endpoint.values())
    assert requests["not_200"] == 0
    assert summary["wall_time_s"] < 30


async def test_demo_plain_output(cli: Run) -> None:
    result = await cli("demo", "--count", "20", "--pace", "0.02")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0] == "PowerPost demo: 20 generations against an embedded fake API"
    assert "created 20 generations in " in result.out
    progress = [line for line in lines if "% generations done" in line]
    assert 1 <= len(progress) <= 4  # a line per quarter passed (a sweep may pass two)
    assert progress[-1].startswith("  100% generations done (20/20): 0 pending, 0 processing")
    summary = lines[lines.index("Summary") + 1 :]
    labels = [line.split("  ")[1] for line in summary]
    assert labels[:7] == [
        "generations",
        "completed",
        "failed",
        "credits used",
        "remaining balance",
        "wall time",
        "HTTP requests",
    ]
    assert summary[0].split()[:2] == ["generations", "20"]
    assert any(line.split()[:2] == ["create", "20"] for line in summary)
    rich = await cli("--ui", "rich", "demo", "--count", "20", "--pace", "0.02")
    assert rich.code == 0
    assert "20/20" in rich.out


# -- subprocesses: the console script, serve-fake, Ctrl-C ------------------------------------


def test_the_console_script_points_at_main() -> None:
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "powerpost"]
    assert script.value == "powerpost_async.cli:main"


def _without_slow_callbacks(err: bytes) -> bytes:
    """stderr without asyncio debug mode's "Executing <...> took 0.2 seconds" lines.

    The subprocesses inherit PYTHONASYNCIODEBUG; on a loaded machine a step (the first
    one, importing the fake) may take longer than debug mode's 0.1 s: noise, not errors.
    """
    lines = err.splitlines(keepends=True)
    slow = re.compile(rb"Executing <.*> took \d+\.\d+ seconds\r?\n?")
    return b"".join(line for line in lines if not slow.fullmatch(line))


# A shell starts background jobs with SIGINT ignored, and an ignored signal stays ignored
# across exec: a suite run in the background (CI under nohup, `cmd &`) would hand the CLI
# a Ctrl-C it cannot receive. This trampoline gives it the default disposition first.
_DEFAULT_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


async def _python(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _DEFAULT_SIGINT,
        sys.executable,
        "-W",
        "error",
        "-m",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.parametrize("module", ["powerpost_async", "powerpost_async.cli"])
async def test_python_dash_m(module: str) -> None:
    proc = await _python(module, "generations", "list")
    out, err = await asyncio.wait_for(proc.communicate(), STEP_TIMEOUT)
    assert proc.returncode == 2
    assert out == b""
    assert err.startswith(b"error: no API key configured\n")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_serve_fake_serves_until_a_signal(cli: Run, signum: signal.Signals) -> None:
    proc = await _python("powerpost_async", "serve-fake", "--port", "0", "--seed", "5")
    assert proc.stdout is not None
    try:
        banner: list[str] = []
        while not any(line.startswith("  export POWERPOST_WORKSPACE_ID=") for line in banner):
            line = await asyncio.wait_for(proc.stdout.readline(), STEP_TIMEOUT)
            assert line, "serve-fake ended early"
            banner.append(line.decode())
        text = "".join(banner)
        assert "not a secret" in text
        assert "generations take 0.5-2 s pending, then 3-12 s processing; seed 5;" in text
        exports = dict(
            line.strip().removeprefix("export ").split("=", 1)
            for line in banner
            if line.strip().startswith("export ")
        )
        assert exports["POWERPOST_BASE_URL"].startswith("http://127.0.0.1:")
        listed = await cli(
            *("--base-url", exports["POWERPOST_BASE_URL"]),
            *("--api-key", exports["POWERPOST_API_KEY"]),
            *("--workspace-id", exports["POWERPOST_WORKSPACE_ID"]),
            *("generations", "list", "--json"),
        )
        assert listed.code == 0
        assert len(listed.json_lines()) == 8
        proc.send_signal(signum)
        rest, err = await asyncio.wait_for(proc.communicate(), STEP_TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err
    assert _without_slow_callbacks(err) == b""
    assert rest.decode().splitlines()[-1] == "stopped after 1 requests (list 1)"


async def _serve(*flags: str) -> tuple[asyncio.subprocess.Process, list[str]]:
    """Start ``serve-fake --port 0 FLAGS``; return it and its banner, once it serves."""
    proc = await _python("powerpost_async", "serve-fake", "--port", "0", *flags)
    assert proc.stdout is not None
    banner: list[str] = []
    while not banner or banner[-1] != "  powerpost generations list":
        line = await asyncio.wait_for(proc.stdout.readline(), STEP_TIMEOUT)
        assert line, "serve-fake ended early"
        banner.append(line.decode().rstrip("\n"))
    return proc, banner


async def _stop(proc: asyncio.subprocess.Process) -> tuple[list[str], bytes]:
    """SIGTERM, then what it printed since the banner, and its stderr."""
    try:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), STEP_TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err
    return out.decode().splitlines(), err


def _field(banner: list[str], label: str) -> str:
    prefix = f"  {label} "
    (value,) = [line[len(prefix) :].split()[0] for line in banner if line.startswith(prefix)]
    return value


async def _send(
    session: aiohttp.ClientSession, url: str, create: dict[str, Any] | None = None
) -> int | None:
    """A raw GET (or, with a body, a create) with the fake's key: its status, or None
    when the connection was dropped."""
    headers = {"x-api-key": "pp_live_sk_test", "X-Workspace-Id": "ws_test"}
    method = "GET" if create is None else "POST"
    try:
        async with session.request(method, url, headers=headers, json=create) as response:
            await response.read()
            return response.status
    except aiohttp.ClientConnectionError:
        return None


async def test_serve_fake_flags_durations_failures_rate_limit_verbose_and_stats() -> None:
    proc, banner = await _serve(
        *("--pending", "0", "--processing", "0", "--failure-rate", "1"),
        *("--rate-limit", "3/60", "-v"),
    )
    try:
        assert banner[1].startswith(
            "generations take 0 s pending, then 0 s processing; 100% of them fail; seed 0;"
        )
        assert banner[2] == "rate limit: 3 requests per 60 s per key (then 429)"
        assert banner[3] == "logging each request (-v)"
        base_url = _field(banner, "base URL")
        stats_url = _field(banner, "stats")
        assert stats_url == base_url + "/_fake/stats"
        async with aiohttp.ClientSession() as session:
            statuses = [await _send(session, base_url + CREDITS) for _ in range(4)]
            async with session.get(stats_url) as response:  # no key needed
                stats = await response.json()
    finally:
        rest, err = await _stop(proc)
    assert _without_slow_callbacks(err) == b""
    assert statuses == [200, 200, 200, 429]
    assert stats["requests"]["by_endpoint"] == {"credits": {"200": 3, "429": 1}}
    # The sample history: 5 completed, 1 failed, and 2 that followed the schedule: failed.
    assert stats["generations"] == {
        "total": 8,
        "pending": 0,
        "processing": 0,
        "completed": 5,
        "failed": 3,
    }
    logged = [line for line in rest if "  req_" in line]
    assert len(logged) == 4  # not the stats
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d\.\d{3}  req_000001  GET /api/v1/account/credits -> 200", logged[0]
    )
    assert logged[3].endswith("req_000004  GET /api/v1/account/credits -> 429")
    assert rest[-1] == "stopped after 4 requests (credits 4)"


async def test_serve_fake_injects_random_faults_of_the_kinds_asked() -> None:
    proc, banner = await _serve(
        "--fault-rate", "1", "--fault-kinds", "503,drop", "-v", "--seed", "4"
    )
    try:
        assert banner[2] == (
            "random faults: 100.0% of requests get one of 503, drop (the same ones each run "
            "with this seed)"
        )
        url = _field(banner, "base URL") + "/api/v1/content/generate"
        create = {"prompt": "Hi", "post_types": ["x-post"], "research_mode": "regular"}
        # Creates: aiohttp would send a dropped GET again, never a POST.
        async with aiohttp.ClientSession() as session:
            statuses = [await _send(session, url, create) for _ in range(12)]
            async with session.get(_field(banner, "stats")) as response:
                stats = await response.json()
    finally:
        rest, _ = await _stop(proc)
    assert set(statuses) == {503, None}
    assert stats["requests"]["faults"] == {
        "drop": statuses.count(None),
        "server_error": statuses.count(503),
    }
    logged = [line for line in rest if "  req_" in line]
    assert len(logged) == 12
    for line, status in zip(logged, statuses, strict=True):
        if status is None:
            assert line.endswith("-> dropped  [injected drop]")
        else:
            assert line.endswith("-> 503  [injected server_error]")


async def test_serve_fake_fault_kinds_need_a_fault_rate(cli: Run) -> None:
    result = await cli("serve-fake", "--port", "0", "--fault-kinds", "503")
    assert result.code == 2
    assert one_error_line_and_hints(result)[0] == (
        "error: --fault-kinds needs --fault-rate: how often to inject them"
    )


async def test_serve_fake_on_a_busy_port_exits_2(cli: Run) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = await cli("serve-fake", "--port", str(port))
    assert result.code == 2
    assert result.err.startswith(f"error: cannot serve on 127.0.0.1:{port}: ")
    assert "--port" in result.err


async def test_ctrl_c_exits_130_without_a_traceback() -> None:
    proc = await _python("powerpost_async", "demo", "--count", "30")
    assert proc.stdout is not None
    try:
        while True:
            line = await asyncio.wait_for(proc.stdout.readline(), STEP_TIMEOUT)
            assert line, "the demo ended early"
            if line.startswith(b"awaiting"):
                break
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), STEP_TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 130
    assert _without_slow_callbacks(err) == b"interrupted\n"
