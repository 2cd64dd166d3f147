"""Leases in MongoDB: one document per job, taken when free or expired, renewed by its holder.

Expiry uses the server instances' wall clocks (not the business clock, which tests move): a
lease is operational, like a lock, and only has to outlive clock differences between hosts,
so leases last several scheduler ticks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError
from pymongo.write_concern import WriteConcern


class MongoLease:
    """The Lease port on a `leases` collection."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        db = client.get_database(database, write_concern=WriteConcern("majority"))
        self._leases = db["leases"]

    async def acquire(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew the lease (see Lease.acquire)."""
        now = datetime.now(UTC)
        try:
            # Matches only if the lease is ours or has expired; otherwise the upsert collides on
            # `_id` with the other holder's document and the lease is not ours.
            await self._leases.update_one(
                {"_id": name, "$or": [{"holder": holder}, {"expires_at": {"$lt": now}}]},
                {"$set": {"holder": holder, "expires_at": now + timedelta(seconds=seconds)}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return True
