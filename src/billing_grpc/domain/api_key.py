"""API keys: the credentials users authenticate with. Only a keyed hash is ever recorded."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.validation import Violations


class ApiKeyIssued(DomainEvent):
    """A key was issued to a user. `secret_hash` is an HMAC of the secret under a server key."""

    TYPE: ClassVar[str] = "api_key.issued"

    key_id: str
    user_id: str
    organization_id: str | None
    name: str
    secret_hash: str
    issued_at: datetime
    expires_at: datetime | None = None


class ApiKeyRevoked(DomainEvent):
    """A key stopped working."""

    TYPE: ClassVar[str] = "api_key.revoked"

    key_id: str
    revoked_at: datetime


@dataclass(frozen=True)
class ApiKey:
    """The state of one key, folded from its stream."""

    key_id: str
    user_id: str
    organization_id: str | None
    revoked: bool

    @classmethod
    def replay(cls, events: Iterable[DomainEvent]) -> ApiKey | None:
        """Fold the stream's events; None if the key was never issued."""
        state: ApiKey | None = None
        for event in events:
            if isinstance(event, ApiKeyIssued):
                state = cls(event.key_id, event.user_id, event.organization_id, revoked=False)
            elif isinstance(event, ApiKeyRevoked) and state is not None:
                state = cls(state.key_id, state.user_id, state.organization_id, revoked=True)
        return state

    def revoke(self, now: datetime) -> list[DomainEvent]:
        """Decide revoking the key (idempotent)."""
        return [] if self.revoked else [ApiKeyRevoked(key_id=self.key_id, revoked_at=now)]


def stream_of(key_id: str) -> str:
    """The stream that holds a key's events."""
    return f"api_key-{key_id}"


def issue_key(
    key_id: str,
    user_id: str,
    organization_id: str | None,
    name: str,
    secret_hash: str,
    now: datetime,
    expires_at: datetime | None,
) -> ApiKeyIssued:
    """Decide issuing a key; the expiry, if any, must be in the future."""
    violations = Violations()
    violations.text(name, "name", required=False)
    if expires_at is not None:
        violations.check(expires_at > now, "expires_at", "must be in the future")
    violations.raise_if_any()
    return ApiKeyIssued(
        key_id=key_id,
        user_id=user_id,
        organization_id=organization_id,
        name=name,
        secret_hash=secret_hash,
        issued_at=now,
        expires_at=expires_at,
    )
