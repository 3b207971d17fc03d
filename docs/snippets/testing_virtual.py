import asyncio
import time
from collections import Counter

from powerpost_async.testing import FakePowerPost, Fault, VirtualClock


async def main() -> None:
    clock = VirtualClock()
    # Schedules and rate-limit windows follow the clock. Durations are
    # seconds, drawn per generation from the seeded generator.
    server = FakePowerPost(
        clock=clock,
        pending=(1, 5),
        processing=(30, 120),
        failure_rate=0.1,
        seed=7,
    )
    # The next two GETs fail; the SDK retries them, in virtual time.
    server.faults.script(
        Fault.server_error(503), Fault.rate_limit(retry_after=2), on="get"
    )
    started = time.perf_counter()
    # In memory, with the clock as the client's clock= and sleep=.
    async with server.client() as pp:
        created = [
            await pp.generations.create(
                prompt=f"Launch post {n}", post_types=["x-post"]
            )
            for n in range(20)
        ]
        generations = await pp.generations.wait_many(created, timeout=None)
    real = time.perf_counter() - started
    outcomes = Counter(str(g.status) for g in generations)
    faults = server.requests.count(endpoint="get", executed=False)
    print(f"{len(generations)} finished after {clock():.0f} virtual seconds")
    print(f"that took {real:.2f} real seconds")
    print(f"outcomes: {dict(outcomes)}")
    print(f"faults injected: {faults}")
    print(f"balance: {server.balance()} (failed ones are refunded)")


if __name__ == "__main__":
    asyncio.run(main())
