"""The entitlements read model: what each live subscription of an organization grants now.

One document per subscription that grants something (keyed by its id): the organization, the
plan, the plan's feature values (stored form) and whether the past-due policy suspended them.
A revoked subscription's document is deleted, so an organization's live grants are one indexed
query, however many subscriptions it ever had. Everything comes from the events themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from billing_grpc.domain.entitlement_events import (
    ENTITLEMENT_EVENT_TYPES,
    EntitlementsRestored,
    EntitlementsRevoked,
    EntitlementsSuspended,
)
from billing_grpc.eventstore import RecordedEvent
from projections.model import Index, View

ENTITLEMENTS = "entitlements"
ACTIVE = "active"
SUSPENDED = "suspended"


class EntitlementsProjection:
    """Keeps one document per granting subscription; deletes it when the grant is revoked."""

    name = "entitlements"
    handles = ENTITLEMENT_EVENT_TYPES
    collections: Mapping[str, Sequence[Index]] = {ENTITLEMENTS: [Index((("organization_id", 1),))]}

    async def apply(self, event: RecordedEvent, view: View) -> None:
        """Grant, change, suspend, restore or revoke one subscription's entitlements."""
        payload = event.payload
        key: str = payload["subscription_id"]
        if event.type == EntitlementsRevoked.TYPE:
            view.delete(ENTITLEMENTS, key)
            return
        current = await view.get(ENTITLEMENTS, key)
        status = current["status"] if current is not None else ACTIVE
        if event.type == EntitlementsSuspended.TYPE:
            status = SUSPENDED
        elif event.type == EntitlementsRestored.TYPE:
            status = ACTIVE
        view.put(
            ENTITLEMENTS,
            key,
            {
                "organization_id": payload["organization_id"],
                "subscription_id": key,
                "plan_id": payload["plan_id"],
                "features": payload["features"],
                "status": status,
                "reason": payload["reason"],
                "changed_at": payload["at"],
            },
        )
