"""An in-memory event store for fast unit tests and the in-memory benchmark. Not durable."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from uuid import UUID

from billing_grpc.domain.clock import Clock, SystemClock
from billing_grpc.eventstore.chain import GENESIS_HASH, chained
from billing_grpc.eventstore.envelope import EVERYTHING, EventFilter, RecordedEvent, StreamAppend, to_log_precision
from billing_grpc.eventstore.planning import Accepted, check_import, decide
from billing_grpc.eventstore.port import DEFAULT_PAGE
from billing_grpc.eventstore.upcasting import NO_UPCASTERS, Upcasters


class InMemoryEventStore:
    """The event store contract on Python lists; one asyncio loop, so appends are atomic."""

    def __init__(self, clock: Clock | None = None, upcasters: Upcasters = NO_UPCASTERS) -> None:
        self._clock = clock or SystemClock()
        self._upcasters = upcasters
        self._log: list[RecordedEvent] = []
        self._streams: dict[str, list[RecordedEvent]] = {}
        self._by_id: dict[UUID, RecordedEvent] = {}
        self._claims: set[str] = set()
        self._latest_by_type: dict[str, int] = {}
        self._last_hash = GENESIS_HASH
        self._appended = asyncio.Condition()

    async def append(
        self, *batch: StreamAppend, claims: Sequence[str] = (), expect: Mapping[str, int] | None = None
    ) -> list[RecordedEvent]:
        """Append to one or more streams atomically (see EventStore.append)."""
        names = {a.stream_id for a in batch}.union(expect or {})
        versions = {name: len(self._streams.get(name, ())) for name in names}
        decision = decide(batch, versions, self._by_id, claims, self._claims, expect)
        if not isinstance(decision, Accepted):
            return [self._upcasters.apply(event) for event in decision.events]
        recorded_at = to_log_precision(self._clock.now())
        rows = [row.record(len(self._log) + i, recorded_at) for i, row in enumerate(decision.rows, 1)]
        recorded = chained(self._last_hash, rows)
        await self._remember(recorded)
        return [self._upcasters.apply(event) for event in recorded]

    async def _remember(self, recorded: Sequence[RecordedEvent]) -> None:
        for event in recorded:
            self._log.append(event)
            self._streams.setdefault(event.stream_id, []).append(event)
            self._by_id[event.event_id] = event
            self._latest_by_type[event.type] = event.position
        if recorded:
            self._last_hash = recorded[-1].hash or self._last_hash
        async with self._appended:
            self._appended.notify_all()

    async def read_stored(
        self, after_position: int = 0, limit: int = DEFAULT_PAGE, event_filter: EventFilter = EVERYTHING
    ) -> list[RecordedEvent]:
        """Like `read_all`, exactly as stored: not upcast, with hashes."""
        if event_filter == EVERYTHING:
            return self._log[max(after_position, 0) : max(after_position, 0) + limit]
        return [e for e in self._log[max(after_position, 0) :] if event_filter.matches(e)][:limit]

    async def import_events(self, events: Sequence[RecordedEvent], claims: Sequence[str] = ()) -> None:
        """Write recorded events as they are (ids, positions, times, hashes) and their claims."""
        check_import(len(self._log), events)
        self._claims.update(claims)
        await self._remember(list(events))

    async def claimed(self, keys: Sequence[str]) -> set[str]:
        """Which of these keys are claimed."""
        return self._claims.intersection(keys)

    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        """Every event of a stream after `after_version`."""
        return [self._upcasters.apply(e) for e in self._streams.get(stream_id, [])[after_version:]]

    async def read_all(
        self, after_position: int = 0, event_filter: EventFilter = EVERYTHING, limit: int = DEFAULT_PAGE
    ) -> list[RecordedEvent]:
        """Up to `limit` events after `after_position` that pass the filter."""
        page: list[RecordedEvent] = []
        for event in self._log[max(after_position, 0) :]:
            if event_filter.matches(event):
                page.append(self._upcasters.apply(event))
                if len(page) == limit:
                    break
        return page

    async def head_position(self) -> int:
        """The position of the last event."""
        return len(self._log)

    async def heads(self, types: frozenset[str]) -> tuple[int, dict[str, int]]:
        """The head and the last position of each type."""
        return len(self._log), {t: self._latest_by_type.get(t, 0) for t in types}

    async def wait_for_append(self, after_position: int, timeout: float) -> None:
        """Return once the log is longer than `after_position`, or after `timeout`."""
        async with self._appended:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._appended.wait_for(lambda: len(self._log) > after_position)

    async def close(self) -> None:
        """Nothing to release."""
