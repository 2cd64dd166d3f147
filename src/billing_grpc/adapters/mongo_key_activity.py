"""Last-use times of API keys in MongoDB: operational data, deliberately outside the event log."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from bson.codec_options import CodecOptions
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)


class MongoKeyActivity:
    """One document per key holding the latest use (`$max`, so out-of-order writes are harmless)."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        db = client.get_database(database, codec_options=CodecOptions(tz_aware=True, tzinfo=UTC))
        self._collection = db["key_activity"]

    async def touch(self, key_id: str, at: datetime) -> None:
        """Record a use; failures are logged, never raised (this must not fail a call)."""
        try:
            await self._collection.update_one({"_id": key_id}, {"$max": {"last_used_at": at}}, upsert=True)
        except PyMongoError as error:
            log.warning("could not record key use: %s", error, extra={"key_id": key_id})

    async def last_used(self, key_ids: list[str]) -> dict[str, datetime]:
        """Known last-use times for these keys."""
        documents = await self._collection.find({"_id": {"$in": key_ids}}).to_list()
        return {d["_id"]: d["last_used_at"] for d in documents}
