"""Organizations: the billed tenants, and which of their subscriptions charge which meters.

The organization's stream also records each live subscription's meters, so the rule "a meter is
charged by at most one live subscription of an organization" is decided on one stream with
optimistic concurrency, and two concurrent subscription starts cannot both break it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import ClassVar

from billing_grpc.domain.errors import FailedPrecondition
from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.money import is_currency
from billing_grpc.domain.validation import MAX_NAME, Violations

MAX_EXTERNAL_ID = 128


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


class OrganizationUpdated(DomainEvent):
    """Some of a tenant's details changed; fields left None did not."""

    TYPE: ClassVar[str] = "organization.updated"

    organization_id: str
    name: str | None = None
    billing_email: str | None = None
    payment_method: str | None = None
    updated_at: datetime


class SubscriptionAttached(DomainEvent):
    """A live subscription of the organization now charges these meters."""

    TYPE: ClassVar[str] = "organization.subscription_attached"

    organization_id: str
    subscription_id: str
    meter_codes: list[str]


class SubscriptionDetached(DomainEvent):
    """A subscription ended; its meters are free for another subscription."""

    TYPE: ClassVar[str] = "organization.subscription_detached"

    organization_id: str
    subscription_id: str


@dataclass(frozen=True)
class Organization:
    """The state of one organization, folded from its stream."""

    organization_id: str
    name: str
    currency: str
    payment_method: str
    meters_by_subscription: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def replay(cls, events: Iterable[DomainEvent]) -> Organization | None:
        """Fold the stream's events; None if the organization was never created."""
        state: Organization | None = None
        for event in events:
            state = evolve(state, event)
        return state

    def update(
        self, name: str | None, billing_email: str | None, payment_method: str | None, now: datetime
    ) -> list[DomainEvent]:
        """Decide a change of details; nothing if nothing was asked to change."""
        violations = Violations()
        if name is not None:
            violations.text(name, "name")
        if billing_email is not None:
            violations.email(billing_email, "billing_email", required=False)
        if payment_method is not None:
            violations.text(payment_method, "payment_method", required=False)
        violations.raise_if_any()
        if name is None and billing_email is None and payment_method is None:
            return []
        return [
            OrganizationUpdated(
                organization_id=self.organization_id,
                name=name,
                billing_email=billing_email,
                payment_method=payment_method,
                updated_at=now,
            )
        ]

    def attach(self, subscription_id: str, meter_codes: frozenset[str]) -> list[DomainEvent]:
        """Decide that a new subscription charges these meters; refused if another live one does."""
        taken = {code for codes in self.meters_by_subscription.values() for code in codes} & meter_codes
        if taken:
            raise FailedPrecondition(
                "meter_already_charged",
                f"meters {sorted(taken)} are already charged by another live subscription of this organization",
            )
        return [
            SubscriptionAttached(
                organization_id=self.organization_id, subscription_id=subscription_id, meter_codes=sorted(meter_codes)
            )
        ]

    def reattach(self, subscription_id: str, meter_codes: frozenset[str]) -> list[DomainEvent]:
        """Decide that a subscription changing plans now charges these meters instead of its old ones."""
        others = {k: v for k, v in self.meters_by_subscription.items() if k != subscription_id}
        return replace(self, meters_by_subscription=others).attach(subscription_id, meter_codes)

    def detach(self, subscription_id: str) -> list[DomainEvent]:
        """Decide freeing a subscription's meters (nothing if it holds none)."""
        if subscription_id not in self.meters_by_subscription:
            return []
        return [SubscriptionDetached(organization_id=self.organization_id, subscription_id=subscription_id)]


def evolve(state: Organization | None, event: DomainEvent) -> Organization | None:
    """The organization after one more event."""
    if isinstance(event, OrganizationCreated):
        return Organization(event.organization_id, event.name, event.currency, event.payment_method)
    if state is None:
        return None
    if isinstance(event, OrganizationUpdated):
        return replace(
            state,
            name=event.name if event.name is not None else state.name,
            payment_method=event.payment_method if event.payment_method is not None else state.payment_method,
        )
    if isinstance(event, SubscriptionAttached):
        attached = {**state.meters_by_subscription, event.subscription_id: frozenset(event.meter_codes)}
        return replace(state, meters_by_subscription=attached)
    if isinstance(event, SubscriptionDetached):
        remaining = {k: v for k, v in state.meters_by_subscription.items() if k != event.subscription_id}
        return replace(state, meters_by_subscription=remaining)
    return state


def stream_of(organization_id: str) -> str:
    """The stream that holds an organization's own events."""
    return f"organization-{organization_id}"


def create_organization(
    organization_id: str,
    name: str,
    now: datetime,
    *,
    currency: str,
    billing_email: str = "",
    external_id: str = "",
    payment_method: str = "",
) -> OrganizationCreated:
    """Decide the creation of an organization; refuses bad input, listing every bad field."""
    violations = Violations()
    violations.text(name, "name")
    violations.email(billing_email, "billing_email", required=False)
    violations.check(is_currency(currency), "currency", f"unknown ISO 4217 currency {currency!r}")
    violations.text(external_id, "external_id", required=False, max_length=MAX_EXTERNAL_ID)
    violations.text(payment_method, "payment_method", required=False, max_length=MAX_NAME)
    violations.raise_if_any()
    return OrganizationCreated(
        organization_id=organization_id,
        name=name,
        billing_email=billing_email,
        currency=currency,
        external_id=external_id,
        payment_method=payment_method,
        created_at=now,
    )
