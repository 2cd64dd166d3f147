"""The event log: a port, an in-memory store for unit tests and a MongoDB store."""

from billing_grpc.eventstore.envelope import (
    EVERYTHING,
    EventFilter,
    EventMetadata,
    NewEvent,
    RecordedEvent,
    StreamAppend,
)
from billing_grpc.eventstore.errors import ClaimConflict, EventIdConflict, StoreUnavailable, WrongExpectedVersion
from billing_grpc.eventstore.port import EventStore, read_pages, subscribe
from billing_grpc.eventstore.upcasting import Upcasters

__all__ = [
    "EVERYTHING",
    "ClaimConflict",
    "EventFilter",
    "EventIdConflict",
    "EventMetadata",
    "EventStore",
    "NewEvent",
    "RecordedEvent",
    "StoreUnavailable",
    "StreamAppend",
    "Upcasters",
    "WrongExpectedVersion",
    "read_pages",
    "subscribe",
]
