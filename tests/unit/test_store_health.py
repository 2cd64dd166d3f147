"""Health follows the store: NOT_SERVING while the log's head cannot be read, SERVING once it can."""

from __future__ import annotations

import asyncio

from billing_grpc.api.store_health import follow_store
from billing_grpc.eventstore import StoreUnavailable


class FlakyStore:
    """Answers the head, or fails, as scripted; then keeps answering."""

    def __init__(self, script: list[bool], enough: int) -> None:
        self.script = script  # True: reachable
        self.probes = 0
        self.probed_enough = asyncio.Event()  # set after `enough` probes
        self.enough = enough

    async def head_position(self) -> int:
        reachable = self.script[self.probes] if self.probes < len(self.script) else True
        self.probes += 1
        if self.probes >= self.enough:
            self.probed_enough.set()
        if not reachable:
            raise StoreUnavailable("connection refused")
        return 42


async def test_health_turns_not_serving_on_the_first_failed_probe_and_back_on_the_first_good_one() -> None:
    store = FlakyStore([True, False, False, False, True, True], enough=8)
    reported: list[bool] = []
    settled = asyncio.Event()

    async def set_serving(serving: bool) -> None:
        reported.append(serving)
        if len(reported) == 2:
            settled.set()

    follower = asyncio.create_task(follow_store(store, set_serving, probe_seconds=0))  # type: ignore[arg-type]
    await asyncio.wait_for(settled.wait(), timeout=5)
    await asyncio.wait_for(store.probed_enough.wait(), timeout=5)  # a few more probes: nothing more to report
    follower.cancel()

    assert reported == [False, True]  # only the changes, each once
