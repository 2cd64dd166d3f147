"""What a projection is, and the change set it writes through."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from billing_grpc.eventstore import RecordedEvent

Document = dict[str, Any]
Key = str
Query = Mapping[str, Any]
"""Field → value equality, or field → {"$gt"|"$gte"|"$lt"|"$lte"|"$in"|"$ne": value}."""
Sort = Sequence[tuple[str, int]]


@dataclass(frozen=True)
class Index:
    """An index a read-model collection needs for its queries (MongoDB style key list)."""

    keys: tuple[tuple[str, int], ...]
    unique: bool = False


class ReadModelReader(Protocol):
    """Queries against read models: all the query side ever touches."""

    async def get(self, collection: str, key: Key) -> Document | None:
        """The document with this key, or None."""
        ...

    async def find(
        self,
        collection: str,
        query: Query,
        sort: Sort = (),
        limit: int | None = None,
        skip: int = 0,
        fields: Sequence[str] | None = None,
    ) -> list[Document]:
        """Documents matching `query` in `sort` order; only `_id` and `fields` when `fields` is given."""
        ...


class Projection(Protocol):
    """Turns events of the types it handles into changes of the collections it owns."""

    name: str
    handles: frozenset[str]
    collections: Mapping[str, Sequence[Index]]

    async def apply(self, event: RecordedEvent, view: View) -> None:
        """Update the read model for one event. Must be deterministic: rebuilds must agree."""
        ...


@runtime_checkable
class Prefetching(Protocol):
    """A projection that can name, before applying a batch, the documents the batch will read."""

    async def prefetch(self, events: Sequence[RecordedEvent], view: View) -> None:
        """Load what `events` will read into `view` (a query per collection, not one per event)."""
        ...


_DELETED: Document = {}


@dataclass
class View:
    """A projection's window on its read model: reads see this batch's own writes first."""

    reader: ReadModelReader
    changes: dict[tuple[str, Key], Document] = field(default_factory=dict)
    # What the store held before this batch, for documents read so far (None: absent).
    read: dict[tuple[str, Key], Document | None] = field(default_factory=dict)

    async def get(self, collection: str, key: Key) -> Document | None:
        """The current document, including changes made earlier in the batch."""
        pending = self.changes.get((collection, key))
        if pending is not None:
            return None if pending is _DELETED else dict(pending)
        if (collection, key) not in self.read:
            self.read[(collection, key)] = await self.reader.get(collection, key)
        stored = self.read[(collection, key)]
        return dict(stored) if stored is not None else None

    async def prefetch(self, collection: str, keys: Iterable[Key]) -> None:
        """Read many documents in one query, so later `get`s of them cost no round trip."""
        wanted = sorted({k for k in keys if (collection, k) not in self.read and (collection, k) not in self.changes})
        if not wanted:
            return
        found = {doc["_id"]: doc for doc in await self.reader.find(collection, {"_id": {"$in": wanted}})}
        for key in wanted:
            self.read[(collection, key)] = found.get(key)

    def put(self, collection: str, key: Key, document: Document) -> None:
        """Create or replace a document."""
        self.changes[(collection, key)] = {**document, "_id": key}

    def delete(self, collection: str, key: Key) -> None:
        """Remove a document if it exists."""
        self.changes[(collection, key)] = _DELETED

    def writes(self) -> dict[str, dict[Key, Document | None]]:
        """The batch's changes per collection; None means delete."""
        grouped: dict[str, dict[Key, Document | None]] = {}
        for (collection, key), document in self.changes.items():
            grouped.setdefault(collection, {})[key] = None if document is _DELETED else document
        return grouped
