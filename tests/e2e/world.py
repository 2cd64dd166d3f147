"""A populated deployment for authorization tests: two organizations and a key per role.

`RPCS` holds one line per RPC, so one table drives every RPC, role and own/other organization.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from grpc import aio

from billing.v1 import (
    event_log_pb2,
    event_log_pb2_grpc,
    identity_pb2,
    identity_pb2_grpc,
    organizations_pb2,
    organizations_pb2_grpc,
)
from tests.e2e.conftest import Running, auth


@dataclass
class Stubs:
    """One typed stub per service."""

    events: event_log_pb2_grpc.EventLogServiceStub
    organizations: organizations_pb2_grpc.OrganizationServiceStub
    users: identity_pb2_grpc.UserServiceStub
    keys: identity_pb2_grpc.ApiKeyServiceStub

    @classmethod
    def on(cls, channel: aio.Channel) -> Stubs:
        return cls(
            event_log_pb2_grpc.EventLogServiceStub(channel),
            organizations_pb2_grpc.OrganizationServiceStub(channel),
            identity_pb2_grpc.UserServiceStub(channel),
            identity_pb2_grpc.ApiKeyServiceStub(channel),
        )


@dataclass
class Tenant:
    """An organization with a plain member user and one of that user's keys, as call targets."""

    organization_id: str
    member_user_id: str
    member_key_id: str


@dataclass
class World:
    """Two tenants (`own` is where org-scoped callers belong) and a key per caller kind."""

    running: Running
    stubs: Stubs
    own: Tenant
    other: Tenant
    keys: dict[str, str] = field(default_factory=dict)

    async def user(self, organization_id: str | None, *roles: tuple[str, str | None]) -> tuple[str, str]:
        """Create a user with roles and a key, as the platform admin; return (user id, key)."""
        bindings = [identity_pb2.RoleBinding(role=r, organization_id=o or "") for r, o in roles]
        created = await self.stubs.users.CreateUser(
            identity_pb2.CreateUserRequest(
                email=f"{uuid.uuid4().hex[:10]}@example.com",
                name="Test user",
                organization_id=organization_id or "",
                roles=bindings,
            ),
            metadata=self.running.admin,
        )
        issued = await self.stubs.keys.IssueApiKey(
            identity_pb2.IssueApiKeyRequest(user_id=created.user.user_id, name="test"), metadata=self.running.admin
        )
        return created.user.user_id, issued.key


async def build_world(running: Running) -> World:
    """Create both tenants and every caller kind."""
    stubs = Stubs.on(running.channel)
    world = World(running, stubs, Tenant("", "", ""), Tenant("", "", ""))
    for tenant in (world.own, world.other):
        created = await stubs.organizations.CreateOrganization(
            organizations_pb2.CreateOrganizationRequest(name="Tenant"), metadata=running.admin
        )
        tenant.organization_id = created.organization.organization_id
        tenant.member_user_id, key = await world.user(tenant.organization_id)
        tenant.member_key_id = key[4:20]
    own = world.own.organization_id
    world.keys["platform_admin"] = running.admin_token
    callers: dict[str, tuple[str | None, tuple[str, str | None]]] = {
        "org_admin": (own, ("org_admin", own)),
        "billing_viewer": (own, ("billing_viewer", own)),
        "usage_emitter": (own, ("usage_emitter", own)),
        "auditor": (own, ("auditor", own)),
        "platform_usage_emitter": (None, ("usage_emitter", None)),
        "platform_auditor": (None, ("auditor", None)),
        "no_roles": (own, ()),  # type: ignore[dict-item]
    }
    for name, (home, role) in callers.items():
        _, world.keys[name] = await world.user(home, *([role] if role else []))
    return world


Call = Callable[[Stubs, Tenant, tuple[tuple[str, str], ...]], Awaitable[Any]]


async def _drain(call: Any) -> list[Any]:
    return [message async for message in call]


def _unique_email() -> str:
    return f"{uuid.uuid4().hex[:10]}@example.com"


# One line per RPC: how to call it against a tenant. `org_targeted` RPCs touch that tenant's
# resources; the others are platform-wide. Every RPC of the server must appear here.
RPCS: dict[str, tuple[bool, Call]] = {
    "EventLogService/ReadEvents": (
        True,
        lambda s, t, md: _drain(
            s.events.ReadEvents(
                event_log_pb2.ReadEventsRequest(organization_id=t.organization_id, limit=1), metadata=md
            )
        ),
    ),
    "OrganizationService/CreateOrganization": (
        False,
        lambda s, t, md: s.organizations.CreateOrganization(
            organizations_pb2.CreateOrganizationRequest(name="New tenant"), metadata=md
        ),
    ),
    "OrganizationService/GetOrganization": (
        True,
        lambda s, t, md: s.organizations.GetOrganization(
            organizations_pb2.GetOrganizationRequest(organization_id=t.organization_id), metadata=md
        ),
    ),
    "UserService/CreateUser": (
        True,
        lambda s, t, md: s.users.CreateUser(
            identity_pb2.CreateUserRequest(email=_unique_email(), name="N", organization_id=t.organization_id),
            metadata=md,
        ),
    ),
    "UserService/GetUser": (
        True,
        lambda s, t, md: s.users.GetUser(identity_pb2.GetUserRequest(user_id=t.member_user_id), metadata=md),
    ),
    "UserService/DisableUser": (
        True,
        lambda s, t, md: s.users.DisableUser(identity_pb2.DisableUserRequest(user_id=t.member_user_id), metadata=md),
    ),
    "UserService/GrantRole": (
        True,
        lambda s, t, md: s.users.GrantRole(
            identity_pb2.GrantRoleRequest(
                user_id=t.member_user_id,
                role=identity_pb2.RoleBinding(role="billing_viewer", organization_id=t.organization_id),
            ),
            metadata=md,
        ),
    ),
    "UserService/RevokeRole": (
        True,
        lambda s, t, md: s.users.RevokeRole(
            identity_pb2.RevokeRoleRequest(
                user_id=t.member_user_id,
                role=identity_pb2.RoleBinding(role="billing_viewer", organization_id=t.organization_id),
            ),
            metadata=md,
        ),
    ),
    "ApiKeyService/IssueApiKey": (
        True,
        lambda s, t, md: s.keys.IssueApiKey(
            identity_pb2.IssueApiKeyRequest(user_id=t.member_user_id, name="k"), metadata=md
        ),
    ),
    "ApiKeyService/RevokeApiKey": (
        True,
        lambda s, t, md: s.keys.RevokeApiKey(identity_pb2.RevokeApiKeyRequest(key_id=t.member_key_id), metadata=md),
    ),
    "ApiKeyService/ListApiKeys": (
        True,
        lambda s, t, md: s.keys.ListApiKeys(identity_pb2.ListApiKeysRequest(user_id=t.member_user_id), metadata=md),
    ),
}

__all__ = ["RPCS", "Stubs", "Tenant", "World", "auth", "build_world"]
