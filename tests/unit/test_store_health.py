"""Health follows the store: NOT_SERVING while the log's head cannot be read, SERVING once it can."""

from __future__ import annotations

import asyncio

from billing_grpc.api.store_health import follow_store
from billing_grpc.eventstore import StoreUnavailable


class FlakyStore:
    """Answers the head, or fails, as scripted; then keeps answering."""

    def __init__(self, script: list[bool]) -> None:
        self.script = script  # True: reachable
        self.probes = 0

    async def head_position(self) -> int:
        reachable = self.script[self.probes] if self.probes < len(self.script) else True
        self.probes += 1
        if not reachable:
            raise StoreUnavailable("connection refused")
        return 42


async def test_health_turns_not_serving_on_the_first_failed_probe_and_back_on_the_first_good_one() -> None:
    store = FlakyStore([True, False, False, False, True, True])
    reported: list[bool] = []
    settled = asyncio.Event()

    async def set_serving(serving: bool) -> None:
        reported.append(serving)
        if len(reported) == 2:
            settled.set()

    follower = asyncio.create_task(follow_store(store, set_serving, probe_seconds=0))  # type: ignore[arg-type]
    await asyncio.wait_for(settled.wait(), timeout=5)
    while store.probes < 8:  # a few more probes: nothing more to report
        await asyncio.sleep(0)
    follower.cancel()

    assert reported == [False, True]  # only the changes, each once
