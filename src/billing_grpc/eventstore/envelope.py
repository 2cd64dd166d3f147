"""The envelope of a stored event: what goes into the log and what comes back out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from billing_grpc.domain.clock import ensure_utc

JsonObject = dict[str, Any]
"""A payload: JSON-compatible values only (str, int, bool, None, lists, objects). No floats."""


def to_log_precision(moment: datetime) -> datetime:
    """UTC, truncated to the millisecond: the precision MongoDB keeps, so every store agrees."""
    moment = ensure_utc(moment)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class EventMetadata:
    """Why an event exists: the request that caused it and who made that request."""

    correlation_id: str = ""
    causation_id: str = ""
    actor: str = ""

    def to_dict(self) -> dict[str, str]:
        """The metadata as a plain mapping, for storage."""
        return {"correlation_id": self.correlation_id, "causation_id": self.causation_id, "actor": self.actor}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventMetadata:
        """Rebuild metadata from storage, tolerating fields added later."""
        return cls(
            correlation_id=str(data.get("correlation_id", "")),
            causation_id=str(data.get("causation_id", "")),
            actor=str(data.get("actor", "")),
        )


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended. Its id makes the append idempotent."""

    type: str
    payload: JsonObject
    occurred_at: datetime
    schema_version: int = 1
    metadata: EventMetadata = field(default_factory=EventMetadata)
    event_id: UUID = field(default_factory=uuid4)
    # The tenant the fact belongs to ("" for platform-wide facts such as the plan catalogue):
    # it is what lets an organization-scoped auditor read only its own part of the log.
    organization_id: str = ""

    def __post_init__(self) -> None:
        if not self.type:
            raise ValueError("an event needs a type name")
        if self.schema_version < 1:
            raise ValueError("schema versions start at 1")
        object.__setattr__(self, "occurred_at", to_log_precision(self.occurred_at))


@dataclass(frozen=True)
class RecordedEvent:
    """An event as the log holds it: immutable, numbered in its stream and in the whole log."""

    event_id: UUID
    stream_id: str
    stream_version: int
    position: int
    type: str
    schema_version: int
    payload: JsonObject
    metadata: EventMetadata
    occurred_at: datetime
    recorded_at: datetime
    organization_id: str = ""
    # sha256 over the stored content and the previous event's hash (see eventstore.chain);
    # "" for an event recorded before the log was chained.
    hash: str = ""


@dataclass(frozen=True)
class StreamAppend:
    """Events for one stream, appended only if the stream is at `expected_version`.

    `expected_version` 0 means "the stream must not exist yet"; None means "any version"
    (use it only where ordering within the stream does not matter to any decision).
    """

    stream_id: str
    expected_version: int | None
    events: tuple[NewEvent, ...]

    def __post_init__(self) -> None:
        if not self.stream_id:
            raise ValueError("a stream needs an id")
        if not self.events:
            raise ValueError("an append needs at least one event")
        if self.expected_version is not None and self.expected_version < 0:
            raise ValueError("expected_version is 0 (no stream), a positive version, or None (any)")


@dataclass(frozen=True)
class EventFilter:
    """Which events a reader wants. Empty fields match everything."""

    stream_id: str | None = None
    types: frozenset[str] = frozenset()
    # None: every tenant. Otherwise only events of these organizations.
    organization_ids: frozenset[str] | None = None

    def matches(self, event: RecordedEvent) -> bool:
        """True if `event` passes this filter."""
        if self.stream_id is not None and event.stream_id != self.stream_id:
            return False
        if self.organization_ids is not None and event.organization_id not in self.organization_ids:
            return False
        return not self.types or event.type in self.types


EVERYTHING = EventFilter()
