"""Where read models and projection checkpoints live: the port and the in-memory store."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from projections.model import Document, Index, Key, Query, ReadModelReader, Sort
from projections.query import matches, ordered


class CheckpointMoved(Exception):
    """Another runner advanced this projection's checkpoint first; reload and retry."""


@dataclass(frozen=True)
class Batch:
    """One projection's writes for a run of events, and the checkpoint move that goes with them."""

    projection: str
    writes: Mapping[str, Mapping[Key, Document | None]]
    previous: int
    position: int


class ReadModelStore(ReadModelReader, Protocol):
    """Read models plus checkpoints, with an atomic commit of both."""

    async def ensure_indexes(self, collections: Mapping[str, Sequence[Index]]) -> None:
        """Create the indexes the projections declare."""
        ...

    async def checkpoint(self, projection: str) -> int:
        """The log position this projection's read model reflects (0: nothing yet)."""
        ...

    async def commit(
        self, projection: str, writes: Mapping[str, Mapping[Key, Document | None]], previous: int, position: int
    ) -> None:
        """Apply the writes and move the checkpoint from `previous` to `position`, atomically.

        Raises CheckpointMoved if the checkpoint is no longer `previous`: the batch was
        applied by someone else, and applying it again would count it twice.
        """
        ...

    async def commit_all(self, batches: Sequence[Batch]) -> None:
        """Commit several projections' batches atomically (see `commit`); one moved refuses all."""
        ...

    async def reset(self, projection: str, collections: Sequence[str]) -> None:
        """Drop a projection's collections and checkpoint, for a rebuild."""
        ...


class InMemoryReadModels:
    """Read models in dictionaries, for unit tests and the in-memory server.

    The field that leads each declared index gets an equality lookup (value → keys), so a query
    by that field reads its candidates only, as MongoDB would: scanning every document per query
    made a billing run of 10,000 subscriptions quadratic.
    """

    def __init__(self) -> None:
        self._collections: dict[str, dict[Key, Document]] = {}
        self._checkpoints: dict[str, int] = {}
        self._lookups: dict[str, dict[str, dict[Any, set[Key]]]] = {}  # collection → field → value → keys

    async def ensure_indexes(self, collections: Mapping[str, Sequence[Index]]) -> None:
        """Keep an equality lookup on the leading field of every declared index."""
        for collection, indexes in collections.items():
            lookups = self._lookups.setdefault(collection, {})
            for index in indexes:
                field_name = index.keys[0][0]
                if field_name not in lookups:
                    lookups[field_name] = {}
                    for key, document in self._collections.get(collection, {}).items():
                        _remember(lookups[field_name], document.get(field_name), key)

    async def get(self, collection: str, key: Key) -> Document | None:
        """A copy of the stored document, so callers cannot change the model behind our back."""
        document = self._collections.get(collection, {}).get(key)
        return copy.deepcopy(document) if document is not None else None

    async def find(
        self,
        collection: str,
        query: Query,
        sort: Sort = (),
        limit: int | None = None,
        skip: int = 0,
        fields: Sequence[str] | None = None,
    ) -> list[Document]:
        """Matching documents, sorted, paged; only `_id` and `fields` when `fields` is given."""
        stored = self._collections.get(collection, {})
        ids = query.get("_id")
        if len(query) == 1 and isinstance(ids, dict) and set(ids) == {"$in"}:  # a batch of lookups
            found = [stored[key] for key in ids["$in"] if key in stored]
        else:
            found = [doc for doc in self._candidates(collection, query) if matches(doc, query)]
        page = ordered(found, sort or [("_id", 1)])[skip:]
        page = page[:limit] if limit is not None else page
        if fields is not None:
            kept = {"_id", *fields}
            return [copy.deepcopy({name: value for name, value in doc.items() if name in kept}) for doc in page]
        return copy.deepcopy(page)

    def _candidates(self, collection: str, query: Query) -> list[Document]:
        """The documents an equality on an indexed field allows, else every document."""
        stored = self._collections.get(collection, {})
        lookups = self._lookups.get(collection, {})
        narrowest: set[Key] | None = None
        for field_name, condition in query.items():
            if field_name in lookups and not isinstance(condition, dict) and _hashable(condition):
                keys = lookups[field_name].get(condition, set())
                if narrowest is None or len(keys) < len(narrowest):
                    narrowest = keys
        if narrowest is None:
            return list(stored.values())
        return [stored[key] for key in narrowest]

    async def checkpoint(self, projection: str) -> int:
        """The stored checkpoint."""
        return self._checkpoints.get(projection, 0)

    async def commit(
        self, projection: str, writes: Mapping[str, Mapping[Key, Document | None]], previous: int, position: int
    ) -> None:
        """Apply writes and move the checkpoint, all or nothing."""
        await self.commit_all([Batch(projection, writes, previous, position)])

    async def commit_all(self, batches: Sequence[Batch]) -> None:
        """Apply every batch and move every checkpoint, all or nothing."""
        for batch in batches:
            if self._checkpoints.get(batch.projection, 0) != batch.previous:
                raise CheckpointMoved(batch.projection)
        for batch in batches:
            for collection, documents in batch.writes.items():
                stored = self._collections.setdefault(collection, {})
                lookups = self._lookups.get(collection, {})
                for key, document in documents.items():
                    previous = stored.pop(key, None)
                    for field_name, lookup in lookups.items():
                        if previous is not None:
                            _forget(lookup, previous.get(field_name), key)
                        if document is not None:
                            _remember(lookup, document.get(field_name), key)
                    if document is not None:
                        stored[key] = copy.deepcopy(document)
            self._checkpoints[batch.projection] = batch.position

    async def reset(self, projection: str, collections: Sequence[str]) -> None:
        """Forget the projection's documents and checkpoint."""
        for collection in collections:
            self._collections.pop(collection, None)
            for lookup in self._lookups.get(collection, {}).values():
                lookup.clear()
        self._checkpoints.pop(projection, None)


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _remember(lookup: dict[Any, set[Key]], value: object, key: Key) -> None:
    if _hashable(value):
        lookup.setdefault(value, set()).add(key)


def _forget(lookup: dict[Any, set[Key]], value: object, key: Key) -> None:
    if _hashable(value) and value in lookup:
        lookup[value].discard(key)
