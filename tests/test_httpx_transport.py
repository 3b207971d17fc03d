"""What is particular to HttpxTransport (the shared contract is test_transport_contract.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest

from powerpost_async import APIStatusError, APITimeoutError, PowerPostError
from powerpost_async.testing import FakePowerPost, Fault

pytest.importorskip("httpx", reason="httpx is not installed (pip install 'powerpost-async[httpx]')")

import httpx

from powerpost_async._httpx import HttpxTransport


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_importing_the_package_does_not_import_httpx() -> None:
    result = run_python(
        """
        import sys
        import powerpost_async, powerpost_async.testing
        assert "httpx" not in sys.modules, "httpx was imported"
        """
    )
    assert result.returncode == 0, result.stderr


def test_without_httpx_the_import_error_names_the_extra() -> None:
    result = run_python(
        """
        import sys
        sys.modules["httpx"] = None  # as if it were not installed
        try:
            import powerpost_async._httpx
        except ImportError as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'powerpost-async[httpx]'" in result.stdout


async def test_a_borrowed_client_that_follows_redirects_does_not_for_us() -> None:
    async with FakePowerPost() as server:
        hops: list[str] = []

        def redirect(request: httpx.Request) -> httpx.Response:
            hops.append(str(request.url))
            return httpx.Response(302, headers={"Location": f"{server.base_url}/stolen"})

        lent = httpx.AsyncClient(transport=httpx.MockTransport(redirect), follow_redirects=True)
        async with lent, server.client(use_socket=True, transport=HttpxTransport(lent)) as pp:
            with pytest.raises(APIStatusError) as info:
                await pp.account.credits()
    assert info.value.status_code == 302
    assert len(hops) == 1
    assert len(server.requests) == 0


async def test_waiting_for_a_pooled_connection_times_out_unsent() -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    async def held(seconds: float) -> None:
        entered.set()
        await release.wait()

    async with FakePowerPost(sleep=held) as server:
        server.faults.script(Fault.slow(5), on="credits")
        transport = HttpxTransport(connection_limit=1)
        try:
            async with server.client(use_socket=True, transport=transport, timeout=0.2) as pp:
                busy = asyncio.create_task(pp.account.credits(max_retries=0))
                await entered.wait()  # the one connection is now taken
                with pytest.raises(APITimeoutError) as info:
                    await pp.account.credits(timeout=0.05, max_retries=0)
                with pytest.raises(APITimeoutError):
                    await busy
        finally:
            release.set()
    assert info.value.request_sent is False
    assert "waiting for one of the 1 pooled connections" in str(info.value)
    assert len(server.requests) == 1


async def test_a_borrowed_client_has_the_limit_it_is_declared_with() -> None:
    async with httpx.AsyncClient() as client:
        assert HttpxTransport(client).connection_limit == 100
        assert HttpxTransport(client, connection_limit=8).connection_limit == 8


async def test_a_closed_borrowed_client_says_so() -> None:
    client = httpx.AsyncClient()
    await client.aclose()
    transport = HttpxTransport(client)
    async with FakePowerPost() as server, server.client(use_socket=True, transport=transport) as pp:
        with pytest.raises(PowerPostError, match=r"httpx\.AsyncClient lent .* is closed"):
            await pp.account.credits()
