"""Every RPC, a valid request with one thing wrong: the expected status, reason and field, and nothing written.

Each row starts from a request that would succeed against a populated deployment (two tenants, a
catalogue, subscriptions, invoices: `tests/e2e/world.py`) and breaks one thing, as a client bug or a
hostile caller would: a missing, empty or over-long field, a negative or overflowing number, NaN or
infinity in a decimal string, an unknown name where a fixed set is allowed, an unknown or
duplicated id, a timestamp outside 0001-9999, an oversized batch. The answer must be exactly the
row's status and stable reason, an INVALID_ARGUMENT must name the row's field, and the log's last
position must not move. The generated sweep over every field (`test_bad_input_sweep.py`) covers
the combinations this table does not list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
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
from billing_grpc.api.policy import POLICY
from tests.e2e.conftest import Running, start_running
from tests.e2e.world import Tenant, World, build_world
from tests.rpc_errors import details_of

pytestmark = pytest.mark.slow

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
FAILED = grpc.StatusCode.FAILED_PRECONDITION
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
LONG = "x" * 5_000
BEFORE_YEAR_1 = -62_135_596_801
AFTER_9999 = 253_402_300_800
MISSING_ORG = "org_0000000000000000000000"


def _new_anchor(t: Tenant, **fields: Any) -> subscriptions_pb2.ChangeBillingAnchorRequest:
    request = subscriptions_pb2.ChangeBillingAnchorRequest(**{"subscription_id": t.anchored_subscription_id, **fields})
    assert t.new_anchor is not None
    request.billing_anchor.FromDatetime(t.new_anchor)
    return request


@dataclass(frozen=True)
class Row:
    """One malformed request and the answer it must get."""

    rpc: str  # Service/Method
    case: str
    build: Callable[[Tenant], Message]
    code: grpc.StatusCode
    reason: str
    field: str | None = None  # the field an INVALID_ARGUMENT must name


def _time(seconds: int, nanos: int = 0) -> dict[str, int]:
    return {"seconds": seconds, "nanos": nanos}


def _event(t: Tenant, key: str = "k-1", **changes: Any) -> usage_pb2.UsageEvent:
    event = usage_pb2.UsageEvent(
        organization_id=t.organization_id, meter_code=t.meter_code, quantity="1", idempotency_key=key
    )
    assert t.usage_time is not None
    event.timestamp.FromDatetime(t.usage_time)
    for name, value in changes.items():
        if isinstance(value, dict):
            getattr(event, name).CopyFrom(type(getattr(event, name))(**value))
        else:
            setattr(event, name, value)
    return event


def _plan(**changes: Any) -> catalogue_pb2.CreatePlanRequest:
    request = catalogue_pb2.CreatePlanRequest(
        code="table", name="Table", currency="USD", interval_unit="month", base_fee_minor=1000
    )
    for name, value in changes.items():
        if name == "charges":
            request.charges.extend(value)
        else:
            setattr(request, name, value)
    return request


def _per_unit(price: str, meter: str = "api_calls", **extra: str) -> catalogue_pb2.Charge:
    return catalogue_pb2.Charge(meter_code=meter, per_unit=catalogue_pb2.PerUnit(unit_price=price), **extra)


def _percentage(free_units: str = "", **terms: Any) -> catalogue_pb2.Charge:
    percentage = catalogue_pb2.Percentage(rate_percent="2", **terms)
    return catalogue_pb2.Charge(meter_code="api_calls", free_units=free_units, percentage=percentage)


def _start(t: Tenant, **times: dict[str, int]) -> subscriptions_pb2.StartSubscriptionRequest:
    request = subscriptions_pb2.StartSubscriptionRequest(organization_id=t.organization_id, plan_id=t.spare_plan_id)
    for name, value in times.items():
        getattr(request, name).CopyFrom(type(getattr(request, name))(**value))
    return request


def _with_time(message: Message, field: str, value: dict[str, int]) -> Message:
    getattr(message, field).CopyFrom(type(getattr(message, field))(**value))
    return message


def _role(role: str, organization_id: str) -> identity_pb2.RoleBinding:
    return identity_pb2.RoleBinding(role=role, organization_id=organization_id)


# One row per case reads better than the formatter's layout.
# fmt: off
ROWS: list[Row] = [
    # --- organizations
    Row("OrganizationService/CreateOrganization", "missing name",
        lambda t: organizations_pb2.CreateOrganizationRequest(currency="USD"), INVALID, "invalid_argument", "name"),
    Row("OrganizationService/CreateOrganization", "over-long name",
        lambda t: organizations_pb2.CreateOrganizationRequest(name=LONG, currency="USD"),
        INVALID, "invalid_argument", "name"),
    Row("OrganizationService/CreateOrganization", "control characters in the name",
        lambda t: organizations_pb2.CreateOrganizationRequest(name="Acme\x00", currency="USD"),
        INVALID, "invalid_argument", "name"),
    Row("OrganizationService/CreateOrganization", "unknown currency",
        lambda t: organizations_pb2.CreateOrganizationRequest(name="Acme", currency="XXZ"),
        INVALID, "invalid_argument", "currency"),
    Row("OrganizationService/CreateOrganization", "withdrawn currency",
        lambda t: organizations_pb2.CreateOrganizationRequest(name="Acme", currency="DEM"),
        INVALID, "invalid_argument", "currency"),
    Row("OrganizationService/CreateOrganization", "currency without a minor unit",
        lambda t: organizations_pb2.CreateOrganizationRequest(name="Acme", currency="XAU"),
        INVALID, "invalid_argument", "currency"),
    Row("OrganizationService/CreateOrganization", "lower-case currency",
        lambda t: organizations_pb2.CreateOrganizationRequest(name="Acme", currency="kwd"),
        INVALID, "invalid_argument", "currency"),
    Row("OrganizationService/CreateOrganization", "over-long currency",
        lambda t: organizations_pb2.CreateOrganizationRequest(name="Acme", currency=LONG),
        INVALID, "invalid_argument", "currency"),
    Row("OrganizationService/CreateOrganization", "malformed email",
        lambda t: organizations_pb2.CreateOrganizationRequest(name="Acme", currency="USD", billing_email="nope"),
        INVALID, "invalid_argument", "billing_email"),
    Row("OrganizationService/CreateOrganization", "over-long external id",
        lambda t: organizations_pb2.CreateOrganizationRequest(name="Acme", currency="USD", external_id=LONG),
        INVALID, "invalid_argument", "external_id"),
    Row("OrganizationService/GetOrganization", "unknown id",
        lambda t: organizations_pb2.GetOrganizationRequest(organization_id=MISSING_ORG),
        NOT_FOUND, "organization_not_found"),
    Row("OrganizationService/GetOrganization", "neither id nor external id",
        lambda t: organizations_pb2.GetOrganizationRequest(), INVALID, "invalid_argument", "organization_id"),
    Row("OrganizationService/ListOrganizations", "negative page size",
        lambda t: organizations_pb2.ListOrganizationsRequest(page_size=-1), INVALID, "invalid_argument", "page_size"),
    Row("OrganizationService/ListOrganizations", "overflowing page size",
        lambda t: organizations_pb2.ListOrganizationsRequest(page_size=2**31 - 1),
        INVALID, "invalid_argument", "page_size"),
    Row("OrganizationService/ListOrganizations", "forged page token",
        lambda t: organizations_pb2.ListOrganizationsRequest(page_token="../../etc/passwd"),
        INVALID, "invalid_argument", "page_token"),
    Row("OrganizationService/UpdateOrganization", "unknown id",
        lambda t: organizations_pb2.UpdateOrganizationRequest(organization_id=MISSING_ORG, name="New"),
        NOT_FOUND, "organization_not_found"),
    Row("OrganizationService/UpdateOrganization", "blank name",
        lambda t: organizations_pb2.UpdateOrganizationRequest(organization_id=t.organization_id, name=" "),
        INVALID, "invalid_argument", "name"),
    # --- users and keys
    Row("UserService/CreateUser", "malformed email",
        lambda t: identity_pb2.CreateUserRequest(email="not-an-email", name="Ops"),
        INVALID, "invalid_argument", "email"),
    Row("UserService/CreateUser", "unknown role",
        lambda t: identity_pb2.CreateUserRequest(
            email="ops@example.com", name="Ops", organization_id=t.organization_id,
            roles=[_role("overlord", t.organization_id)]),
        INVALID, "invalid_argument", "roles[0].role"),
    Row("UserService/CreateUser", "role in an unknown organization",
        lambda t: identity_pb2.CreateUserRequest(
            email="ops@example.com", name="Ops", roles=[_role("org_admin", MISSING_ORG)]),
        NOT_FOUND, "organization_not_found"),
    Row("UserService/GetUser", "unknown id",
        lambda t: identity_pb2.GetUserRequest(user_id="usr_0000000000000000000000"), NOT_FOUND, "user_not_found"),
    # An empty id names nothing, like an unknown one.
    Row("UserService/DisableUser", "missing id",
        lambda t: identity_pb2.DisableUserRequest(), NOT_FOUND, "user_not_found"),
    Row("UserService/GrantRole", "missing role",
        lambda t: identity_pb2.GrantRoleRequest(user_id=t.member_user_id), INVALID, "invalid_argument", "role.role"),
    Row("UserService/RevokeRole", "unknown user",
        lambda t: identity_pb2.RevokeRoleRequest(
            user_id="usr_0000000000000000000000", role=_role("billing_viewer", t.organization_id)),
        NOT_FOUND, "user_not_found"),
    Row("ApiKeyService/IssueApiKey", "expiry after 9999",
        lambda t: _with_time(identity_pb2.IssueApiKeyRequest(user_id=t.member_user_id, name="k"), "expires_at",
                             _time(AFTER_9999)),
        INVALID, "invalid_argument", "expires_at"),
    Row("ApiKeyService/IssueApiKey", "over-long name",
        lambda t: identity_pb2.IssueApiKeyRequest(user_id=t.member_user_id, name=LONG),
        INVALID, "invalid_argument", "name"),
    Row("ApiKeyService/IssueApiKey", "unknown user",
        lambda t: identity_pb2.IssueApiKeyRequest(user_id="usr_0000000000000000000000", name="k"),
        NOT_FOUND, "user_not_found"),
    Row("ApiKeyService/RevokeApiKey", "unknown key",
        lambda t: identity_pb2.RevokeApiKeyRequest(key_id="0000000000000000"), NOT_FOUND, "api_key_not_found"),
    Row("ApiKeyService/ListApiKeys", "missing user",
        lambda t: identity_pb2.ListApiKeysRequest(), NOT_FOUND, "user_not_found"),
    # --- catalogue
    Row("CatalogueService/CreateMeter", "unknown aggregation",
        lambda t: catalogue_pb2.CreateMeterRequest(code="m1", name="M", aggregation="median"),
        INVALID, "invalid_argument", "aggregation"),
    Row("CatalogueService/CreateMeter", "code with spaces",
        lambda t: catalogue_pb2.CreateMeterRequest(code="api calls", name="M", aggregation="sum"),
        INVALID, "invalid_argument", "code"),
    Row("CatalogueService/CreateMeter", "unique_count without a property",
        lambda t: catalogue_pb2.CreateMeterRequest(code="users", name="Users", aggregation="unique_count"),
        INVALID, "invalid_argument", "property"),
    Row("CatalogueService/GetMeter", "unknown code",
        lambda t: catalogue_pb2.GetMeterRequest(code="nope"), NOT_FOUND, "meter_not_found"),
    Row("CatalogueService/CreateFeature", "unknown kind",
        lambda t: catalogue_pb2.CreateFeatureRequest(code="f1", name="F", kind="maybe"),
        INVALID, "invalid_argument", "kind"),
    Row("CatalogueService/CreateFeature", "metered feature on an unknown meter",
        lambda t: catalogue_pb2.CreateFeatureRequest(code="f2", name="F", kind="metered", meter_code="nope"),
        INVALID, "unknown_meter", "meter_code"),
    Row("CatalogueService/GetFeature", "unknown code",
        lambda t: catalogue_pb2.GetFeatureRequest(code="nope"), NOT_FOUND, "feature_not_found"),
    Row("CatalogueService/CreatePlan", "unknown currency",
        lambda t: _plan(currency="XYZ"), INVALID, "invalid_argument", "currency"),
    Row("CatalogueService/CreatePlan", "withdrawn currency",
        lambda t: _plan(currency="HRK"), INVALID, "invalid_argument", "currency"),
    Row("CatalogueService/CreatePlan", "negative base fee",
        lambda t: _plan(base_fee_minor=-1), INVALID, "invalid_argument", "base_fee_minor"),
    Row("CatalogueService/CreatePlan", "overflowing base fee",
        lambda t: _plan(base_fee_minor=2**63 - 1), INVALID, "invalid_argument", "base_fee_minor"),
    Row("CatalogueService/CreatePlan", "unknown interval",
        lambda t: _plan(interval_unit="fortnight"), INVALID, "invalid_argument", "interval_unit"),
    Row("CatalogueService/CreatePlan", "negative interval count",
        lambda t: _plan(interval_count=-1), INVALID, "invalid_argument", "interval_count"),
    Row("CatalogueService/CreatePlan", "negative trial",
        lambda t: _plan(trial_days=-1), INVALID, "invalid_argument", "trial_days"),
    Row("CatalogueService/CreatePlan", "NaN unit price",
        lambda t: _plan(charges=[_per_unit("NaN")]), INVALID, "invalid_pricing", "charges[0].per_unit.unit_price"),
    Row("CatalogueService/CreatePlan", "infinite unit price",
        lambda t: _plan(charges=[_per_unit("Infinity")]), INVALID, "invalid_pricing",
        "charges[0].per_unit.unit_price"),
    Row("CatalogueService/CreatePlan", "overflowing unit price",
        lambda t: _plan(charges=[_per_unit("1e999")]), INVALID, "invalid_pricing", "charges[0].per_unit.unit_price"),
    Row("CatalogueService/CreatePlan", "negative unit price",
        lambda t: _plan(charges=[_per_unit("-1")]), INVALID, "invalid_pricing", "charges[0].per_unit.unit_price"),
    Row("CatalogueService/CreatePlan", "negative free transactions",
        lambda t: _plan(charges=[_percentage(free_transactions=-1)]), INVALID, "invalid_pricing",
        "charges[0].percentage.free_transactions"),
    Row("CatalogueService/CreatePlan", "negative free amount",
        lambda t: _plan(charges=[_percentage(free_amount="-0.01")]), INVALID, "invalid_pricing",
        "charges[0].percentage.free_amount"),
    Row("CatalogueService/CreatePlan", "negative minimum per transaction",
        lambda t: _plan(charges=[_percentage(per_transaction_min="-1")]), INVALID, "invalid_pricing",
        "charges[0].percentage.per_transaction_min"),
    Row("CatalogueService/CreatePlan", "maximum per transaction below the minimum",
        lambda t: _plan(charges=[_percentage(per_transaction_min="50", per_transaction_max="40")]), INVALID,
        "invalid_pricing", "charges[0].percentage.per_transaction_max"),
    Row("CatalogueService/CreatePlan", "free units beside a per-transaction free amount",
        lambda t: _plan(charges=[_percentage(free_units="1", free_amount="100")]), INVALID, "invalid_pricing",
        "charges[0].free_units"),
    Row("CatalogueService/CreatePlan", "charge without a pricing model",
        lambda t: _plan(charges=[catalogue_pb2.Charge(meter_code="api_calls")]),
        INVALID, "invalid_pricing", "charges[0].model"),
    Row("CatalogueService/CreatePlan", "the same meter charged twice",
        lambda t: _plan(charges=[_per_unit("1"), _per_unit("2")]),
        INVALID, "invalid_argument", "charges[1].meter_code"),
    Row("CatalogueService/CreatePlan", "charge on an unknown meter",
        lambda t: _plan(charges=[_per_unit("1", meter="nope")]), INVALID, "unknown_meter", "charges[0].meter_code"),
    Row("CatalogueService/CreatePlan", "existing code",
        lambda t: _plan(code="flat"), grpc.StatusCode.ALREADY_EXISTS, "plan_code_taken"),
    Row("CatalogueService/GetPlan", "unknown id",
        lambda t: catalogue_pb2.GetPlanRequest(plan_id="plan_0000000000000000000000"), NOT_FOUND, "plan_not_found"),
    Row("CatalogueService/ListPlans", "negative page size",
        lambda t: catalogue_pb2.ListPlansRequest(page_size=-1), INVALID, "invalid_argument", "page_size"),
    Row("CatalogueService/ArchivePlan", "missing id",
        lambda t: catalogue_pb2.ArchivePlanRequest(), NOT_FOUND, "plan_not_found"),
    # --- subscriptions
    Row("SubscriptionService/StartSubscription", "unknown plan",
        lambda t: subscriptions_pb2.StartSubscriptionRequest(
            organization_id=t.organization_id, plan_id="plan_0000000000000000000000"),
        NOT_FOUND, "plan_not_found"),
    Row("SubscriptionService/StartSubscription", "unknown organization",
        lambda t: subscriptions_pb2.StartSubscriptionRequest(organization_id=MISSING_ORG, plan_id=t.spare_plan_id),
        NOT_FOUND, "organization_not_found"),
    Row("SubscriptionService/StartSubscription", "start before year 1",
        lambda t: _start(t, start_time=_time(BEFORE_YEAR_1)), INVALID, "invalid_argument", "start_time"),
    Row("SubscriptionService/StartSubscription", "anchor after 9999",
        lambda t: _start(t, billing_anchor=_time(AFTER_9999)), INVALID, "invalid_argument", "billing_anchor"),
    Row("SubscriptionService/StartSubscription", "negative nanos",
        lambda t: _start(t, start_time=_time(1_767_225_600, -1)), INVALID, "invalid_argument", "start_time"),
    Row("SubscriptionService/StartSubscription", "negative trial",
        lambda t: subscriptions_pb2.StartSubscriptionRequest(
            organization_id=t.organization_id, plan_id=t.spare_plan_id, trial_days=-1),
        INVALID, "invalid_argument", "trial_days"),
    Row("SubscriptionService/CancelSubscription", "unknown id",
        lambda t: subscriptions_pb2.CancelSubscriptionRequest(subscription_id="sub_0000000000000000000000"),
        NOT_FOUND, "subscription_not_found"),
    Row("SubscriptionService/GetSubscription", "missing id",
        lambda t: subscriptions_pb2.GetSubscriptionRequest(), NOT_FOUND, "subscription_not_found"),
    Row("SubscriptionService/ListSubscriptions", "unknown organization",
        lambda t: subscriptions_pb2.ListSubscriptionsRequest(organization_id=MISSING_ORG),
        NOT_FOUND, "organization_not_found"),
    Row("SubscriptionService/ChangePlan", "unknown proration behaviour",
        lambda t: subscriptions_pb2.ChangePlanRequest(
            subscription_id=t.subscription_id, plan_id=t.spare_plan_id, proration_behavior="sometimes"),
        INVALID, "invalid_argument", "proration_behavior"),
    Row("SubscriptionService/ChangePlan", "unknown billing alignment",
        lambda t: subscriptions_pb2.ChangePlanRequest(
            subscription_id=t.subscription_id, plan_id=t.spare_plan_id, billing_cycle_anchor="tomorrow"),
        INVALID, "invalid_billing_cycle_anchor", "billing_cycle_anchor"),
    Row("SubscriptionService/ChangePlan", "restarting the cycle at period end",
        lambda t: subscriptions_pb2.ChangePlanRequest(
            subscription_id=t.subscription_id, plan_id=t.spare_plan_id, at_period_end=True,
            billing_cycle_anchor="now"),
        INVALID, "invalid_billing_cycle_anchor", "billing_cycle_anchor"),
    Row("SubscriptionService/ChangePlan", "unknown plan",
        lambda t: subscriptions_pb2.ChangePlanRequest(
            subscription_id=t.subscription_id, plan_id="plan_0000000000000000000000"),
        NOT_FOUND, "plan_not_found"),
    Row("SubscriptionService/ChangeBillingAnchor", "missing anchor",
        lambda t: subscriptions_pb2.ChangeBillingAnchorRequest(subscription_id=t.anchored_subscription_id),
        INVALID, "invalid_billing_anchor", "billing_anchor"),
    Row("SubscriptionService/ChangeBillingAnchor", "anchor before the period's end",
        lambda t: subscriptions_pb2.ChangeBillingAnchorRequest(
            subscription_id=t.anchored_subscription_id, billing_anchor=_time(1_767_225_600)),
        INVALID, "invalid_billing_anchor", "billing_anchor"),
    Row("SubscriptionService/ChangeBillingAnchor", "anchor after 9999",
        lambda t: subscriptions_pb2.ChangeBillingAnchorRequest(
            subscription_id=t.anchored_subscription_id, billing_anchor=_time(AFTER_9999)),
        INVALID, "invalid_argument", "billing_anchor"),
    Row("SubscriptionService/ChangeBillingAnchor", "always_invoice for a stub",
        lambda t: _new_anchor(t, proration_behavior="always_invoice"), INVALID, "invalid_argument",
        "proration_behavior"),
    Row("SubscriptionService/ChangeBillingAnchor", "unknown id",
        lambda t: _new_anchor(t, subscription_id="sub_0000000000000000000000"), NOT_FOUND, "subscription_not_found"),
    Row("SubscriptionService/PauseSubscription", "unknown id",
        lambda t: subscriptions_pb2.PauseSubscriptionRequest(subscription_id="sub_0000000000000000000000"),
        NOT_FOUND, "subscription_not_found"),
    Row("SubscriptionService/ResumeSubscription", "unknown cycle anchor",
        lambda t: subscriptions_pb2.ResumeSubscriptionRequest(
            subscription_id=t.pausable_subscription_id, billing_cycle_anchor="tomorrow"),
        INVALID, "invalid_billing_cycle_anchor", "billing_cycle_anchor"),
    Row("SubscriptionService/ResumeSubscription", "unknown proration behaviour",
        lambda t: subscriptions_pb2.ResumeSubscriptionRequest(
            subscription_id=t.pausable_subscription_id, proration_behavior="sometimes"),
        INVALID, "invalid_argument", "proration_behavior"),
    Row("SubscriptionService/ResumeSubscription", "unknown id",
        lambda t: subscriptions_pb2.ResumeSubscriptionRequest(subscription_id="sub_0000000000000000000000"),
        NOT_FOUND, "subscription_not_found"),
    # --- usage
    Row("UsageService/RecordUsage", "empty batch",
        lambda t: usage_pb2.RecordUsageRequest(), INVALID, "invalid_argument", "events"),
    Row("UsageService/RecordUsage", "5,001 events",
        lambda t: usage_pb2.RecordUsageRequest(events=[_event(t, f"k-{i}") for i in range(5_001)]),
        EXHAUSTED, "batch_too_large"),
    Row("UsageService/RecordUsage", "an event before year 1",
        lambda t: usage_pb2.RecordUsageRequest(events=[_event(t), _event(t, "k-2", timestamp=_time(BEFORE_YEAR_1))]),
        INVALID, "invalid_argument", "events[1].timestamp"),
    Row("UsageService/RecordUsage", "an event after 9999",
        lambda t: usage_pb2.RecordUsageRequest(events=[_event(t, timestamp=_time(AFTER_9999))]),
        INVALID, "invalid_argument", "events[0].timestamp"),
    Row("UsageService/RecordUsage", "an event with negative nanos",
        lambda t: usage_pb2.RecordUsageRequest(events=[_event(t, timestamp=_time(1_767_225_600, -1))]),
        INVALID, "invalid_argument", "events[0].timestamp"),
    Row("UsageService/StreamUsage", "empty batch",
        lambda t: usage_pb2.StreamUsageRequest(batch_id=1), INVALID, "invalid_argument", "events"),
    Row("UsageService/StreamUsage", "an event after 9999",
        lambda t: usage_pb2.StreamUsageRequest(batch_id=1, events=[_event(t, timestamp=_time(AFTER_9999))]),
        INVALID, "invalid_argument", "events[0].timestamp"),
    Row("UsageService/GetUsageSummary", "unknown subscription",
        lambda t: usage_pb2.GetUsageSummaryRequest(subscription_id="sub_0000000000000000000000"),
        NOT_FOUND, "subscription_not_found"),
    Row("UsageService/GetUsageSummary", "a moment after 9999",
        lambda t: _with_time(usage_pb2.GetUsageSummaryRequest(subscription_id=t.subscription_id), "at",
                             _time(AFTER_9999)),
        INVALID, "invalid_argument", "at"),
    Row("UsageService/PreviewInvoice", "unknown plan to change to",
        lambda t: usage_pb2.PreviewInvoiceRequest(
            subscription_id=t.subscription_id, change_plan_id="plan_0000000000000000000000"),
        NOT_FOUND, "plan_not_found"),
    Row("UsageService/PreviewInvoice", "billing alignment without a change",
        lambda t: usage_pb2.PreviewInvoiceRequest(subscription_id=t.subscription_id, billing_cycle_anchor="now"),
        INVALID, "invalid_argument", "change_plan_id"),
    Row("UsageService/PreviewInvoice", "unknown billing alignment",
        lambda t: usage_pb2.PreviewInvoiceRequest(
            subscription_id=t.subscription_id, change_plan_id=t.spare_plan_id, billing_cycle_anchor="soon"),
        INVALID, "invalid_billing_cycle_anchor", "billing_cycle_anchor"),
    Row("UsageService/PreviewInvoice", "proration time before year 1",
        lambda t: _with_time(usage_pb2.PreviewInvoiceRequest(subscription_id=t.subscription_id,
                                                             change_plan_id=t.spare_plan_id),
                             "proration_time", _time(BEFORE_YEAR_1)),
        INVALID, "invalid_argument", "proration_time"),
    # --- billing and invoices
    Row("BillingService/AdvanceClock", "both a moment and seconds",
        lambda t: _with_time(billing_pb2.AdvanceClockRequest(by_seconds=60), "to", _time(1_800_000_000)),
        INVALID, "invalid_argument", "to"),
    Row("BillingService/AdvanceClock", "negative seconds",
        lambda t: billing_pb2.AdvanceClockRequest(by_seconds=-1), INVALID, "invalid_argument", "by_seconds"),
    Row("BillingService/AdvanceClock", "overflowing seconds",
        lambda t: billing_pb2.AdvanceClockRequest(by_seconds=2**63 - 1), INVALID, "invalid_argument", "by_seconds"),
    Row("BillingService/AdvanceClock", "a moment after 9999",
        lambda t: _with_time(billing_pb2.AdvanceClockRequest(), "to", _time(AFTER_9999)),
        INVALID, "invalid_argument", "to"),
    Row("InvoiceService/GetInvoice", "unknown id",
        lambda t: billing_pb2.GetInvoiceRequest(invoice_id="in_0000000000000000000000"),
        NOT_FOUND, "invoice_not_found"),
    Row("InvoiceService/ListInvoices", "unknown status",
        lambda t: billing_pb2.ListInvoicesRequest(organization_id=t.organization_id, status="lost"),
        INVALID, "invalid_argument", "status"),
    Row("InvoiceService/ListInvoices", "issued after 9999",
        lambda t: _with_time(billing_pb2.ListInvoicesRequest(organization_id=t.organization_id), "issued_from",
                             _time(AFTER_9999)),
        INVALID, "invalid_argument", "issued_from"),
    Row("InvoiceService/ListInvoices", "overflowing page size",
        lambda t: billing_pb2.ListInvoicesRequest(organization_id=t.organization_id, page_size=2**31 - 1),
        INVALID, "invalid_argument", "page_size"),
    Row("InvoiceService/VoidInvoice", "unknown id",
        lambda t: billing_pb2.VoidInvoiceRequest(invoice_id="in_0000000000000000000000"),
        NOT_FOUND, "invoice_not_found"),
    Row("InvoiceService/GetBalance", "unknown organization",
        lambda t: billing_pb2.GetBalanceRequest(organization_id=MISSING_ORG), NOT_FOUND, "organization_not_found"),
    Row("InvoiceService/ListInvoices", "unknown organization",
        lambda t: billing_pb2.ListInvoicesRequest(organization_id=MISSING_ORG), NOT_FOUND, "organization_not_found"),
    Row("InvoiceService/ListPayments", "unknown organization",
        lambda t: billing_pb2.ListPaymentsRequest(organization_id=MISSING_ORG), NOT_FOUND, "organization_not_found"),
    Row("InvoiceService/ListPayments", "negative page size",
        lambda t: billing_pb2.ListPaymentsRequest(organization_id=t.organization_id, page_size=-1),
        INVALID, "invalid_argument", "page_size"),
    Row("InvoiceService/GrantCredit", "negative amount",
        lambda t: billing_pb2.GrantCreditRequest(organization_id=t.organization_id, amount_minor=-100,
                                                 description="goodwill"),
        INVALID, "invalid_argument", "amount_minor"),
    Row("InvoiceService/GrantCredit", "overflowing amount",
        lambda t: billing_pb2.GrantCreditRequest(organization_id=t.organization_id, amount_minor=2**63 - 1,
                                                 description="goodwill"),
        INVALID, "invalid_argument", "amount_minor"),
    Row("InvoiceService/GrantCredit", "over-long description",
        lambda t: billing_pb2.GrantCreditRequest(organization_id=t.organization_id, amount_minor=100,
                                                 description=LONG),
        INVALID, "invalid_argument", "description"),
    # --- entitlements
    Row("EntitlementService/ListEntitlements", "unknown organization",
        lambda t: entitlements_pb2.ListEntitlementsRequest(organization_id=MISSING_ORG),
        NOT_FOUND, "organization_not_found"),
    Row("EntitlementService/CheckEntitlement", "NaN requested",
        lambda t: entitlements_pb2.CheckEntitlementRequest(
            organization_id=t.organization_id, feature_code=t.feature_code, requested="NaN"),
        INVALID, "invalid_decimal", "requested"),
    Row("EntitlementService/CheckEntitlement", "negative requested",
        lambda t: entitlements_pb2.CheckEntitlementRequest(
            organization_id=t.organization_id, feature_code=t.feature_code, requested="-1"),
        INVALID, "invalid_argument", "requested"),
    Row("EntitlementService/CheckEntitlements", "more than 1,000 checks",
        lambda t: entitlements_pb2.CheckEntitlementsRequest(checks=[
            entitlements_pb2.CheckEntitlementRequest(organization_id=t.organization_id, feature_code=t.feature_code)
        ] * 1_001),
        EXHAUSTED, "too_many_checks"),
    Row("EntitlementService/CheckEntitlements", "an infinite request inside the batch",
        lambda t: entitlements_pb2.CheckEntitlementsRequest(checks=[
            entitlements_pb2.CheckEntitlementRequest(
                organization_id=t.organization_id, feature_code=t.feature_code, requested="Infinity")
        ]),
        INVALID, "invalid_decimal", "checks[0].requested"),
    # --- auditors
    Row("EventLogService/ReadEvents", "negative position",
        lambda t: event_log_pb2.ReadEventsRequest(after_position=-1), INVALID, "invalid_argument", "after_position"),
    Row("EventLogService/ReadEvents", "negative limit",
        lambda t: event_log_pb2.ReadEventsRequest(limit=-1), INVALID, "invalid_argument", "limit"),
    Row("EventLogService/ReadEvents", "a window after 9999",
        lambda t: _with_time(event_log_pb2.ReadEventsRequest(), "occurred_from", _time(AFTER_9999)),
        INVALID, "invalid_argument", "occurred_from"),
    Row("EventLogService/ReadEvents", "an empty event type",
        lambda t: event_log_pb2.ReadEventsRequest(event_types=[""]), INVALID, "invalid_argument", "event_types[0]"),
    Row("AuditService/ExplainInvoice", "unknown invoice",
        lambda t: audit_pb2.ExplainInvoiceRequest(invoice_id="in_0000000000000000000000"),
        NOT_FOUND, "invoice_not_found"),
]
# fmt: on


@pytest.fixture
async def world(mongo_uri: str, database_name: str) -> AsyncIterator[World]:
    """A populated deployment on a test clock, so AdvanceClock is served."""
    async for running in start_running(mongo_uri, database_name, test_clock="2026-01-15T09:00:00+00:00"):
        yield await build_world(running)


async def _answer(running: Running, rpc: str, request: Message) -> aio.AioRpcError | None:
    service, method = rpc.split("/")
    path = f"/billing.v1.{service}/{method}"
    assert path in POLICY, path
    serialize = type(request).SerializeToString
    try:
        if method == "StreamUsage":
            call = running.channel.stream_stream(path, serialize, usage_pb2.StreamUsageResponse.FromString)
            [_ async for _ in call(iter([request]), metadata=running.admin, timeout=10)]
        elif method == "ReadEvents":
            call = running.channel.unary_stream(path, serialize, event_log_pb2.ReadEventsResponse.FromString)
            [_ async for _ in call(request, metadata=running.admin, timeout=10)]
        else:
            await running.channel.unary_unary(path, serialize, lambda raw: raw)(
                request, metadata=running.admin, timeout=10
            )
    except aio.AioRpcError as error:
        return error
    return None


async def test_each_malformed_request_gets_its_status_reason_and_field_and_writes_nothing(world: World) -> None:
    wrong: list[str] = []
    for row in ROWS:
        head = await world.running.app.store.head_position()
        error = await _answer(world.running, row.rpc, row.build(world.own))
        label = f"{row.rpc} ({row.case})"
        if error is None:
            wrong.append(f"{label}: succeeded")
            continue
        details = details_of(error)
        got = (error.code(), details.reason)
        if got != (row.code, row.reason):
            wrong.append(f"{label}: {got[0].name} {got[1]!r}, expected {row.code.name} {row.reason!r}")
        elif row.field is not None and row.field not in details.fields:
            wrong.append(f"{label}: violations {sorted(details.fields)}, expected {row.field!r}")
        if await world.running.app.store.head_position() != head:
            wrong.append(f"{label}: refused but wrote to the log")
    assert not wrong, "\n".join(wrong)


# RPCs whose request has no fields: nothing to get wrong.
WITHOUT_INPUT = {"VerifyProjections", "RunBillingCycle", "GetClock", "ListMeters", "ListFeatures"}


def test_the_table_covers_every_rpc_that_takes_input() -> None:
    takes_input = {
        path.removeprefix("/billing.v1.")
        for path in POLICY
        if path.startswith("/billing.v1.")
        and path.rsplit("/", 1)[1] not in WITHOUT_INPUT
    }
    assert takes_input - {row.rpc for row in ROWS} == set()
