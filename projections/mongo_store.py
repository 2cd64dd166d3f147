"""Read models and checkpoints in MongoDB; a batch and its checkpoint commit in one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any

from bson.codec_options import CodecOptions
from pymongo import AsyncMongoClient, DeleteOne, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from billing_grpc.eventstore import StoreUnavailable
from billing_grpc.eventstore.mongo_documents import ensure_collections
from projections.model import Document, Index, Key, Query, Sort
from projections.store import Batch, CheckpointMoved

CHECKPOINTS = "checkpoints"


class MongoReadModels:
    """Read models as MongoDB collections named `<prefix><collection>`.

    The prefix lets a verification rebuild write into scratch collections beside the live ones.
    """

    def __init__(self, client: AsyncMongoClient[Document], database: str, prefix: str = "rm_") -> None:
        self._client = client
        self._db: AsyncDatabase[Document] = client.get_database(
            database,
            codec_options=CodecOptions(tz_aware=True, tzinfo=UTC),
            write_concern=WriteConcern("majority"),
            read_concern=ReadConcern("majority"),
        )
        self._prefix = prefix

    def _collection(self, name: str) -> Any:
        return self._db[self._prefix + name]

    async def ensure_indexes(self, collections: Mapping[str, Sequence[Index]]) -> None:
        """Create every collection and declared index (idempotent), so no transaction creates one."""
        names = [self._prefix + name for name in collections]
        await ensure_collections(self._db, [self._prefix + CHECKPOINTS, *names])
        for name, indexes in collections.items():
            for index in indexes:
                await self._collection(name).create_index(list(index.keys), unique=index.unique)

    async def get(self, collection: str, key: Key) -> Document | None:
        """The document with this key."""
        try:
            document: Document | None = await self._collection(collection).find_one({"_id": key})
        except ConnectionFailure as exc:
            raise StoreUnavailable(str(exc)) from exc
        return document

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
        # `_id` named explicitly: an empty projection would mean "every field".
        projection = None if fields is None else {"_id": True, **dict.fromkeys(fields, True)}
        cursor = self._collection(collection).find(dict(query), projection)
        cursor = cursor.sort(list(sort) or [("_id", 1)]).skip(skip)
        if limit is not None:
            cursor = cursor.limit(limit)
        try:
            documents: list[Document] = await cursor.to_list()
        except ConnectionFailure as exc:
            raise StoreUnavailable(str(exc)) from exc
        return documents

    async def checkpoint(self, projection: str) -> int:
        """The stored checkpoint."""
        document = await self._collection(CHECKPOINTS).find_one({"_id": projection})
        return int(document["position"]) if document else 0

    async def commit(
        self, projection: str, writes: Mapping[str, Mapping[Key, Document | None]], previous: int, position: int
    ) -> None:
        """Apply the batch and move the checkpoint in one transaction."""
        await self.commit_all([Batch(projection, writes, previous, position)])

    async def commit_all(self, batches: Sequence[Batch]) -> None:
        """Apply every batch and move every checkpoint in one transaction."""
        current = ""
        try:
            async with self._client.start_session() as session, await session.start_transaction():
                for batch in batches:
                    current = batch.projection
                    moved = await self._collection(CHECKPOINTS).update_one(
                        {"_id": batch.projection, "position": batch.previous},
                        {"$set": {"position": batch.position}},
                        upsert=batch.previous == 0,
                        session=session,
                    )
                    if moved.matched_count == 0 and moved.upserted_id is None:
                        raise CheckpointMoved(batch.projection)
                    for collection, documents in batch.writes.items():
                        operations = [
                            DeleteOne({"_id": key}) if doc is None else ReplaceOne({"_id": key}, doc, upsert=True)
                            for key, doc in documents.items()
                        ]
                        await self._collection(collection).bulk_write(operations, ordered=True, session=session)
        except DuplicateKeyError as exc:  # an upsert lost to a checkpoint someone else wrote
            raise CheckpointMoved(current) from exc
        except ConnectionFailure as exc:
            raise StoreUnavailable(str(exc)) from exc
        except OperationFailure as exc:
            # A write conflict here means another runner is committing these checkpoints at the
            # same moment: the same situation as a moved checkpoint.
            if exc.has_error_label("TransientTransactionError"):
                raise CheckpointMoved(current) from exc
            raise

    def with_prefix(self, prefix: str) -> MongoReadModels:
        """Read models on the same database under another prefix (scratch collections)."""
        return MongoReadModels(self._client, self._db.name, prefix)

    async def drop(self) -> None:
        """Drop every collection under this prefix (the end of a scratch copy)."""
        for name in await self._db.list_collection_names():
            if name.startswith(self._prefix):
                await self._db.drop_collection(name)

    async def reset(self, projection: str, collections: Sequence[str]) -> None:
        """Drop the projection's collections and checkpoint."""
        for collection in collections:
            await self._collection(collection).drop()
        await self._collection(CHECKPOINTS).delete_one({"_id": projection})
