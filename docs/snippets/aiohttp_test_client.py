import asyncio

from aiohttp.test_utils import TestClient, TestServer

from examples.aiohttp_app import create_app  # your application's factory
from powerpost_async.testing import FakePowerPost


async def main() -> None:
    # The app makes its own ClientSession: serve the fake over a socket.
    async with FakePowerPost(processing=30) as server:
        app = create_app(
            base_url=server.base_url,
            api_key=server.api_key,
            workspace_id=server.workspace_id,
        )
        # TestClient runs the app's cleanup contexts, as run_app would.
        async with TestClient(TestServer(app)) as client:
            created = await client.post(
                "/captions",
                json={"prompt": "Dark mode", "post_types": ["x-post"]},
            )
            location = created.headers["Location"]
            print(f"{created.status} -> {location}")
            caption = await client.get(location)
            print(f"{caption.status}: {(await caption.json())['status']}")


if __name__ == "__main__":
    asyncio.run(main())
