"""Test helpers: an in-process PowerPost API v1, and a clock for virtual time.

Example:
    ```python
    from powerpost_async.testing import FakePowerPost, Fault, VirtualClock

    server = FakePowerPost(clock=VirtualClock(), failure_rate=0.1)
    server.faults.script(Fault.server_error(503), on="get")
    async with server.client() as pp:          # in memory; no socket
        created = await pp.generations.create(prompt="Dark mode", post_types=["x-post"])
    ```

With pytest, the ``powerpost_fake``, ``powerpost_client`` and ``powerpost_clock``
fixtures are there as soon as powerpost-async is installed.
"""

from powerpost_async.testing._clock import VirtualClock
from powerpost_async.testing._fake import FakePowerPost, FakeTransport, Timeline
from powerpost_async.testing._faults import Endpoint, Fault, FaultKind, Faults
from powerpost_async.testing._log import RequestLog, RequestRecord
from powerpost_async.testing._quirks import Quirks
from powerpost_async.testing._redis import RedisServer

__all__ = [
    "Endpoint",
    "FakePowerPost",
    "FakeTransport",
    "Fault",
    "FaultKind",
    "Faults",
    "Quirks",
    "RedisServer",
    "RequestLog",
    "RequestRecord",
    "Timeline",
    "VirtualClock",
]
