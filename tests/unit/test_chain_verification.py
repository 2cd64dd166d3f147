"""The chain check names the first broken position, whatever was changed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

from billing_grpc.eventstore import RecordedEvent
from billing_grpc.eventstore.chain import GENESIS_HASH, chained, event_hash, verify_chain
from billing_grpc.eventstore.envelope import EventMetadata

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class ListLog:
    """A stored log as a list, to tamper with freely."""

    def __init__(self, events: list[RecordedEvent], head: int | None = None) -> None:
        self.events = events
        self.head = len(events) if head is None else head

    async def read_stored(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        return [e for e in self.events if e.position > after_position][:limit]

    async def head_position(self) -> int:
        return self.head


def log_of(count: int) -> list[RecordedEvent]:
    raw = [
        RecordedEvent(
            event_id=uuid4(),
            stream_id=f"s-{n % 3}",
            stream_version=n,
            position=n,
            type="thing.happened",
            schema_version=1,
            payload={"n": n},
            metadata=EventMetadata(actor="test"),
            occurred_at=T0,
            recorded_at=T0,
        )
        for n in range(1, count + 1)
    ]
    return chained(GENESIS_HASH, raw)


async def test_an_untouched_log_is_intact() -> None:
    report = await verify_chain(ListLog(log_of(25)), page=7)
    assert (report.intact, report.checked, report.head) == (True, 25, 25)


async def test_an_edited_payload_breaks_the_chain_at_that_position() -> None:
    events = log_of(10)
    events[5] = replace(events[5], payload={"n": 600})
    report = await verify_chain(ListLog(events))
    assert (report.broken_at, report.checked) == (6, 5)


async def test_an_edit_with_a_recomputed_hash_breaks_the_chain_at_the_next_position() -> None:
    events = log_of(10)
    edited = replace(events[5], payload={"n": 600})
    events[5] = replace(edited, hash=event_hash(events[4].hash, edited))
    assert (await verify_chain(ListLog(events))).broken_at == 7


async def test_a_removed_event_or_a_truncated_tail_is_a_break() -> None:
    events = log_of(10)
    assert (await verify_chain(ListLog(events[:4] + events[5:]))).broken_at == 5
    assert (await verify_chain(ListLog(events[:8], head=10))).broken_at == 9


async def test_events_recorded_before_the_chain_existed_are_reported_not_failed() -> None:
    legacy = [replace(e, hash="") for e in log_of(3)]
    later = chained(GENESIS_HASH, [replace(e, position=e.position + 3, hash="") for e in log_of(4)])
    report = await verify_chain(ListLog(legacy + later))
    assert (report.intact, report.unhashed_prefix, report.checked) == (True, 3, 7)


async def test_a_hash_missing_after_the_chain_started_is_a_break() -> None:
    events = log_of(6)
    events[3] = replace(events[3], hash="")
    assert (await verify_chain(ListLog(events))).broken_at == 4
