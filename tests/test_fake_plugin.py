"""The pytest plugin: its fixtures, seen from a user's test suite (run by pytester)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

INNER_OPTIONS = (
    "-p",
    "no:cacheprovider",
    "-W",
    "error",
    "-o",
    "asyncio_mode=auto",
    "-o",
    "asyncio_default_fixture_loop_scope=function",
)


def test_fixtures_give_a_fake_and_a_client_in_virtual_time(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from powerpost_async import GenerationStatus, PowerPost
        from powerpost_async.testing import FakePowerPost, VirtualClock


        async def test_client(powerpost_client, powerpost_fake, powerpost_clock):
            assert isinstance(powerpost_fake, FakePowerPost)
            assert isinstance(powerpost_client, PowerPost)
            assert isinstance(powerpost_clock, VirtualClock)
            created = await powerpost_client.generations.create(
                prompt="hello", post_types=["x-post"]
            )
            await powerpost_clock.sleep(3600)  # an hour, in no time
            generation = await powerpost_client.generations.get(created.generation_id)
            assert generation.status is GenerationStatus.COMPLETED
            assert powerpost_fake.requests.count(endpoint="create", status=200) == 1


        async def test_the_fake_can_also_serve_a_socket(powerpost_fake):
            await powerpost_fake.start()  # left serving: the fixture closes it
            async with powerpost_fake.client(use_socket=True) as pp:
                assert (await pp.account.credits()).balance == 1000


        async def test_each_test_gets_a_fresh_fake(powerpost_fake, powerpost_clock):
            assert len(powerpost_fake.requests) == 0
            assert powerpost_clock() == 0.0
        """
    )
    result = pytester.runpytest(*INNER_OPTIONS)
    result.assert_outcomes(passed=3)


def test_powerpost_fake_can_be_overridden_to_configure_it(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest
        from powerpost_async.testing import FakePowerPost


        @pytest.fixture
        def powerpost_fake(powerpost_clock):
            return FakePowerPost(clock=powerpost_clock, credits=5)
        """
    )
    pytester.makepyfile(
        """
        import pytest
        from powerpost_async import InsufficientCreditsError


        async def test_poor(powerpost_client):
            with pytest.raises(InsufficientCreditsError):
                await powerpost_client.generations.create(prompt="hi", post_types=["x-post"])
        """
    )
    result = pytester.runpytest(*INNER_OPTIONS)
    result.assert_outcomes(passed=1)


def test_the_plugin_works_without_pytest_asyncio(pytester: pytest.Pytester) -> None:
    # Loaded with -p before the entry points, this makes `import pytest_asyncio` fail.
    pytester.makepyfile(blocker="import sys\nsys.modules['pytest_asyncio'] = None\n")
    pytester.makepyfile(
        test_sync="""
        import asyncio

        import pytest

        from powerpost_async.testing import FakePowerPost


        def test_plain_fixtures_still_work(powerpost_clock):
            server = FakePowerPost(clock=powerpost_clock)

            async def main():
                async with server.client() as pp:
                    return (await pp.account.credits()).balance

            assert asyncio.run(main()) == 1000


        def test_async_fixtures_fell_back_to_plain_pytest_fixtures():
            from powerpost_async.testing import _plugin

            assert _plugin.async_fixture is pytest.fixture
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "blocker", "-p", "no:asyncio", "-p", "no:cacheprovider", "-W", "error"
    )
    result.assert_outcomes(passed=2)
    result = pytester.runpytest_subprocess("-p", "blocker", "-p", "no:asyncio", "--fixtures")
    result.stdout.fnmatch_lines(["*powerpost_client*", "*powerpost_fake*", "*powerpost_clock*"])
