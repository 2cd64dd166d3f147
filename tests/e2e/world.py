"""A populated deployment for authorization tests: two organizations and a key per role.

`RPCS` holds one line per RPC, so one table drives every RPC, role and own/other organization.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from grpc import aio

from billing.v1 import (
    audit_pb2,
    billing_pb2,
    catalogue_pb2,
    entitlements_pb2,
    event_log_pb2,
    identity_pb2,
    organizations_pb2,
    subscriptions_pb2,
    usage_pb2,
)
from billing_grpc.client import BillingClient
from tests.e2e.conftest import Running, auth

# The tests call the server through the client library's stubs (every service, one channel).
Stubs = BillingClient


@dataclass
class Tenant:
    """An organization with a member user, one of its keys and a subscription, as call targets.

    The catalogue ids are shared by both tenants; they live here so every call has one target.
    """

    organization_id: str = ""
    member_user_id: str = ""
    member_key_id: str = ""
    subscription_id: str = ""
    plan_id: str = ""
    spare_plan_id: str = ""
    meter_code: str = ""
    feature_code: str = ""
    usage_time: datetime | None = None  # the server's (test) clock when the world was built
    invoice_id: str = ""  # the metered subscription's first invoice
    voidable_invoice_id: str = ""  # a flat-fee invoice no one can pay (no payment method): voidable
    # Two subscriptions to a free plan (their invoices are settled at once, so they never fall
    # past due): one whose billing anchor moves, one the matrix pauses and resumes.
    anchored_subscription_id: str = ""
    new_anchor: datetime | None = None  # five days after its current period's end
    pausable_subscription_id: str = ""
    operator: tuple[tuple[str, str], ...] = ()  # the platform admin's metadata, to undo a call's effect


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
        issued = await self.stubs.api_keys.IssueApiKey(
            identity_pb2.IssueApiKeyRequest(user_id=created.user.user_id, name="test"), metadata=self.running.admin
        )
        return created.user.user_id, issued.key


async def build_world(running: Running) -> World:
    """Create both tenants and every caller kind."""
    stubs = Stubs.on(running.channel)
    world = World(running, stubs, Tenant(), Tenant())
    meter = await stubs.catalogue.CreateMeter(
        catalogue_pb2.CreateMeterRequest(code="api_calls", name="API calls", aggregation="sum"), metadata=running.admin
    )
    feature = await stubs.catalogue.CreateFeature(
        catalogue_pb2.CreateFeatureRequest(code="sso", name="SSO", kind="boolean"), metadata=running.admin
    )
    plans = [
        await stubs.catalogue.CreatePlan(
            catalogue_pb2.CreatePlanRequest(
                code=code, name="Flat", currency="USD", interval_unit="month", base_fee_minor=1000
            ),
            metadata=running.admin,
        )
        for code in ("flat", "spare")
    ]
    free = await stubs.catalogue.CreatePlan(
        catalogue_pb2.CreatePlanRequest(code="free", name="Free", currency="USD", interval_unit="month"),
        metadata=running.admin,
    )
    free_plan = free.plan.plan_id
    charge = catalogue_pb2.Charge(meter_code="api_calls", per_unit=catalogue_pb2.PerUnit(unit_price="0.1"))
    metered = await stubs.catalogue.CreatePlan(
        catalogue_pb2.CreatePlanRequest(
            code="metered", name="Metered", currency="USD", interval_unit="month", charges=[charge]
        ),
        metadata=running.admin,
    )
    for tenant in (world.own, world.other):
        created = await stubs.organizations.CreateOrganization(
            organizations_pb2.CreateOrganizationRequest(name="Tenant", currency="USD"), metadata=running.admin
        )
        tenant.organization_id = created.organization.organization_id
        tenant.member_user_id, key = await world.user(tenant.organization_id)
        tenant.member_key_id = key[4:20]
        tenant.meter_code = meter.meter.code
        tenant.feature_code = feature.feature.code
        tenant.plan_id, tenant.spare_plan_id = plans[0].plan.plan_id, plans[1].plan.plan_id
        started = await stubs.subscriptions.StartSubscription(
            subscriptions_pb2.StartSubscriptionRequest(
                organization_id=tenant.organization_id, plan_id=metered.plan.plan_id
            ),
            metadata=running.admin,
        )
        tenant.subscription_id = started.subscription.subscription_id
        tenant.usage_time = running.clock.now()
        flat = await stubs.subscriptions.StartSubscription(
            subscriptions_pb2.StartSubscriptionRequest(organization_id=tenant.organization_id, plan_id=tenant.plan_id),
            metadata=running.admin,
        )
        tenant.invoice_id = await _first_invoice(stubs, tenant, tenant.subscription_id, running.admin)
        tenant.voidable_invoice_id = await _first_invoice(
            stubs, tenant, flat.subscription.subscription_id, running.admin
        )
        anchored, pausable = [
            await stubs.subscriptions.StartSubscription(
                subscriptions_pb2.StartSubscriptionRequest(organization_id=tenant.organization_id, plan_id=free_plan),
                metadata=running.admin,
            )
            for _ in range(2)
        ]
        tenant.anchored_subscription_id = anchored.subscription.subscription_id
        tenant.new_anchor = anchored.subscription.current_period_end.ToDatetime(tzinfo=UTC) + timedelta(days=5)
        tenant.pausable_subscription_id = pausable.subscription.subscription_id
        tenant.operator = running.admin
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


async def _first_invoice(stubs: Stubs, tenant: Tenant, subscription_id: str, md: tuple[tuple[str, str], ...]) -> str:
    listed = await stubs.invoices.ListInvoices(
        billing_pb2.ListInvoicesRequest(organization_id=tenant.organization_id, subscription_id=subscription_id),
        metadata=md,
    )
    return str(listed.invoices[0].invoice_id)


class Refused(Exception):
    """A call answered OK whose per-item results say what a status would say for one resource."""

    def __init__(self, code: grpc.StatusCode) -> None:
        super().__init__(code.name)
        self.code = code


def _usage_event(tenant: Tenant) -> usage_pb2.UsageEvent:
    event = usage_pb2.UsageEvent(
        organization_id=tenant.organization_id,
        meter_code=tenant.meter_code,
        quantity="1",
        idempotency_key=uuid.uuid4().hex,
    )
    assert tenant.usage_time is not None
    event.timestamp.FromDatetime(tenant.usage_time)
    return event


def _usage_verdict(results: Any) -> None:
    """Another tenant's usage is refused per event, exactly as an unknown organization is."""
    [result] = results
    if result.reason == "unknown_organization":
        raise Refused(grpc.StatusCode.NOT_FOUND)
    assert result.outcome == usage_pb2.UsageResult.OUTCOME_ACCEPTED, result


