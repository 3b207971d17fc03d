import asyncio
import os

from powerpost_async import PowerPost
from powerpost_async.redis import RedisCoordinator


async def main() -> None:
    # The same URL in every process of the service; one coordinator per client.
    url = os.environ.get("POWERPOST_REDIS_URL", "redis://localhost:6379/0")
    coordinator = RedisCoordinator(url, namespace="captions")
    async with PowerPost(coordinator=coordinator) as pp:
        created = await pp.generations.create(
            prompt="We just shipped dark mode", post_types=["x-post"]
        )
        # Registered in Redis; whichever process leads sweeps for it.
        generation = await pp.generations.wait(created, timeout=120)
        role = "leads" if coordinator.leading else "follows"
        print(f"{generation.status}; this process {role}")


if __name__ == "__main__":
    asyncio.run(main())
