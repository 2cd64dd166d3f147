"""The decisions every store makes the same way before it writes: replay, reject or accept.

Keeping them here means the in-memory and MongoDB stores cannot disagree about optimistic
concurrency or idempotency; the stores only differ in how they read state and commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from billing_grpc.eventstore.envelope import NewEvent, RecordedEvent, StreamAppend
from billing_grpc.eventstore.errors import ClaimConflict, EventIdConflict, WrongExpectedVersion


@dataclass(frozen=True)
class Row:
    """A new event with its stream coordinates, waiting for a global position."""

    stream_id: str
    stream_version: int
    event: NewEvent

    def record(self, position: int, recorded_at: datetime) -> RecordedEvent:
        """The recorded form of this row once the store gave it a position."""
        return RecordedEvent(
            event_id=self.event.event_id,
            stream_id=self.stream_id,
            stream_version=self.stream_version,
            position=position,
            type=self.event.type,
            schema_version=self.event.schema_version,
            payload=self.event.payload,
            metadata=self.event.metadata,
            occurred_at=self.event.occurred_at,
            recorded_at=recorded_at,
            organization_id=self.event.organization_id,
        )


@dataclass(frozen=True)
class Replayed:
    """Every event id of the batch is already recorded: a retry, answered with the original."""

    events: list[RecordedEvent]


@dataclass(frozen=True)
class Accepted:
    """The batch may be written as these rows, in this order."""

    rows: list[Row]


Decision = Replayed | Accepted


def event_ids(batch: Sequence[StreamAppend]) -> list[UUID]:
    """Every event id of a batch, in order."""
    return [event.event_id for append in batch for event in append.events]


def streams_needing_versions(
    batches: Iterable[Sequence[StreamAppend]], expectations: Iterable[Mapping[str, int]] = ()
) -> set[str]:
    """Streams whose current version must be read before deciding.

    An append that expects a new stream (version 0) needs no read: the unique
    (stream, version) index rejects it if the stream already exists. Streams that are only
    expected (not appended to) always need one: nothing else would notice them move.
    """
    appended = {a.stream_id for batch in batches for a in batch if a.expected_version != 0}
    return appended.union(*(expect.keys() for expect in expectations))


def decide(
    batch: Sequence[StreamAppend],
    versions: MutableMapping[str, int],
    recorded: Mapping[UUID, RecordedEvent],
    claims: Sequence[str] = (),
    taken: set[str] | None = None,
    expect: Mapping[str, int] | None = None,
) -> Decision:
    """Decide one atomic batch against the known stream versions, recorded ids and claimed keys.

    `versions` holds the current version of streams (absent means unknown-or-new) and `taken`
    the keys claimed so far; both advance for an accepted batch, so several batches can be
    decided in sequence before one commit. `expect` names streams the batch does not append
    to but whose version it was decided on. Raises WrongExpectedVersion, EventIdConflict or
    ClaimConflict; then nothing may be written.
    """
    taken = set() if taken is None else taken
    ids = event_ids(batch)
    if len(set(ids)) != len(ids):
        raise EventIdConflict("an append lists the same event id twice")
    already = [recorded[i] for i in ids if i in recorded]
    if already:
        if len(already) != len(ids):
            raise EventIdConflict("some of the appended event ids are recorded already")
        return Replayed(already)
    if len({a.stream_id for a in batch}) != len(batch):
        raise ValueError("an atomic append names the same stream twice")
    if len(set(claims)) != len(claims):
        raise ValueError("an append claims the same key twice")
    if clashes := taken.intersection(claims):
        raise ClaimConflict(clashes)
    for stream_id, expected in (expect or {}).items():
        if versions.get(stream_id, 0) != expected:
            raise WrongExpectedVersion(stream_id, expected, versions.get(stream_id, 0))
    rows: list[Row] = []
    advanced: dict[str, int] = {}
    for append in batch:
        current = versions.get(append.stream_id, 0)
        if append.expected_version is not None and append.expected_version != current:
            raise WrongExpectedVersion(append.stream_id, append.expected_version, current)
        for offset, event in enumerate(append.events, start=1):
            rows.append(Row(append.stream_id, current + offset, event))
        advanced[append.stream_id] = current + len(append.events)
    versions.update(advanced)
    taken.update(claims)
    return Accepted(rows)


def check_import(head: int, events: Sequence[RecordedEvent]) -> None:
    """Refuse an import that does not continue the log at `head` without gaps (ValueError)."""
    for expected, event in enumerate(events, start=head + 1):
        if event.position != expected:
            raise ValueError(f"an import must continue the log: expected position {expected}, got {event.position}")
