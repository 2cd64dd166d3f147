"""Entitlements: features and plan values, the union of grants, the past-due policy, checks."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing_grpc.domain.entitlement_events import (
    EntitlementsChanged,
    EntitlementsGranted,
    EntitlementsRestored,
    EntitlementsRevoked,
    EntitlementsSuspended,
    PastDuePolicy,
)
from billing_grpc.domain.entitlements import Entitlement, Grant, Reason, check, follow, union
from billing_grpc.domain.errors import InvalidArgument
from billing_grpc.domain.events import DomainEvent, decode_event
from billing_grpc.domain.feature import (
    Feature,
    FeatureKind,
    FeatureRequest,
    FeatureValue,
    create_feature,
    plan_features,
)
from billing_grpc.domain.plan import Plan, PlanCreated, create_plan
from billing_grpc.domain.plan_change import SubscriptionPlanChanged
from billing_grpc.domain.proration import ProrationBehavior
from billing_grpc.domain.subscription import Subscription, evolve
from billing_grpc.domain.subscription_start import start_subscription

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SSO = Feature("sso", "SSO", FeatureKind.BOOLEAN, "")
SEATS = Feature("seats", "Seats", FeatureKind.LIMIT, "")
CALLS = Feature("api-calls", "API calls", FeatureKind.METERED, "calls")
DEFINITIONS = {f.code: f for f in (SSO, SEATS, CALLS)}


def boolean(enabled: bool) -> FeatureValue:
    return FeatureValue("sso", FeatureKind.BOOLEAN, enabled=enabled)


def seats(limit: int | None) -> FeatureValue:
    return FeatureValue("seats", FeatureKind.LIMIT, limit=limit)


def calls(cap: str | None) -> FeatureValue:
    return FeatureValue("api-calls", FeatureKind.METERED, cap=None if cap is None else Decimal(cap), meter_code="calls")


# -- features and plan values -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "meter_code", "paths"),
    [
        ("boolean", "", []),
        ("metered", "calls", []),
        ("metered", "", ["meter_code"]),
        ("limit", "calls", ["meter_code"]),
        ("quota", "", ["kind"]),
    ],
)
def test_create_feature_validates_kind_and_meter(kind: str, meter_code: str, paths: list[str]) -> None:
    if not paths:
        assert create_feature("f", "F", kind, meter_code, NOW).kind == kind
        return
    with pytest.raises(InvalidArgument) as refused:
        create_feature("f", "F", kind, meter_code, NOW)
    assert [v.field for v in refused.value.violations] == paths


@pytest.mark.parametrize(
    ("request_", "path"),
    [
        (FeatureRequest("sso", limit=3), "features[0].limit"),
        (FeatureRequest("seats"), "features[0].limit"),
        (FeatureRequest("seats", limit=-1), "features[0].limit"),
        (FeatureRequest("seats", limit=5, unlimited=True), "features[0].limit"),
        (FeatureRequest("seats", limit=5, cap="3"), "features[0].cap"),
        (FeatureRequest("api-calls", cap="-1"), "features[0].cap"),
        (FeatureRequest("api-calls", cap="lots"), "features[0].cap"),
        (FeatureRequest("api-calls", enabled=True), "features[0].enabled"),
        (FeatureRequest("nope"), "features[0].feature_code"),
    ],
)
def test_plan_feature_values_must_fit_the_kind(request_: FeatureRequest, path: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        plan_features([request_], DEFINITIONS, frozenset({"calls"}))
    assert path in [v.field for v in refused.value.violations]


def test_plan_features_refuse_duplicates_and_uncharged_meters() -> None:
    with pytest.raises(InvalidArgument) as refused:
        plan_features(
            [FeatureRequest("sso", enabled=True), FeatureRequest("sso"), FeatureRequest("api-calls")],
            DEFINITIONS,
            frozenset(),
        )
    assert [v.field for v in refused.value.violations] == ["features[1].feature_code", "features[2].feature_code"]


def test_plan_features_round_trip_through_the_stored_form() -> None:
    requested = [
        FeatureRequest("sso", enabled=True),
        FeatureRequest("seats", unlimited=True),
        FeatureRequest("api-calls", cap="1000.5"),
    ]
    values = plan_features(requested, DEFINITIONS, frozenset({"calls"}))
    assert values == [boolean(True), seats(None), calls("1000.5")]
    created = create_plan("p", "pro", "Pro", "USD", "month", 1, 100, 0, (), NOW, values)
    stored = decode_event(PlanCreated.TYPE, created.payload())
    plan = Plan.replay([stored])
    assert plan is not None and plan.features == tuple(values)


def test_a_plan_created_before_features_reads_with_none() -> None:
    old = create_plan("p", "pro", "Pro", "USD", "month", 1, 100, 0, (), NOW).payload()
    del old["features"]
    plan = Plan.replay([decode_event(PlanCreated.TYPE, old)])
    assert plan is not None and plan.features == ()


# -- union ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([boolean(False), boolean(True)], boolean(True)),
        ([boolean(False), boolean(False)], boolean(False)),
        ([seats(3), seats(10), seats(5)], seats(10)),
        ([seats(3), seats(None)], seats(None)),
        ([seats(0)], seats(0)),
        ([calls("100"), calls("1000")], calls("1000")),
        ([calls("100"), calls(None)], calls(None)),
        ([calls(None), calls("5")], calls(None)),
    ],
)
def test_union_takes_the_most_generous_value(values: list[FeatureValue], expected: FeatureValue) -> None:
    grants = [Grant(f"sub-{i}", False, (value,)) for i, value in enumerate(values)]
    merged, held_back = union(grants)
    assert merged[expected.code].value == expected
    assert held_back == frozenset()


def test_union_names_the_granting_subscription_and_ignores_suspended_grants() -> None:
    merged, held_back = union(
        [
            Grant("sub-a", False, (calls("10"), seats(2))),
            Grant("sub-b", True, (calls(None), seats(50), boolean(True))),
        ]
    )
    assert merged["api-calls"] == Entitlement(calls("10"), "sub-a")
    assert merged["seats"].value == seats(2)
    assert "sso" not in merged and held_back == frozenset({"sso"})


# -- check ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "requested", "used", "allowed", "reason", "remaining"),
    [
        (boolean(True), None, "0", True, Reason.ENTITLED, None),
        (boolean(False), None, "0", False, Reason.DISABLED, None),
        (seats(5), "5", "0", True, Reason.ENTITLED, "0"),
        (seats(5), "6", "0", False, Reason.LIMIT_EXCEEDED, "0"),
        (seats(5), None, "0", True, Reason.ENTITLED, "5"),
        (seats(0), None, "0", False, Reason.LIMIT_EXCEEDED, "0"),
        (seats(None), "1000000", "0", True, Reason.ENTITLED, None),
        (calls("100"), "30", "70", True, Reason.ENTITLED, "0"),
        (calls("100"), "31", "70", False, Reason.CAP_REACHED, "0"),
        (calls("100"), None, "40", True, Reason.ENTITLED, "60"),
        (calls("100"), None, "100", False, Reason.CAP_REACHED, "0"),
        (calls("100"), None, "130", False, Reason.CAP_REACHED, "0"),
        (calls(None), "1e6", "5", True, Reason.ENTITLED, None),
    ],
)
def test_check(
    value: FeatureValue, requested: str | None, used: str, allowed: bool, reason: Reason, remaining: str | None
) -> None:
    decision = check(
        Entitlement(value, "sub-1"), False, None if requested is None else Decimal(requested), Decimal(used)
    )
    assert (decision.allowed, decision.reason) == (allowed, reason)
    assert decision.remaining == (None if remaining is None else Decimal(remaining))


@pytest.mark.parametrize(("suspended", "reason"), [(False, Reason.NOT_ENTITLED), (True, Reason.SUSPENDED)])
def test_check_without_an_entitlement(suspended: bool, reason: Reason) -> None:
    decision = check(None, suspended, None)
    assert (decision.allowed, decision.reason) == (False, reason)


# -- follow: what each subscription fact does to access -----------------------------------------


def make_plan(plan_id: str, *values: FeatureValue, trial_days: int = 0) -> Plan:
    plan = Plan.replay([create_plan(plan_id, plan_id, "P", "USD", "month", 1, 100, trial_days, (), NOW, values)])
    assert plan is not None
    return plan


BASIC = make_plan("basic", seats(3))
PRO = make_plan("pro", seats(10), boolean(True))
PLANS = {p.plan_id: p for p in (BASIC, PRO)}


def started(plan: Plan = BASIC, trial_days: int | None = None) -> tuple[Subscription, list[DomainEvent]]:
    start = start_subscription("sub-1", "org-1", plan, "USD", NOW, None, NOW, trial_days)
    events = follow(None, [start], PLANS, PastDuePolicy.KEEP)
    sub = Subscription.replay(events)
    assert sub is not None
    return sub, events


@pytest.mark.parametrize(("trial_days", "reason"), [(None, "subscription_started"), (14, "trial_started")])
def test_a_start_grants_the_plans_features(trial_days: int | None, reason: str) -> None:
    _, events = started(trial_days=trial_days)
    granted = events[1]
    assert isinstance(granted, EntitlementsGranted)
    assert (granted.organization_id, granted.subscription_id, granted.plan_id) == ("org-1", "sub-1", "basic")
    assert granted.features == [seats(3).to_dict()] and granted.reason == reason


def test_a_plan_change_changes_to_the_new_plans_features() -> None:
    sub, _ = started()
    change = SubscriptionPlanChanged(
        subscription_id="sub-1",
        from_plan_id="basic",
        to_plan_id="pro",
        changed_at=NOW,
        behavior=ProrationBehavior.NONE,
        proration_lines=[],
    )
    events = follow(sub, [change], PLANS, PastDuePolicy.KEEP)
    assert events[0] is change
    assert isinstance(events[1], EntitlementsChanged)
    assert events[1].from_plan_id == "basic" and events[1].plan_id == "pro"
    assert events[1].features == [seats(10).to_dict(), boolean(True).to_dict()]


# Each row: the policy, then the subscription facts in turn, and the entitlements event types they cause.
@pytest.mark.parametrize(
    ("policy", "steps", "expected"),
    [
        (PastDuePolicy.KEEP, ["past_due", "reactivated"], []),
        (PastDuePolicy.SUSPEND, ["past_due", "reactivated"], [EntitlementsSuspended, EntitlementsRestored]),
        (PastDuePolicy.SUSPEND, ["past_due", "past_due", "reactivated"], [EntitlementsSuspended, EntitlementsRestored]),
        (PastDuePolicy.SUSPEND, ["past_due", "canceled"], [EntitlementsSuspended, EntitlementsRevoked]),
        (PastDuePolicy.SUSPEND, ["past_due", "unpaid"], [EntitlementsSuspended, EntitlementsRevoked]),
        (PastDuePolicy.KEEP, ["past_due", "unpaid", "canceled"], [EntitlementsRevoked]),
        (PastDuePolicy.KEEP, ["canceled"], [EntitlementsRevoked]),
    ],
)
def test_past_due_policy_and_the_end(policy: PastDuePolicy, steps: list[str], expected: list[type]) -> None:
    sub, _ = started()
    caused: list[DomainEvent] = []
    for step in steps:
        facts = {
            "past_due": sub.payment_failed("in-1", NOW),
            "reactivated": sub.invoice_paid("in-1", NOW),
            "unpaid": sub.dunning_exhausted("in-1", False, NOW),
            "canceled": sub.cancel(NOW, at_period_end=False),
        }[step]
        events = follow(sub, facts, PLANS, policy)
        caused += [e for e in events if e.TYPE.startswith("entitlements.")]
        sub = _apply(sub, events)
    assert [type(e) for e in caused] == expected
    for event in caused:
        assert event.model_dump()["features"] == [seats(3).to_dict()]


def _apply(sub: Subscription, events: list[DomainEvent]) -> Subscription:
    state: Subscription | None = sub
    for event in events:
        state = evolve(state, event)
    assert state is not None
    return state
