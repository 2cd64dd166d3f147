"""Loading domain events from streams and appending decided events with their metadata."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from billing_grpc.application.context import CommandContext
from billing_grpc.domain import organization
from billing_grpc.domain.clock import Clock
from billing_grpc.domain.errors import NotFound
from billing_grpc.domain.events import DomainEvent, decode_event
from billing_grpc.eventstore import EventMetadata, EventStore, NewEvent, StreamAppend

State = TypeVar("State")


def new_id(prefix: str) -> str:
    """A fresh random id with a readable prefix, e.g. `usr_3f9a…` (96 random bits)."""
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def ordered_id(prefix: str, clock: Clock) -> str:
    """A fresh id that sorts by creation time (business clock, milliseconds), then 64 random bits.

    Keyset paging by id then lists invoices and payments in the order they were made.
    """
    millis = int(clock.now().timestamp() * 1000)
    return f"{prefix}_{millis:012x}{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True)
class Loaded:
    """A stream's domain events and the version they bring it to."""

    events: list[DomainEvent]
    version: int


async def load(store: EventStore, stream_id: str) -> Loaded:
    """Every event of a stream, decoded."""
    recorded = await store.read_stream(stream_id)
    return Loaded([decode_event(e.type, e.payload) for e in recorded], len(recorded))


async def load_existing(
    store: EventStore, stream_id: str, replay: Callable[[list[DomainEvent]], State | None], resource: str
) -> tuple[State, int]:
    """An aggregate's state and stream version, or NOT_FOUND `<resource>_not_found`."""
    loaded = await load(store, stream_id)
    state = replay(loaded.events)
    if state is None:
        raise NotFound(f"{resource}_not_found", f"{resource.replace('_', ' ')} not found")
    return state, loaded.version


async def load_organization(store: EventStore, organization_id: str) -> tuple[organization.Organization, int]:
    """An organization's state and stream version, or NOT_FOUND."""
    stream = organization.stream_of(organization_id)
    return await load_existing(store, stream, organization.Organization.replay, "organization")


@dataclass(frozen=True)
class Writer:
    """Turns decided domain events into appends stamped with time, tenant and causation."""

    store: EventStore
    clock: Clock

    def append_of(
        self,
        stream_id: str,
        expected_version: int | None,
        events: Sequence[DomainEvent],
        context: CommandContext,
        organization_id: str | None,
    ) -> StreamAppend | None:
        """One stream's part of an atomic append; None when the decision was to change nothing."""
        if not events:
            return None
        metadata = EventMetadata(
            correlation_id=context.correlation_id, causation_id=context.command_id, actor=context.principal.actor
        )
        now = self.clock.now()
        return StreamAppend(
            stream_id,
            expected_version,
            tuple(
                NewEvent(
                    type=event.TYPE,
                    schema_version=event.VERSION,
                    payload=event.payload(),
                    occurred_at=now,
                    metadata=metadata,
                    organization_id=organization_id or "",
                )
                for event in events
            ),
        )

    async def append(
        self, *appends: StreamAppend | None, claims: Sequence[str] = (), expect: Mapping[str, int] | None = None
    ) -> int:
        """Append atomically (with claims and expectations); return the last position (0: nothing written)."""
        present = [a for a in appends if a is not None]
        if not present:
            return 0
        recorded = await self.store.append(*present, claims=claims, expect=expect)
        return recorded[-1].position
