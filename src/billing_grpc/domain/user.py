"""Users: who authenticates (through API keys) and the roles they hold."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from billing_grpc.domain.access import Grant, Role
from billing_grpc.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument
from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.validation import Violations


class UserStatus(StrEnum):
    """Whether a user may authenticate."""

    ACTIVE = "active"
    DISABLED = "disabled"


class UserCreated(DomainEvent):
    """A user exists; `organization_id` is its home tenant (None for platform staff)."""

    TYPE: ClassVar[str] = "user.created"

    user_id: str
    email: str
    name: str
    organization_id: str | None
    created_at: datetime


class UserDisabled(DomainEvent):
    """A user may no longer authenticate; its keys stop working."""

    TYPE: ClassVar[str] = "user.disabled"

    user_id: str
    disabled_at: datetime


class RoleGranted(DomainEvent):
    """A user gained a role, at platform scope (organization_id None) or for one organization."""

    TYPE: ClassVar[str] = "role.granted"

    user_id: str
    role: Role
    organization_id: str | None


class RoleRevoked(DomainEvent):
    """A user lost a role."""

    TYPE: ClassVar[str] = "role.revoked"

    user_id: str
    role: Role
    organization_id: str | None


@dataclass(frozen=True)
class User:
    """The state of one user, folded from its stream."""

    user_id: str
    email: str
    name: str
    organization_id: str | None
    status: UserStatus
    grants: frozenset[Grant]

    @classmethod
    def replay(cls, events: Iterable[DomainEvent]) -> User | None:
        """Fold the stream's events; None if the user was never created."""
        state: User | None = None
        for event in events:
            state = evolve(state, event)
        return state

    def grant(self, grant: Grant) -> list[DomainEvent]:
        """Decide granting a role: nothing to do if held; org users only get their own org's roles."""
        if self.organization_id is not None and grant.organization_id != self.organization_id:
            raise FailedPrecondition(
                "grant_outside_home_organization",
                "a user of an organization can only hold roles for that organization",
            )
        if grant in self.grants:
            return []
        return [RoleGranted(user_id=self.user_id, role=grant.role, organization_id=grant.organization_id)]

    def revoke(self, grant: Grant) -> list[DomainEvent]:
        """Decide revoking a role: nothing to do if not held."""
        if grant not in self.grants:
            return []
        return [RoleRevoked(user_id=self.user_id, role=grant.role, organization_id=grant.organization_id)]

    def disable(self, now: datetime) -> list[DomainEvent]:
        """Decide disabling the user (idempotent)."""
        if self.status is UserStatus.DISABLED:
            return []
        return [UserDisabled(user_id=self.user_id, disabled_at=now)]


def evolve(state: User | None, event: DomainEvent) -> User | None:
    """The user after one more event."""
    if isinstance(event, UserCreated):
        return User(event.user_id, event.email, event.name, event.organization_id, UserStatus.ACTIVE, frozenset())
    if state is None:
        return None
    if isinstance(event, UserDisabled):
        return replace(state, status=UserStatus.DISABLED)
    if isinstance(event, RoleGranted):
        return replace(state, grants=state.grants | {Grant(event.role, event.organization_id)})
    if isinstance(event, RoleRevoked):
        return replace(state, grants=state.grants - {Grant(event.role, event.organization_id)})
    return state


def stream_of(user_id: str) -> str:
    """The stream that holds a user's events."""
    return f"user-{user_id}"


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding spaces."""
    return email.strip().lower()


def create_user(user_id: str, email: str, name: str, organization_id: str | None, now: datetime) -> UserCreated:
    """Decide the creation of a user; refuses bad input."""
    violations = Violations()
    violations.email(email, "email")
    violations.text(name, "name")
    violations.raise_if_any()
    return UserCreated(
        user_id=user_id, email=normalise_email(email), name=name, organization_id=organization_id, created_at=now
    )


def parse_grant(role: str, organization_id: str | None, field_prefix: str = "") -> Grant:
    """A Grant from request values, or INVALID_ARGUMENT naming the offending field."""
    try:
        parsed = Role(role)
    except ValueError:
        raise InvalidArgument.of(
            FieldViolation(f"{field_prefix}role", f"unknown role {role!r}; one of {', '.join(Role)}")
        ) from None
    try:
        return Grant(parsed, organization_id)
    except ValueError as error:
        raise InvalidArgument.of(FieldViolation(f"{field_prefix}organization_id", str(error))) from None
