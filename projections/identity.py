"""Read models of the identity side: users with their roles, and API keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from billing_grpc.domain.api_key import ApiKeyIssued, ApiKeyRevoked
from billing_grpc.domain.events import decode_event
from billing_grpc.domain.user import RoleGranted, RoleRevoked, UserCreated, UserDisabled
from billing_grpc.eventstore import RecordedEvent
from projections.model import Index, View

USERS = "users"
API_KEYS = "api_keys"


class UsersProjection:
    """One document per user, with its status and roles."""

    name = "users"
    handles = frozenset({UserCreated.TYPE, UserDisabled.TYPE, RoleGranted.TYPE, RoleRevoked.TYPE})
    collections: Mapping[str, Sequence[Index]] = {USERS: [Index((("organization_id", 1), ("created_at", 1)))]}

    async def apply(self, event: RecordedEvent, view: View) -> None:
        """Create or update the user's document."""
        fact = decode_event(event.type, event.payload)
        if isinstance(fact, UserCreated):
            view.put(USERS, fact.user_id, {**fact.model_dump(mode="python"), "status": "active", "roles": []})
            return
        assert isinstance(fact, UserDisabled | RoleGranted | RoleRevoked)
        user = await view.get(USERS, fact.user_id)
        if user is None:
            return
        if isinstance(fact, UserDisabled):
            user["status"] = "disabled"
        else:
            binding = {"role": fact.role.value, "organization_id": fact.organization_id}
            roles = [r for r in user["roles"] if r != binding]
            user["roles"] = sorted(
                [*roles, binding] if isinstance(fact, RoleGranted) else roles,
                key=lambda r: (r["role"], r["organization_id"] or ""),
            )
        view.put(USERS, fact.user_id, user)


class ApiKeysProjection:
    """One document per key: its owner, keyed hash, expiry and revocation (never the secret)."""

    name = "api_keys"
    handles = frozenset({ApiKeyIssued.TYPE, ApiKeyRevoked.TYPE})
    collections: Mapping[str, Sequence[Index]] = {API_KEYS: [Index((("user_id", 1), ("issued_at", -1)))]}

    async def apply(self, event: RecordedEvent, view: View) -> None:
        """Record an issued key, or mark it revoked."""
        fact = decode_event(event.type, event.payload)
        if isinstance(fact, ApiKeyIssued):
            view.put(API_KEYS, fact.key_id, {**fact.model_dump(mode="python"), "revoked_at": None})
            return
        assert isinstance(fact, ApiKeyRevoked)
        key = await view.get(API_KEYS, fact.key_id)
        if key is not None:
            view.put(API_KEYS, fact.key_id, {**key, "revoked_at": fact.revoked_at})
