import asyncio

import httpx

from examples.fastapi_app import create_app  # your application's factory
from powerpost_async.testing import FakePowerPost, VirtualClock


async def main() -> None:
    clock = VirtualClock()
    server = FakePowerPost(clock=clock, processing=(5, 20))
    app = create_app(
        transport=server.transport(),  # in memory: no socket
        api_key=server.api_key,
        workspace_id=server.workspace_id,
        clock=clock,  # the client waits in virtual time
        sleep=clock.sleep,
    )
    # httpx's ASGITransport does not run the lifespan: enter it as a
    # server would.
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=transport, base_url="http://test"
        ) as client,
    ):
        response = await client.post(
            "/captions/sync",
            json={
                "prompt": "We just shipped dark mode",
                "post_types": ["x-post"],
            },
        )
    print(f"{response.status_code}: {response.json()['outputs']['x']}")
    print(f"after {clock():.0f} virtual seconds")


if __name__ == "__main__":
    asyncio.run(main())
