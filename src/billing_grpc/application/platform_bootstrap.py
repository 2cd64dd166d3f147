"""The first start of a deployment creates one platform admin and its API key, exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from billing_grpc.application.context import system_context
from billing_grpc.application.credentials import KeyHasher
from billing_grpc.application.streams import Writer, new_id
from billing_grpc.domain import api_key, user
from billing_grpc.domain.access import Role
from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.uniqueness import UniqueKeyClaimed, claim_stream, digest
from billing_grpc.eventstore import WrongExpectedVersion

BOOTSTRAP_STREAM = "platform-bootstrap"
ADMIN_EMAIL = "admin@billing-grpc.local"


class PlatformBootstrapped(DomainEvent):
    """The deployment's first platform admin exists."""

    TYPE: ClassVar[str] = "platform.bootstrapped"

    user_id: str
    key_id: str


@dataclass(frozen=True)
class BootstrapResult:
    """What the first start created; `token` is set only if this process minted the key."""

    user_id: str
    key_id: str
    token: str | None


async def ensure_platform_admin(
    writer: Writer, hasher: KeyHasher, configured_key: str | None
) -> BootstrapResult | None:
    """Create the platform admin and its key unless the deployment has them; None if it had.

    With `configured_key` (a `bgk_…` key from the environment) that key is registered instead of
    minting one. The bootstrap stream must be new, so concurrent first starts of several
    instances create one admin between them.
    """
    if await writer.store.read_stream(BOOTSTRAP_STREAM):
        return None
    minted = hasher.from_token(configured_key) if configured_key else hasher.mint()
    if minted is None:
        raise ValueError("BILLING_BOOTSTRAP_ADMIN_KEY is not a billing-grpc API key (bgk_…)")
    context = system_context()
    now = writer.clock.now()
    user_id = new_id("usr")
    events: list[DomainEvent] = [
        user.create_user(user_id, ADMIN_EMAIL, "Platform admin", None, now),
        user.RoleGranted(user_id=user_id, role=Role.PLATFORM_ADMIN, organization_id=None),
    ]
    issued = api_key.issue_key(minted.key_id, user_id, None, "bootstrap", minted.secret_hash, now, None)
    claim = UniqueKeyClaimed(scope="user_email", key_digest=digest(ADMIN_EMAIL), owner_id=user_id)
    try:
        await writer.append(
            writer.append_of(
                BOOTSTRAP_STREAM, 0, [PlatformBootstrapped(user_id=user_id, key_id=minted.key_id)], context, None
            ),
            writer.append_of(user.stream_of(user_id), 0, events, context, None),
            writer.append_of(api_key.stream_of(minted.key_id), 0, [issued], context, None),
            writer.append_of(claim_stream("user_email", ADMIN_EMAIL), 0, [claim], context, None),
        )
    except WrongExpectedVersion:
        return None  # another instance bootstrapped first
    return BootstrapResult(user_id, minted.key_id, None if configured_key else minted.token)
