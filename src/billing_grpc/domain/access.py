"""Who may do what: roles, their scopes, and the actions each role allows.

A role is granted at platform scope (organization None) or for one organization. Access to a
resource of organization X needs a grant for the action at platform scope or for X. The API
answers PERMISSION_DENIED when no grant allows the action anywhere, and NOT_FOUND when grants
allow it only for other organizations, so callers cannot learn what other tenants have.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """The roles of the product."""

    PLATFORM_ADMIN = "platform_admin"
    ORG_ADMIN = "org_admin"
    BILLING_VIEWER = "billing_viewer"
    USAGE_EMITTER = "usage_emitter"
    AUDITOR = "auditor"


class Action(StrEnum):
    """Everything an RPC can ask to do; each RPC names exactly one."""

    ORGANIZATIONS_CREATE = "organizations.create"
    ORGANIZATIONS_READ = "organizations.read"
    ORGANIZATIONS_UPDATE = "organizations.update"
    USERS_MANAGE = "users.manage"
    KEYS_MANAGE = "keys.manage"
    CATALOGUE_MANAGE = "catalogue.manage"
    CATALOGUE_READ = "catalogue.read"
    SUBSCRIPTIONS_MANAGE = "subscriptions.manage"
    BILLING_READ = "billing.read"
    BILLING_OPERATE = "billing.operate"
    USAGE_RECORD = "usage.record"
    EVENTS_READ = "events.read"
    # Products ask on hot paths whether an organization may use a feature: their service
    # accounts (usage emitters) need it as much as the organization's own admins and viewers.
    ENTITLEMENTS_CHECK = "entitlements.check"
    # An invoice's calculation and the facts behind it: its organization's readers and auditors.
    INVOICES_EXPLAIN = "invoices.explain"
    # The server's business time (GetClock): harmless, and every caller's code may want it.
    CLOCK_READ = "clock.read"
    # Rebuild every read model and check the log's hash chain: platform-wide, platform admins.
    LOG_VERIFY = "log.verify"


_ALLOWS: dict[Role, frozenset[Action]] = {
    Role.PLATFORM_ADMIN: frozenset(Action),
    Role.ORG_ADMIN: frozenset(
        {
            Action.ORGANIZATIONS_READ,
            Action.ORGANIZATIONS_UPDATE,
            Action.USERS_MANAGE,
            Action.KEYS_MANAGE,
            Action.CATALOGUE_READ,
            Action.SUBSCRIPTIONS_MANAGE,
            Action.BILLING_READ,
            Action.ENTITLEMENTS_CHECK,
            Action.INVOICES_EXPLAIN,
            Action.CLOCK_READ,
        }
    ),
    Role.BILLING_VIEWER: frozenset(
        {
            Action.ORGANIZATIONS_READ,
            Action.CATALOGUE_READ,
            Action.BILLING_READ,
            Action.ENTITLEMENTS_CHECK,
            Action.INVOICES_EXPLAIN,
            Action.CLOCK_READ,
        }
    ),
    Role.USAGE_EMITTER: frozenset(
        {Action.USAGE_RECORD, Action.CATALOGUE_READ, Action.ENTITLEMENTS_CHECK, Action.CLOCK_READ}
    ),
    Role.AUDITOR: frozenset(
        {
            Action.EVENTS_READ,
            Action.ORGANIZATIONS_READ,
            Action.CATALOGUE_READ,
            Action.INVOICES_EXPLAIN,
            Action.CLOCK_READ,
        }
    ),
}

# Roles that make sense across every tenant; the others are always tied to one organization.
PLATFORM_SCOPED_ROLES = frozenset({Role.PLATFORM_ADMIN, Role.USAGE_EMITTER, Role.AUDITOR})
ORGANIZATION_SCOPED_ROLES = frozenset(Role) - {Role.PLATFORM_ADMIN}


def role_allows(role: Role, action: Action) -> bool:
    """True if the role allows the action (at whatever scope it is granted)."""
    return action in _ALLOWS[role]


@dataclass(frozen=True, order=True)
class Grant:
    """A role at platform scope (organization_id None) or for one organization."""

    role: Role
    organization_id: str | None = None

    def __post_init__(self) -> None:
        if self.organization_id is None and self.role not in PLATFORM_SCOPED_ROLES:
            raise ValueError(f"{self.role} is always granted for one organization")
        if self.organization_id is not None and self.role not in ORGANIZATION_SCOPED_ROLES:
            raise ValueError(f"{self.role} is only granted at platform scope")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user (through one of its API keys) and its grants."""

    user_id: str
    grants: frozenset[Grant]
    key_id: str = ""

    @property
    def actor(self) -> str:
        """How events record this caller."""
        return f"user:{self.user_id}"

    def may_somewhere(self, action: Action) -> bool:
        """True if some grant allows the action, for some organization or the platform."""
        return any(role_allows(g.role, action) for g in self.grants)

    def may(self, action: Action, organization_id: str | None) -> bool:
        """True if the action is allowed on a resource of `organization_id` (None: platform-wide)."""
        return any(
            role_allows(g.role, action) and (g.organization_id is None or g.organization_id == organization_id)
            for g in self.grants
        )

    def organizations_for(self, action: Action) -> frozenset[str] | None:
        """The organizations where the action is allowed; None means all of them (platform scope)."""
        allowed = [g for g in self.grants if role_allows(g.role, action)]
        if any(g.organization_id is None for g in allowed):
            return None
        return frozenset(g.organization_id for g in allowed if g.organization_id is not None)


SYSTEM = Principal(user_id="system", grants=frozenset({Grant(Role.PLATFORM_ADMIN)}))
"""The scheduler and the bootstrap act as this principal."""
