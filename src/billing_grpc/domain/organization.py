"""Organizations: the billed tenants."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.validation import Violations


class OrganizationCreated(DomainEvent):
    """A tenant was created."""

    TYPE: ClassVar[str] = "organization.created"

    organization_id: str
    name: str
    billing_email: str = ""
    currency: str = ""
    external_id: str = ""
    payment_method: str = ""
    created_at: datetime


@dataclass(frozen=True)
class Organization:
    """The state of one organization, folded from its stream."""

    organization_id: str
    name: str

    @classmethod
    def replay(cls, events: Iterable[DomainEvent]) -> Organization | None:
        """Fold the stream's events; None if the organization was never created."""
        state: Organization | None = None
        for event in events:
            if isinstance(event, OrganizationCreated):
                state = cls(event.organization_id, event.name)
        return state


def stream_of(organization_id: str) -> str:
    """The stream that holds an organization's own events."""
    return f"organization-{organization_id}"


def create_organization(organization_id: str, name: str, now: datetime) -> OrganizationCreated:
    """Decide the creation of an organization; refuses bad input."""
    violations = Violations()
    violations.text(name, "name")
    violations.raise_if_any()
    return OrganizationCreated(organization_id=organization_id, name=name, created_at=now)
