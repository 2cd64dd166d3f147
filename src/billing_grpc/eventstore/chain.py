"""Tamper evidence: every event's hash covers its own stored content and the previous event's hash.

One pure function computes it for both stores, so they agree by construction, and an auditor
can recompute it outside our code from what `ReadEvents` or `export-events` deliver:

    hash(n) = sha256(bytes.fromhex(hash(n - 1)) + canonical(n)).hexdigest(),  hash(0) = 64 zeros

`canonical` is the JSON object of the envelope as stored (payload before upcasting), with
sorted keys, no whitespace, UTF-8, times as ISO 8601 UTC with milliseconds. Payloads hold no
floats (money is integer minor units, quantities are decimal strings), so the encoding is
deterministic across languages.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from billing_grpc.eventstore.envelope import RecordedEvent

GENESIS_HASH = "0" * 64
"""The previous hash of position 1."""


def _moment(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def _json_default(value: Any) -> Any:
    # Payloads are JSON values; a datetime that slipped in is encoded as the store returns it.
    if isinstance(value, datetime):
        return _moment(value)
    raise TypeError(f"{type(value).__name__} has no canonical encoding")


# One encoder for every call: json.dumps with options builds a new one each time (measurable per event).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def envelope_json(event: RecordedEvent) -> dict[str, Any]:
    """Every envelope field of a stored event but its hash, as JSON values: what the hash covers.

    An `export-events` line is this plus `hash`, so auditors recompute the chain from an export.
    """
    return {
        "position": event.position,
        "event_id": str(event.event_id),
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "type": event.type,
        "schema_version": event.schema_version,
        "payload": event.payload,
        "metadata": event.metadata.to_dict(),
        "occurred_at": _moment(event.occurred_at),
        "recorded_at": _moment(event.recorded_at),
        "organization_id": event.organization_id,
    }


def canonical_bytes(event: RecordedEvent) -> bytes:
    """The deterministic encoding of an event as stored, which its hash covers."""
    return _ENCODER.encode(envelope_json(event)).encode("utf-8")


def event_hash(previous_hash: str, event: RecordedEvent) -> str:
    """sha256(previous hash's bytes || canonical bytes of the event), as hex."""
    digest = hashlib.sha256(bytes.fromhex(previous_hash))
    digest.update(canonical_bytes(event))
    return digest.hexdigest()


def chained(previous_hash: str, events: Iterable[RecordedEvent]) -> list[RecordedEvent]:
    """The events (consecutive, in position order) with their hashes set, chained on `previous_hash`."""
    result: list[RecordedEvent] = []
    for event in events:
        previous_hash = event_hash(previous_hash, event)
        result.append(replace(event, hash=previous_hash))
    return result


@dataclass(frozen=True)
class ChainReport:
    """What a walk of the log found: how far it checked and where the chain first broke."""

    head: int
    checked: int
    # Events before the chain existed (no hash at all), positions 1..unhashed_prefix: reported, not a failure.
    unhashed_prefix: int = 0
    broken_at: int | None = None
    reason: str = ""

    @property
    def intact(self) -> bool:
        """True if every hashed event matches its content and its predecessor."""
        return self.broken_at is None


class StoredLog(Protocol):
    """The part of the event store a chain check reads."""

    async def read_stored(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Events as stored, in position order."""
        ...

    async def head_position(self) -> int:
        """The head of the log."""
        ...


@dataclass
class ChainWalk:
    """The chain followed one event at a time from position 1: what a log check and an import check share.

    A log recorded before hashing existed starts with events that carry none: that prefix is
    counted and the chain starts after it from the genesis hash (the counter held no last hash
    then). A missing hash after the chain started is a break (someone removed it), as is a gap.
    """

    position: int = 0
    previous: str = GENESIS_HASH
    unhashed_prefix: int = 0

    def step(self, event: RecordedEvent) -> str | None:
        """Take the next event: the reason it breaks the chain (nothing is taken then), or None."""
        if event.position != self.position + 1:
            return "position missing from the log"
        if not event.hash:
            if self.previous != GENESIS_HASH:
                return "hash missing"
            self.position = self.unhashed_prefix = event.position
            return None
        if event_hash(self.previous, event) != event.hash:
            return "hash does not match the event and its predecessor"
        self.position, self.previous = event.position, event.hash
        return None


async def verify_chain(
    store: StoredLog, *, page: int = 1000, progress: Callable[[int], None] | None = None
) -> ChainReport:
    """Walk the stored log from position 1 and recompute every hash; name the first broken position.

    The rules are ChainWalk's; a log that ends before the head the counter records is broken too.
    """
    head = await store.head_position()
    walk = ChainWalk()
    while events := await store.read_stored(walk.position, page):
        for event in events:
            if (reason := walk.step(event)) is not None:
                return ChainReport(head, walk.position, walk.unhashed_prefix, walk.position + 1, reason)
        if progress is not None:
            progress(len(events))
    if walk.position < head:
        missing = walk.position + 1
        return ChainReport(head, walk.position, walk.unhashed_prefix, missing, "position missing from the log")
    return ChainReport(head, walk.position, walk.unhashed_prefix)
