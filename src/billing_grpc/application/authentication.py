"""Turning a bearer token into a Principal, from the read models of keys and users."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from billing_grpc.application.credentials import KeyHasher, parse
from billing_grpc.domain.access import Grant, Principal, Role
from billing_grpc.domain.clock import Clock
from billing_grpc.domain.errors import Unauthenticated
from billing_grpc.eventstore import RecordedEvent
from projections.identity import API_KEYS, USERS, ApiKeysProjection, UsersProjection
from projections.model import ReadModelReader

# Recording every use would put a write on every call; a minute's resolution is plenty.
TOUCH_INTERVAL = timedelta(minutes=1)
# The events that change what a key authenticates as: any of them drops every cached key.
_IDENTITY_TYPES = ApiKeysProjection.handles | UsersProjection.handles


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
    # Key and user documents by key id: two store reads per call capped checks at a few hundred
    # a second on the embedded store. Dropped when the runner applies any identity event, so a
    # revocation still takes effect as soon as its projection applies it (see `changed`).
    _documents: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=dict)
    _generation: int = 0

    def changed(self, events: Sequence[RecordedEvent] | None) -> None:
        """Forget every cached key when keys or users changed (None: anything may have)."""
        if events is None or any(event.type in _IDENTITY_TYPES for event in events):
            self._generation += 1
            self._documents.clear()

    async def _lookup(self, key_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The key's document and its user's (None where absent); found pairs are cached."""
        cached = self._documents.get(key_id)
        if cached is not None:
            return cached
        generation = self._generation
        key = await self.read_models.get(API_KEYS, key_id)
        if key is None:
            return None, None
        user = await self.read_models.get(USERS, key["user_id"])
        if generation == self._generation and user is not None:
            self._documents[key_id] = (key, user)
        return key, user

    async def authenticate(self, authorization: str | None) -> Principal:
        """The principal a `Bearer <key>` header stands for, or UNAUTHENTICATED."""
        if not authorization:
            raise _refused("missing_credentials", "send `authorization: Bearer <api key>`")
        scheme, _, token = authorization.partition(" ")
        parsed = parse(token.strip()) if scheme.lower() == "bearer" else None
        if parsed is None:
            raise _refused("invalid_credentials", "the API key is not valid")
        key_id, secret = parsed
        key, user = await self._lookup(key_id)
        # The same answer for an unknown key id and a wrong secret: nothing to probe.
        if key is None or not self.hasher.verify(secret, key["secret_hash"]):
            raise _refused("invalid_credentials", "the API key is not valid")
        now = self.clock.now()
        if key.get("revoked_at") is not None:
            raise _refused("key_revoked", "the API key was revoked")
        if key.get("expires_at") is not None and key["expires_at"] <= now:
            raise _refused("key_expired", "the API key has expired")
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
