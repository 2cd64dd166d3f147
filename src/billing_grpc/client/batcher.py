"""EventBatcher: cuts a stream of emitted usage events into batches by size, linger time and flushes."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from billing.v1 import usage_pb2


class _Marker:
    """A queue entry that is not an event: it ends the batch being built."""


FLUSH = _Marker()
CLOSE = _Marker()


class EventBatcher:
    """A queue of events and the task body that turns it into batches.

    A batch is cut when it holds `max_batch_size` events, `linger` seconds after its first event
    arrived, or at a FLUSH or CLOSE marker (so a flush or close never waits out the linger).
    The queue itself is unbounded: the emitter bounds what it lets in.
    """

    def __init__(self, max_batch_size: int, linger: float, on_batch: Callable[[list[usage_pb2.UsageEvent]], None]):
        self._max_batch_size = max_batch_size
        self._linger = linger
        self._on_batch = on_batch
        self._queued: deque[usage_pb2.UsageEvent | _Marker] = deque()
        self._arrived = asyncio.Event()
        self._forming: list[usage_pb2.UsageEvent] = []
        self.done = False

    def put(self, item: usage_pb2.UsageEvent | _Marker) -> None:
        """Queue an event, or a marker that cuts the batch being built."""
        self._queued.append(item)
        self._arrived.set()

    def pending(self) -> list[usage_pb2.UsageEvent]:
        """Events put and not yet handed over in a batch, oldest first."""
        return self._forming + [item for item in self._queued if not isinstance(item, _Marker)]

    async def run(self) -> None:
        """Hand over batches until a CLOSE marker; the last batch holds what came before it."""
        loop = asyncio.get_running_loop()
        while True:
            first = await self._next(None)
            if first is CLOSE:
                break
            if first is None or isinstance(first, _Marker):
                continue
            events = self._forming = [first]
            deadline = loop.time() + self._linger
            item: usage_pb2.UsageEvent | _Marker | None = None
            while len(events) < self._max_batch_size:
                item = await self._next(deadline)
                if item is None or isinstance(item, _Marker):
                    break
                events.append(item)
            self._forming = []
            self._on_batch(events)
            if item is CLOSE:
                break
        self.done = True

    async def _next(self, deadline: float | None) -> usage_pb2.UsageEvent | _Marker | None:
        """The next queued item, waiting until `deadline` (loop time) at most; None when it passes."""
        while not self._queued:
            self._arrived.clear()
            try:
                async with asyncio.timeout_at(deadline):
                    await self._arrived.wait()
            except TimeoutError:
                return None
        return self._queued.popleft()
