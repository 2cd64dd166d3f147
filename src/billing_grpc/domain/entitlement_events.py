"""The facts of an organization's access changing, recorded on the subscription's stream.

Each is appended in the same atomic append as the subscription fact that causes it, so the log
says exactly when access changed and why. Every event carries the whole snapshot of the plan's
feature values (stored form, `FeatureValue.to_dict`): the read model needs nothing else.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from billing_grpc.domain.events import DomainEvent


class PastDuePolicy(StrEnum):
    """What a past-due subscription keeps: its entitlements (Stripe's default), or none until paid."""

    KEEP = "keep"
    SUSPEND = "suspend"


class _EntitlementsEvent(DomainEvent):
    """The fields every entitlements event carries."""

    organization_id: str
    subscription_id: str
    plan_id: str
    features: list[dict[str, Any]]
    reason: str
    at: datetime


class EntitlementsGranted(_EntitlementsEvent):
    """A subscription started (a trial included): its plan's features are granted."""

    TYPE: ClassVar[str] = "entitlements.granted"


class EntitlementsChanged(_EntitlementsEvent):
    """The subscription moved to another plan: `features` are the new plan's."""

    TYPE: ClassVar[str] = "entitlements.changed"

    from_plan_id: str


class EntitlementsSuspended(_EntitlementsEvent):
    """A payment failed and the past-due policy is `suspend`: nothing is granted until it is paid."""

    TYPE: ClassVar[str] = "entitlements.suspended"


class EntitlementsRestored(_EntitlementsEvent):
    """The invoice that suspended the entitlements was paid: they are granted again."""

    TYPE: ClassVar[str] = "entitlements.restored"


class EntitlementsRevoked(_EntitlementsEvent):
    """The subscription ended (canceled, or unpaid after dunning): nothing is granted by it any more."""

    TYPE: ClassVar[str] = "entitlements.revoked"


ENTITLEMENT_EVENT_TYPES = frozenset(
    cls.TYPE
    for cls in (
        EntitlementsGranted,
        EntitlementsChanged,
        EntitlementsSuspended,
        EntitlementsRestored,
        EntitlementsRevoked,
    )
)
