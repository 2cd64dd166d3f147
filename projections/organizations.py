"""The organizations read model: one document per tenant, findable by id and external id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from billing_grpc.domain.events import decode_event
from billing_grpc.domain.organization import OrganizationCreated, OrganizationUpdated
from billing_grpc.eventstore import RecordedEvent
from projections.model import Index, View

ORGANIZATIONS = "organizations"


class OrganizationsProjection:
    """Organizations with their current details."""

    name = "organizations"
    handles = frozenset({OrganizationCreated.TYPE, OrganizationUpdated.TYPE})
    collections: Mapping[str, Sequence[Index]] = {ORGANIZATIONS: [Index((("external_id", 1),))]}

    async def apply(self, event: RecordedEvent, view: View) -> None:
        """Record a created organization, or apply changed details."""
        fact = decode_event(event.type, event.payload)
        if isinstance(fact, OrganizationCreated):
            view.put(ORGANIZATIONS, fact.organization_id, {**fact.model_dump(mode="python"), "updated_at": None})
            return
        assert isinstance(fact, OrganizationUpdated)
        current = await view.get(ORGANIZATIONS, fact.organization_id)
        if current is None:
            return
        changes = {
            k: v for k, v in fact.model_dump(mode="python", exclude={"organization_id"}).items() if v is not None
        }
        view.put(ORGANIZATIONS, fact.organization_id, {**current, **changes})