async def _record_usage(s: Stubs, t: Tenant, md: tuple[tuple[str, str], ...]) -> None:
    response = await s.usage.RecordUsage(usage_pb2.RecordUsageRequest(events=[_usage_event(t)]), metadata=md)
    _usage_verdict(response.results)


async def _stream_usage(s: Stubs, t: Tenant, md: tuple[tuple[str, str], ...]) -> None:
    async def one_batch() -> Any:
        yield usage_pb2.StreamUsageRequest(batch_id=1, events=[_usage_event(t)])

    acks = [ack async for ack in s.usage.StreamUsage(one_batch(), metadata=md)]
    _usage_verdict(acks[0].results)


async def _explain(s: Stubs, t: Tenant, md: tuple[tuple[str, str], ...]) -> Any:
    """ExplainInvoice; a draft has no calculation yet, which still proves access was granted."""
    try:
        return await s.audit.ExplainInvoice(audit_pb2.ExplainInvoiceRequest(invoice_id=t.invoice_id), metadata=md)
    except aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.FAILED_PRECONDITION:
            raise
        return None


async def _change_anchor(s: Stubs, t: Tenant, md: tuple[tuple[str, str], ...]) -> Any:
    request = subscriptions_pb2.ChangeBillingAnchorRequest(subscription_id=t.anchored_subscription_id)
    assert t.new_anchor is not None
    request.billing_anchor.FromDatetime(t.new_anchor)
    return await s.subscriptions.ChangeBillingAnchor(request, metadata=md)  # the same change again: a no-op


async def _pause(s: Stubs, t: Tenant, md: tuple[tuple[str, str], ...]) -> Any:
    """Pause as the caller, then resume as the operator, so the next caller finds it active again."""
    paused = await s.subscriptions.PauseSubscription(
        subscriptions_pb2.PauseSubscriptionRequest(subscription_id=t.pausable_subscription_id), metadata=md
    )
    await s.subscriptions.ResumeSubscription(
        subscriptions_pb2.ResumeSubscriptionRequest(subscription_id=t.pausable_subscription_id), metadata=t.operator
    )
    return paused


