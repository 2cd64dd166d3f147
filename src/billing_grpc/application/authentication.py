"""Turning a bearer token into a Principal, from the read models of keys and users."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from billing_grpc.application.credentials import KeyHasher, parse
from billing_grpc.domain.access import Grant, Principal, Role
from billing_grpc.domain.clock import Clock
from billing_grpc.domain.errors import Unauthenticated
from projections.identity import API_KEYS, USERS
from projections.model import ReadModelReader

# Recording every use would put a write on every call; a minute's resolution is plenty.
TOUCH_INTERVAL = timedelta(minutes=1)


class KeyActivity(Protocol):
    """Where the last-use time of keys is kept (operational data, not a billing fact)."""

    async def touch(self, key_id: str, at: datetime) -> None:
        """Record that the key authenticated a call at `at`."""
        ...

    async def last_used(self, key_ids: list[str]) -> dict[str, datetime]:
        """The last-use times of the given keys that were ever used."""
        ...


class InMemoryKeyActivity:
    """Key activity in a dictionary."""

    def __init__(self) -> None:
        self._last: dict[str, datetime] = {}

    async def touch(self, key_id: str, at: datetime) -> None:
        """Keep the latest time."""
        self._last[key_id] = max(at, self._last.get(key_id, at))

    async def last_used(self, key_ids: list[str]) -> dict[str, datetime]:
        """Known times for these keys."""
        return {k: self._last[k] for k in key_ids if k in self._last}


def _refused(reason: str, message: str) -> Unauthenticated:
    return Unauthenticated(reason, message)


@dataclass
class Authenticator:
    """Verifies API keys: shape, keyed hash (constant time), revocation, expiry, user status."""

    read_models: ReadModelReader
    hasher: KeyHasher
    clock: Clock
    activity: KeyActivity
    _touched: dict[str, datetime] = field(default_factory=dict)
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    async def authenticate(self, authorization: str | None) -> Principal:
        """The principal a `Bearer <key>` header stands for, or UNAUTHENTICATED."""
        if not authorization:
            raise _refused("missing_credentials", "send `authorization: Bearer <api key>`")
        scheme, _, token = authorization.partition(" ")
        parsed = parse(token.strip()) if scheme.lower() == "bearer" else None
        if parsed is None:
            raise _refused("invalid_credentials", "the API key is not valid")
        key_id, secret = parsed
        key = await self.read_models.get(API_KEYS, key_id)
        # The same answer for an unknown key id and a wrong secret: nothing to probe.
        if key is None or not self.hasher.verify(secret, key["secret_hash"]):
            raise _refused("invalid_credentials", "the API key is not valid")
        now = self.clock.now()
        if key.get("revoked_at") is not None:
            raise _refused("key_revoked", "the API key was revoked")
        if key.get("expires_at") is not None and key["expires_at"] <= now:
            raise _refused("key_expired", "the API key has expired")
        user = await self.read_models.get(USERS, key["user_id"])
        if user is None or user["status"] != "active":
            raise _refused("user_disabled", "the key's user is disabled")
        self._touch(key_id, now)
        grants = frozenset(Grant(Role(r["role"]), r["organization_id"]) for r in user["roles"])
        return Principal(user_id=user["_id"], grants=grants, key_id=key_id)

    def _touch(self, key_id: str, now: datetime) -> None:
        last = self._touched.get(key_id)
        if last is not None and now - last < TOUCH_INTERVAL:
            return
        self._touched[key_id] = now
        # Off the request path: a slow store must not slow every authenticated call.
        task = asyncio.create_task(self.activity.touch(key_id, now))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
