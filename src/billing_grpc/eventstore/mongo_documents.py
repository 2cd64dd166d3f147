"""How the MongoDB event store lays out its documents: collection names, the event document, and
creating collections outside transactions."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid

from billing_grpc.eventstore.envelope import EventMetadata, RecordedEvent

Document = dict[str, Any]

EVENTS = "events"
COUNTERS = "event_counters"
CLAIMS = "claims"
POSITION_COUNTER = "position"


async def ensure_collections(db: AsyncDatabase[Document], names: Iterable[str]) -> None:
    """Create these collections unless they exist.

    Never leave it to a first insert inside a transaction: secantusdb then holds the catalogue
    while another open transaction waits ~5 s (measured), and MongoDB before 4.4 refuses it.
    """
    existing = set(await db.list_collection_names())
    for name in names:
        if name not in existing:
            with contextlib.suppress(CollectionInvalid):  # another instance created it meanwhile
                await db.create_collection(name)


def type_field(event_type: str) -> str:
    """A type name usable as a document field name (no dots)."""
    return event_type.replace(".", ":")


def decode(doc: Document) -> RecordedEvent:
    """A stored event document as a RecordedEvent (not upcast)."""
    return RecordedEvent(
        event_id=UUID(doc["event_id"]),
        stream_id=doc["stream_id"],
        stream_version=int(doc["stream_version"]),
        position=int(doc["_id"]),
        type=doc["type"],
        schema_version=int(doc["schema_version"]),
        payload=doc["payload"],
        metadata=EventMetadata.from_dict(doc.get("metadata", {})),
        occurred_at=doc["occurred_at"],
        recorded_at=doc["recorded_at"],
        organization_id=doc.get("organization_id", ""),
        hash=doc.get("hash", ""),
    )


def encode(event: RecordedEvent) -> Document:
    """The document a recorded event is stored as; its position is the `_id`."""
    return {
        "_id": event.position,
        "position": event.position,
        "event_id": str(event.event_id),
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "type": event.type,
        "schema_version": event.schema_version,
        "payload": event.payload,
        "metadata": event.metadata.to_dict(),
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "organization_id": event.organization_id,
        "hash": event.hash,
    }
