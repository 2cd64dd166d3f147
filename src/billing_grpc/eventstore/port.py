"""The event store port: the one contract every store implementation keeps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Protocol

from billing_grpc.eventstore.envelope import EVERYTHING, EventFilter, RecordedEvent, StreamAppend

DEFAULT_PAGE = 1000


class EventStore(Protocol):
    """An append-only log of events, ordered per stream and globally in commit order."""

    async def append(
        self, *batch: StreamAppend, claims: Sequence[str] = (), expect: Mapping[str, int] | None = None
    ) -> list[RecordedEvent]:
        """Append to one or more streams atomically and return the recorded events.

        Each stream must be at its `expected_version`, else WrongExpectedVersion and nothing is
        written. If every event id was recorded before, the original events are returned and
        nothing is written (a safe retry). Positions increase in commit order.

        `claims` are unique keys (e.g. usage idempotency keys) recorded atomically with the
        events; if any is claimed already, ClaimConflict names them and nothing is written.

        `expect` maps streams the batch does not append to onto the version the decision was
        made on (0: the stream does not exist); if any moved, WrongExpectedVersion and nothing
        is written. It is checked atomically with the commit, even against other instances, so
        a decision that read one stream and writes another cannot interleave with a change of
        the stream it read (e.g. usage for a period racing that period's seal).
        """
        ...

    async def claimed(self, keys: Sequence[str]) -> set[str]:
        """Which of these keys are claimed already."""
        ...

    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        """Every event of a stream after `after_version`, in stream order."""
        ...

    async def read_all(
        self, after_position: int = 0, event_filter: EventFilter = EVERYTHING, limit: int = DEFAULT_PAGE
    ) -> list[RecordedEvent]:
        """Up to `limit` events after `after_position` that pass the filter, in position order."""
        ...

    async def read_stored(
        self, after_position: int = 0, limit: int = DEFAULT_PAGE, event_filter: EventFilter = EVERYTHING
    ) -> list[RecordedEvent]:
        """Like `read_all`, but exactly as stored (never upcast), with hashes.

        What the hash chain covers: verification and export read this, not `read_all`.
        """
        ...

    async def import_events(self, events: Sequence[RecordedEvent], claims: Sequence[str] = ()) -> None:
        """Write already-recorded events unchanged (ids, positions, times, hashes), with their claims.

        They must continue the log at its head without gaps (else ValueError); for restoring an
        export into an empty store, never for new facts. `claims` are the unique keys the events
        had claimed (usage idempotency keys), which the log itself does not hold.
        """
        ...

    async def head_position(self) -> int:
        """The position of the last committed event, 0 for an empty log."""
        ...

    async def heads(self, types: frozenset[str]) -> tuple[int, dict[str, int]]:
        """The head position and the last position of each of these types (0 if none), read together.

        One read for a reader that serves many interests (the projection runner): it skips
        reading the log for projections whose types have nothing new.
        """
        ...

    async def wait_for_append(self, after_position: int, timeout: float) -> None:
        """Return once the log may hold events after `after_position`, or after `timeout` seconds.

        It returns at once if this process already knows of such events; events appended by
        other processes are noticed within `timeout`.
        """
        ...

    async def close(self) -> None:
        """Finish appends in flight and release resources."""
        ...


async def subscribe(
    store: EventStore,
    after_position: int = 0,
    event_filter: EventFilter = EVERYTHING,
    *,
    page: int = DEFAULT_PAGE,
    poll_interval: float = 0.5,
) -> AsyncIterator[RecordedEvent]:
    """Catch up from `after_position`, then follow the log live, forever.

    Because positions are assigned in commit order, reading "after the last position seen"
    never skips an event that commits later. `poll_interval` bounds how long an event
    appended by another process waits before this reader sees it.
    """
    position = after_position
    while True:
        head = await store.head_position()
        events = await store.read_all(position, event_filter, page)
        for event in events:
            position = event.position
            yield event
        if len(events) < page:
            # A short page read everything committed before it started, so filtered-out
            # events up to `head` need not be scanned again.
            position = max(position, head)
            await store.wait_for_append(position, poll_interval)


async def read_pages(
    store: EventStore, after_position: int = 0, event_filter: EventFilter = EVERYTHING, page: int = DEFAULT_PAGE
) -> AsyncIterator[Sequence[RecordedEvent]]:
    """Every page of events from `after_position` up to the head as it is when reached."""
    position = after_position
    while events := await store.read_all(position, event_filter, page):
        yield events
        position = events[-1].position
        if len(events) < page:
            return
