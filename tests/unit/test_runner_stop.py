"""Stopping the projection runner ends every task, even when a store call swallows the cancellation."""

from __future__ import annotations

import asyncio

from billing_grpc.eventstore.memory import InMemoryEventStore
from projections.organizations import OrganizationsProjection
from projections.runner import ProjectionRunner
from projections.store import InMemoryReadModels


class SwallowingStore(InMemoryEventStore):
    """A store whose head read eats one cancellation, as an async driver's socket read was seen to."""

    swallowed = 0

    async def heads(self, types: frozenset[str]) -> tuple[int, dict[str, int]]:
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            self.swallowed += 1
        return await super().heads(types)


async def test_stop_ends_a_projection_whose_cancellation_was_swallowed() -> None:
    store = SwallowingStore()
    runner = ProjectionRunner(store, InMemoryReadModels(), [OrganizationsProjection()], poll_interval=0.01)
    await runner.start()
    await asyncio.sleep(0.02)  # the follower is inside heads() now

    async with asyncio.timeout(5):
        await runner.stop()

    assert store.swallowed >= 1
