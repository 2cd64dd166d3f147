"""The log as JSON Lines: one stored event a line, in global order, with its hash; and back.

An export is the stored form (never upcast): it is what the hash chain covers, so an auditor
can recompute every hash from the file, and an import writes back exactly what was recorded.
The time range applies to `occurred_at` (business time: "the facts of March"), half-open
[from, to), and is filtered while walking positions: no index serves it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO
from uuid import UUID

from billing_grpc.application.usage import claim_key
from billing_grpc.domain.usage import UsageRecorded
from billing_grpc.eventstore import EventFilter, EventMetadata, EventStore, RecordedEvent, Upcasters
from billing_grpc.eventstore.chain import envelope_json

PAGE = 1000


@dataclass(frozen=True)
class TimeRange:
    """Events whose occurred_at lies in [start, end); None leaves that side open."""

    start: datetime | None = None
    end: datetime | None = None

    def contains(self, moment: datetime) -> bool:
        """True if `moment` lies in the range."""
        return (self.start is None or moment >= self.start) and (self.end is None or moment < self.end)


EVER = TimeRange()


async def stored_events(
    store: EventStore, after_position: int, event_filter: EventFilter, window: TimeRange = EVER
) -> AsyncIterator[RecordedEvent]:
    """Every stored event after `after_position` that passes the filter and the time range, in order."""
    position = after_position
    while events := await store.read_stored(position, PAGE, event_filter):
        for event in events:
            if window.contains(event.occurred_at):
                yield event
        position = events[-1].position
        if len(events) < PAGE:
            return


@dataclass(frozen=True)
class Exported:
    """What an export wrote: how many events, from which position to which, and whether without a gap."""

    after: int = 0
    count: int = 0
    last: int = 0
    # Every position from after + 1 to last: the log (or a part of it), which import-events takes.
    gapless: bool = True

    def summary(self) -> str:
        """The line an export ends with: what it holds, what to resume after, whether it can be imported."""
        if not self.count:
            return "exported 0 events"
        if not self.gapless:
            return (
                f"exported {self.count} events (positions {self.after + 1}-{self.last}, with gaps: filtered, "
                "a subset of the log for reading; import-events refuses it)"
            )
        part = "" if self.after == 0 else ", a part: import it after the parts before it"
        return (
            f"exported {self.count} events (positions {self.after + 1}-{self.last}{part}; "
            f"resume with --after-position {self.last})"
        )


async def write_events(
    events: AsyncIterator[RecordedEvent], target: TextIO, after: int, progress: Callable[[int], None] | None = None
) -> Exported:
    """Write the events (those after position `after`) as JSON Lines to `target`; what was written."""
    count, last, gapless = 0, after, True
    async for event in events:
        target.write(event_line(event))
        count, gapless, last = count + 1, gapless and event.position == last + 1, event.position
        if progress is not None:
            progress(1)
    return Exported(after, count, last, gapless)


def event_to_json(event: RecordedEvent) -> dict[str, Any]:
    """Every envelope field and the hash, as JSON values (the hash covers all the rest)."""
    return {**envelope_json(event), "hash": event.hash}


def event_line(event: RecordedEvent) -> str:
    """One JSON Lines line (with its newline)."""
    return json.dumps(event_to_json(event), separators=(",", ":"), ensure_ascii=False) + "\n"


def event_from_json(data: dict[str, Any]) -> RecordedEvent:
    """The recorded event a line describes (ValueError / KeyError on a malformed line)."""
    return RecordedEvent(
        event_id=UUID(data["event_id"]),
        stream_id=str(data["stream_id"]),
        stream_version=int(data["stream_version"]),
        position=int(data["position"]),
        type=str(data["type"]),
        schema_version=int(data["schema_version"]),
        payload=dict(data["payload"]),
        metadata=EventMetadata.from_dict(data.get("metadata", {})),
        occurred_at=datetime.fromisoformat(data["occurred_at"]),
        recorded_at=datetime.fromisoformat(data["recorded_at"]),
        organization_id=str(data.get("organization_id", "")),
        hash=str(data.get("hash", "")),
    )


def read_lines(lines: Iterable[str], name: str = "export") -> Iterator[tuple[int, RecordedEvent]]:
    """The events of a JSON Lines export with their line numbers (blank lines skipped)."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, event_from_json(json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{name} line {number}: not an exported event ({exc})") from exc


def usage_claims(event: RecordedEvent, upcasters: Upcasters) -> list[str]:
    """The idempotency claims a usage event made when it was ingested (none for other events)."""
    if event.type != UsageRecorded.TYPE:
        return []
    payload = upcasters.apply(event).payload
    organization_id = payload["organization_id"]
    return [claim_key(organization_id, key) for series in payload["series"] for key in series["idempotency_keys"]]


async def import_batch(store: EventStore, events: list[RecordedEvent], upcasters: Upcasters) -> None:
    """Write checked events and the usage claims they made (audit/importing.py checks them first)."""
    await store.import_events(events, [claim for event in events for claim in usage_claims(event, upcasters)])