async def _resume(s: Stubs, t: Tenant, md: tuple[tuple[str, str], ...]) -> Any:
    """Pause as the operator (a no-op if a refused call left it paused), then resume as the caller."""
    await s.subscriptions.PauseSubscription(
        subscriptions_pb2.PauseSubscriptionRequest(subscription_id=t.pausable_subscription_id), metadata=t.operator
    )
    return await s.subscriptions.ResumeSubscription(
        subscriptions_pb2.ResumeSubscriptionRequest(subscription_id=t.pausable_subscription_id), metadata=md
    )


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
            organizations_pb2.CreateOrganizationRequest(name="New tenant", currency="EUR"), metadata=md
        ),
    ),
    "OrganizationService/ListOrganizations": (
        False,
        lambda s, t, md: s.organizations.ListOrganizations(organizations_pb2.ListOrganizationsRequest(), metadata=md),
    ),
    "OrganizationService/UpdateOrganization": (
        True,
        lambda s, t, md: s.organizations.UpdateOrganization(
            organizations_pb2.UpdateOrganizationRequest(organization_id=t.organization_id, billing_email="ap@x.io"),
            metadata=md,
        ),
    ),
    "CatalogueService/CreateMeter": (
        False,
        lambda s, t, md: s.catalogue.CreateMeter(
            catalogue_pb2.CreateMeterRequest(code=f"m{uuid.uuid4().hex[:8]}", name="M", aggregation="count"),
            metadata=md,
        ),
    ),
    "CatalogueService/GetMeter": (
        False,
        lambda s, t, md: s.catalogue.GetMeter(catalogue_pb2.GetMeterRequest(code=t.meter_code), metadata=md),
    ),
    "CatalogueService/ListMeters": (
        False,
        lambda s, t, md: s.catalogue.ListMeters(catalogue_pb2.ListMetersRequest(), metadata=md),
    ),
    "CatalogueService/CreateFeature": (
        False,
        lambda s, t, md: s.catalogue.CreateFeature(
            catalogue_pb2.CreateFeatureRequest(code=f"f{uuid.uuid4().hex[:8]}", name="F", kind="boolean"),
            metadata=md,
        ),
    ),
    "CatalogueService/GetFeature": (
        False,
        lambda s, t, md: s.catalogue.GetFeature(catalogue_pb2.GetFeatureRequest(code=t.feature_code), metadata=md),
    ),
    "CatalogueService/ListFeatures": (
        False,
        lambda s, t, md: s.catalogue.ListFeatures(catalogue_pb2.ListFeaturesRequest(), metadata=md),
    ),
    "EntitlementService/ListEntitlements": (
        True,
        lambda s, t, md: s.entitlements.ListEntitlements(
            entitlements_pb2.ListEntitlementsRequest(organization_id=t.organization_id), metadata=md
        ),
    ),
    "EntitlementService/CheckEntitlement": (
        True,
        lambda s, t, md: s.entitlements.CheckEntitlement(
            entitlements_pb2.CheckEntitlementRequest(organization_id=t.organization_id, feature_code=t.feature_code),
            metadata=md,
        ),
    ),
    "EntitlementService/CheckEntitlements": (
        True,
        lambda s, t, md: s.entitlements.CheckEntitlements(
            entitlements_pb2.CheckEntitlementsRequest(
                checks=[
                    entitlements_pb2.CheckEntitlementRequest(organization_id=t.organization_id, feature_code=code)
                    for code in (t.feature_code, t.feature_code)
                ]
            ),
            metadata=md,
        ),
    ),
    "CatalogueService/CreatePlan": (
        False,
        lambda s, t, md: s.catalogue.CreatePlan(
            catalogue_pb2.CreatePlanRequest(
                code=f"p{uuid.uuid4().hex[:8]}", name="P", currency="USD", interval_unit="year", base_fee_minor=1
            ),
            metadata=md,
        ),
    ),
    "CatalogueService/GetPlan": (
        False,
        lambda s, t, md: s.catalogue.GetPlan(catalogue_pb2.GetPlanRequest(plan_id=t.plan_id), metadata=md),
    ),
    "CatalogueService/ListPlans": (
        False,
        lambda s, t, md: s.catalogue.ListPlans(catalogue_pb2.ListPlansRequest(), metadata=md),
    ),
    "CatalogueService/ArchivePlan": (
        False,
        lambda s, t, md: s.catalogue.ArchivePlan(
            catalogue_pb2.ArchivePlanRequest(plan_id=t.spare_plan_id), metadata=md
        ),
    ),
    "SubscriptionService/StartSubscription": (
        True,
        lambda s, t, md: s.subscriptions.StartSubscription(
            subscriptions_pb2.StartSubscriptionRequest(organization_id=t.organization_id, plan_id=t.plan_id),
            metadata=md,
        ),
    ),
    "SubscriptionService/CancelSubscription": (
        True,
        lambda s, t, md: s.subscriptions.CancelSubscription(
            subscriptions_pb2.CancelSubscriptionRequest(subscription_id=t.subscription_id, at_period_end=True),
            metadata=md,
        ),
    ),
    "SubscriptionService/GetSubscription": (
        True,
        lambda s, t, md: s.subscriptions.GetSubscription(
            subscriptions_pb2.GetSubscriptionRequest(subscription_id=t.subscription_id), metadata=md
        ),
    ),
    "UsageService/RecordUsage": (True, _record_usage),
    "UsageService/StreamUsage": (True, _stream_usage),
    "UsageService/GetUsageSummary": (
        True,
        lambda s, t, md: s.usage.GetUsageSummary(
            usage_pb2.GetUsageSummaryRequest(subscription_id=t.subscription_id), metadata=md
        ),
    ),
    "UsageService/PreviewInvoice": (
        True,
        lambda s, t, md: s.usage.PreviewInvoice(
            usage_pb2.PreviewInvoiceRequest(subscription_id=t.subscription_id), metadata=md
        ),
    ),
    "SubscriptionService/ListSubscriptions": (
        True,
        lambda s, t, md: s.subscriptions.ListSubscriptions(
            subscriptions_pb2.ListSubscriptionsRequest(organization_id=t.organization_id), metadata=md
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
        lambda s, t, md: s.api_keys.IssueApiKey(
            identity_pb2.IssueApiKeyRequest(user_id=t.member_user_id, name="k"), metadata=md
        ),
    ),
    "ApiKeyService/RevokeApiKey": (
        True,
        lambda s, t, md: s.api_keys.RevokeApiKey(identity_pb2.RevokeApiKeyRequest(key_id=t.member_key_id), metadata=md),
    ),
    "ApiKeyService/ListApiKeys": (
        True,
        lambda s, t, md: s.api_keys.ListApiKeys(identity_pb2.ListApiKeysRequest(user_id=t.member_user_id), metadata=md),
    ),
    "BillingService/RunBillingCycle": (
        False,
        lambda s, t, md: s.billing.RunBillingCycle(billing_pb2.RunBillingCycleRequest(), metadata=md),
    ),
    "BillingService/AdvanceClock": (
        False,
        lambda s, t, md: s.billing.AdvanceClock(billing_pb2.AdvanceClockRequest(by_seconds=1), metadata=md),
    ),
    "BillingService/GetClock": (
        False,
        lambda s, t, md: s.billing.GetClock(billing_pb2.GetClockRequest(), metadata=md),
    ),
    "InvoiceService/GetInvoice": (
        True,
        lambda s, t, md: s.invoices.GetInvoice(billing_pb2.GetInvoiceRequest(invoice_id=t.invoice_id), metadata=md),
    ),
    "InvoiceService/ListInvoices": (
        True,
        lambda s, t, md: s.invoices.ListInvoices(
            billing_pb2.ListInvoicesRequest(organization_id=t.organization_id), metadata=md
        ),
    ),
    "InvoiceService/VoidInvoice": (
        True,
        lambda s, t, md: s.invoices.VoidInvoice(
            billing_pb2.VoidInvoiceRequest(invoice_id=t.voidable_invoice_id), metadata=md
        ),
    ),
    "InvoiceService/GetBalance": (
        True,
        lambda s, t, md: s.invoices.GetBalance(
            billing_pb2.GetBalanceRequest(organization_id=t.organization_id), metadata=md
        ),
    ),
    "InvoiceService/ListPayments": (
        True,
        lambda s, t, md: s.invoices.ListPayments(
            billing_pb2.ListPaymentsRequest(organization_id=t.organization_id), metadata=md
        ),
    ),
    "SubscriptionService/ChangePlan": (
        True,
        # At period end, so every allowed caller's call succeeds (scheduling the same plan again is a no-op).
        lambda s, t, md: s.subscriptions.ChangePlan(
            subscriptions_pb2.ChangePlanRequest(
                subscription_id=t.subscription_id, plan_id=t.plan_id, at_period_end=True
            ),
            metadata=md,
        ),
    ),
    "SubscriptionService/ChangeBillingAnchor": (True, _change_anchor),
    "SubscriptionService/PauseSubscription": (True, _pause),
    "SubscriptionService/ResumeSubscription": (True, _resume),
    "AuditService/VerifyProjections": (
        False,
        lambda s, t, md: s.audit.VerifyProjections(audit_pb2.VerifyProjectionsRequest(), metadata=md),
    ),
    "AuditService/ExplainInvoice": (True, _explain),
    "InvoiceService/GrantCredit": (
        True,
        lambda s, t, md: s.invoices.GrantCredit(
            billing_pb2.GrantCreditRequest(organization_id=t.organization_id, amount_minor=1, description="test"),
            metadata=md,
        ),
    ),
}

__all__ = ["RPCS", "Stubs", "Tenant", "World", "auth", "build_world"]
