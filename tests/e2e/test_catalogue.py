"""Organizations, meters, plans and subscriptions through the real server on the MongoDB-wire store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import timestamp_pb2
from grpc import aio

from billing.v1 import catalogue_pb2, organizations_pb2, subscriptions_pb2
from tests.e2e.conftest import Running
from tests.e2e.world import Stubs
from tests.rpc_errors import details_of


def ts(moment: datetime) -> timestamp_pb2.Timestamp:
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(moment)
    return message


def when(message: timestamp_pb2.Timestamp) -> datetime:
    return message.ToDatetime(tzinfo=UTC)


@pytest.fixture
def stubs(running: Running) -> Stubs:
    return Stubs.on(running.channel)


async def refused(running: Running, call: object, code: grpc.StatusCode) -> tuple[str, set[str]]:
    """Await a call that must fail with `code`, write nothing, and return (reason, fields)."""
    head = await running.app.store.head_position()
    with pytest.raises(aio.AioRpcError) as raised:
        await call  # type: ignore[misc]
    assert raised.value.code() == code, raised.value.details()
    assert await running.app.store.head_position() == head, "a refused request wrote to the log"
    details = details_of(raised.value)
    return details.reason, set(details.fields)


async def create_org(stubs: Stubs, running: Running, **fields: object) -> organizations_pb2.Organization:
    fields.setdefault("name", "Acme")
    fields.setdefault("currency", "USD")
    request = organizations_pb2.CreateOrganizationRequest(**fields)  # type: ignore[arg-type]
    return (await stubs.organizations.CreateOrganization(request, metadata=running.admin)).organization


async def create_meter(stubs: Stubs, running: Running, code: str, aggregation: str = "sum", prop: str = "") -> None:
    request = catalogue_pb2.CreateMeterRequest(code=code, name=code.title(), aggregation=aggregation, property=prop)
    await stubs.catalogue.CreateMeter(request, metadata=running.admin)


async def create_plan(stubs: Stubs, running: Running, code: str, **fields: object) -> catalogue_pb2.Plan:
    fields.setdefault("name", code.title())
    fields.setdefault("currency", "USD")
    fields.setdefault("interval_unit", "month")
    fields.setdefault("base_fee_minor", 2900)
    request = catalogue_pb2.CreatePlanRequest(code=code, **fields)  # type: ignore[arg-type]
    return (await stubs.catalogue.CreatePlan(request, metadata=running.admin)).plan


async def start(
    stubs: Stubs, running: Running, organization_id: str, plan_id: str, **fields: object
) -> subscriptions_pb2.Subscription:
    request = subscriptions_pb2.StartSubscriptionRequest(organization_id=organization_id, plan_id=plan_id, **fields)  # type: ignore[arg-type]
    return (await stubs.subscriptions.StartSubscription(request, metadata=running.admin)).subscription


# -- organizations ------------------------------------------------------------------------


async def test_an_organization_keeps_every_field_and_is_found_by_external_id(running: Running, stubs: Stubs) -> None:
    created = await create_org(
        stubs,
        running,
        name="Acme GmbH",
        currency="EUR",
        billing_email="ap@acme.de",
        external_id="crm-42",
        payment_method="pm_ok",
    )
    assert (created.name, created.currency, created.billing_email, created.external_id, created.payment_method) == (
        "Acme GmbH",
        "EUR",
        "ap@acme.de",
        "crm-42",
        "pm_ok",
    )
    by_external = await stubs.organizations.GetOrganization(
        organizations_pb2.GetOrganizationRequest(external_id="crm-42"), metadata=running.admin
    )
    assert by_external.organization == created

    reason, _ = await refused(
        running,
        stubs.organizations.CreateOrganization(
            organizations_pb2.CreateOrganizationRequest(name="Copy", currency="EUR", external_id="crm-42"),
            metadata=running.admin,
        ),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    assert reason == "external_id_taken"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": "", "currency": ""}, {"name", "currency"}),
        ({"name": "A", "currency": "usd"}, {"currency"}),
        ({"name": "A", "currency": "XXX"}, {"currency"}),
        ({"name": "A", "currency": "USD", "billing_email": "nope"}, {"billing_email"}),
        ({"name": "A", "currency": "USD", "external_id": "x" * 129}, {"external_id"}),
    ],
)
async def test_bad_organizations_are_refused_with_every_field(
    running: Running, stubs: Stubs, fields: dict[str, str], expected: set[str]
) -> None:
    call = stubs.organizations.CreateOrganization(
        organizations_pb2.CreateOrganizationRequest(**fields), metadata=running.admin
    )
    _, found = await refused(running, call, grpc.StatusCode.INVALID_ARGUMENT)
    assert found == expected


async def test_organizations_list_in_pages_and_update_only_what_is_set(running: Running, stubs: Stubs) -> None:
    names = {(await create_org(stubs, running, name=f"Org {i}")).organization_id: f"Org {i}" for i in range(5)}
    ids = sorted(names)
    seen: list[str] = []
    token = ""
    while True:
        listed = await stubs.organizations.ListOrganizations(
            organizations_pb2.ListOrganizationsRequest(page_size=2, page_token=token), metadata=running.admin
        )
        assert len(listed.organizations) <= 2
        seen += [o.organization_id for o in listed.organizations]
        if not (token := listed.next_page_token):
            break
    assert seen == ids

    running.clock.advance(timedelta(minutes=1))
    updated = await stubs.organizations.UpdateOrganization(
        organizations_pb2.UpdateOrganizationRequest(organization_id=ids[0], billing_email="new@acme.io"),
        metadata=running.admin,
    )
    assert (updated.organization.name, updated.organization.billing_email) == (names[ids[0]], "new@acme.io")
    assert when(updated.organization.updated_at) == running.clock.now()
    _, fields = await refused(
        running,
        stubs.organizations.ListOrganizations(
            organizations_pb2.ListOrganizationsRequest(page_size=500), metadata=running.admin
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert fields == {"page_size"}


# -- meters and plans ---------------------------------------------------------------------


async def test_meters_are_unique_by_code_and_validated(running: Running, stubs: Stubs) -> None:
    for code, aggregation, prop in [("calls", "sum", ""), ("seats", "max", ""), ("users", "unique_count", "user_id")]:
        await create_meter(stubs, running, code, aggregation, prop)
    listed = await stubs.catalogue.ListMeters(catalogue_pb2.ListMetersRequest(), metadata=running.admin)
    assert [(m.code, m.aggregation, m.property) for m in listed.meters] == [
        ("calls", "sum", ""),
        ("seats", "max", ""),
        ("users", "unique_count", "user_id"),
    ]
    reason, _ = await refused(
        running,
        stubs.catalogue.CreateMeter(
            catalogue_pb2.CreateMeterRequest(code="calls", name="Again", aggregation="count"), metadata=running.admin
        ),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    assert reason == "meter_code_taken"
    _, fields = await refused(
        running,
        stubs.catalogue.CreateMeter(
            catalogue_pb2.CreateMeterRequest(code="Bad Code", name="", aggregation="median"), metadata=running.admin
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert fields == {"code", "name", "aggregation"}


async def test_a_plan_with_every_pricing_model_reads_back_exactly(running: Running, stubs: Stubs) -> None:
    for code in ("calls", "storage", "seats", "sms", "payments"):
        await create_meter(stubs, running, code)
    tiers = [
        catalogue_pb2.Tier(up_to="1000", unit_price="0.5"),
        catalogue_pb2.Tier(up_to="10000", unit_price="0.25", flat_fee="100"),
        catalogue_pb2.Tier(unit_price="0.1"),
    ]
    charges = [
        catalogue_pb2.Charge(meter_code="calls", graduated=catalogue_pb2.Tiers(tiers=tiers), free_units="100"),
        catalogue_pb2.Charge(meter_code="storage", volume=catalogue_pb2.Tiers(tiers=tiers)),
        catalogue_pb2.Charge(meter_code="seats", per_unit=catalogue_pb2.PerUnit(unit_price="1200"), minimum="5000"),
        catalogue_pb2.Charge(meter_code="sms", package=catalogue_pb2.Package(size=100, price="150")),
        catalogue_pb2.Charge(
            meter_code="payments",
            percentage=catalogue_pb2.Percentage(rate_percent="2.9", fixed_fee_per_event="30"),
        ),
    ]
    plan = await create_plan(
        stubs,
        running,
        "pro",
        currency="KWD",
        interval_unit="month",
        interval_count=3,
        base_fee_minor=12345,
        trial_days=14,
        charges=charges,
    )

    fetched = (
        await stubs.catalogue.GetPlan(catalogue_pb2.GetPlanRequest(plan_id=plan.plan_id), metadata=running.admin)
    ).plan
    assert fetched == plan
    assert (plan.currency, plan.interval_count, plan.base_fee_minor, plan.trial_days) == ("KWD", 3, 12345, 14)
    assert [c.WhichOneof("model") for c in plan.charges] == ["graduated", "volume", "per_unit", "package", "percentage"]
    assert [(t.up_to, t.unit_price, t.flat_fee) for t in plan.charges[0].graduated.tiers] == [
        ("1000", "0.5", "0"),
        ("10000", "0.25", "100"),
        ("", "0.1", "0"),
    ]
    assert (plan.charges[0].free_units, plan.charges[2].minimum) == ("100", "5000")


@pytest.mark.parametrize(
    ("charge", "field"),
    [
        (
            catalogue_pb2.Charge(meter_code="calls", per_unit=catalogue_pb2.PerUnit(unit_price="NaN")),
            "charges[0].per_unit.unit_price",
        ),
        (
            catalogue_pb2.Charge(meter_code="calls", per_unit=catalogue_pb2.PerUnit(unit_price="-1")),
            "charges[0].per_unit.unit_price",
        ),
        (
            catalogue_pb2.Charge(meter_code="calls", per_unit=catalogue_pb2.PerUnit(unit_price="Infinity")),
            "charges[0].per_unit.unit_price",
        ),
        (catalogue_pb2.Charge(meter_code="calls"), "charges[0].model"),
        (
            catalogue_pb2.Charge(meter_code="calls", package=catalogue_pb2.Package(size=0, price="1")),
            "charges[0].package.size",
        ),
        (
            catalogue_pb2.Charge(
                meter_code="calls",
                graduated=catalogue_pb2.Tiers(
                    tiers=[
                        catalogue_pb2.Tier(up_to="10", unit_price="1"),
                        catalogue_pb2.Tier(up_to="5", unit_price="1"),
                    ]
                ),
            ),
            "charges[0].graduated.tiers[1].up_to",
        ),
    ],
)
async def test_bad_charges_are_refused_naming_the_field(
    running: Running, stubs: Stubs, charge: catalogue_pb2.Charge, field: str
) -> None:
    await create_meter(stubs, running, "calls")
    call = stubs.catalogue.CreatePlan(
        catalogue_pb2.CreatePlanRequest(code="x", name="X", currency="USD", interval_unit="month", charges=[charge]),
        metadata=running.admin,
    )
    _, fields = await refused(running, call, grpc.StatusCode.INVALID_ARGUMENT)
    assert field in fields, fields


async def test_plan_codes_are_unique_meters_must_exist_and_archived_plans_take_no_subscribers(
    running: Running, stubs: Stubs
) -> None:
    plan = await create_plan(stubs, running, "basic")
    reason, _ = await refused(
        running,
        stubs.catalogue.CreatePlan(
            catalogue_pb2.CreatePlanRequest(code="basic", name="B", currency="USD", interval_unit="month"),
            metadata=running.admin,
        ),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    assert reason == "plan_code_taken"
    reason, fields = await refused(
        running,
        stubs.catalogue.CreatePlan(
            catalogue_pb2.CreatePlanRequest(
                code="ghost",
                name="G",
                currency="USD",
                interval_unit="month",
                charges=[catalogue_pb2.Charge(meter_code="nope", per_unit=catalogue_pb2.PerUnit(unit_price="1"))],
            ),
            metadata=running.admin,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert (reason, fields) == ("unknown_meter", {"charges[0].meter_code"})

    archived = await stubs.catalogue.ArchivePlan(
        catalogue_pb2.ArchivePlanRequest(plan_id=plan.plan_id), metadata=running.admin
    )
    assert archived.plan.HasField("archived_at")
    listed = await stubs.catalogue.ListPlans(catalogue_pb2.ListPlansRequest(), metadata=running.admin)
    assert plan.plan_id not in [p.plan_id for p in listed.plans]
    org = await create_org(stubs, running)
    reason, _ = await refused(
        running,
        stubs.subscriptions.StartSubscription(
            subscriptions_pb2.StartSubscriptionRequest(organization_id=org.organization_id, plan_id=plan.plan_id),
            metadata=running.admin,
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert reason == "plan_archived"


# -- subscriptions ------------------------------------------------------------------------


async def test_monthly_periods_are_anchored_on_the_start_and_clamp_to_month_ends(
    running: Running, stubs: Stubs
) -> None:
    running.clock.advance_to(datetime(2026, 1, 31, 10, 0, tzinfo=UTC))
    org = await create_org(stubs, running)
    plan = await create_plan(stubs, running, "monthly")

    subscription = await start(stubs, running, org.organization_id, plan.plan_id)

    assert subscription.status == "active"
    assert when(subscription.current_period_start) == datetime(2026, 1, 31, 10, 0, tzinfo=UTC)
    assert when(subscription.current_period_end) == datetime(2026, 2, 28, 10, 0, tzinfo=UTC)
    assert when(subscription.cycle_anchor) == datetime(2026, 1, 31, 10, 0, tzinfo=UTC)


async def test_a_billing_anchor_shortens_the_first_period_and_a_trial_comes_first(
    running: Running, stubs: Stubs
) -> None:
    org = await create_org(stubs, running)
    plan = await create_plan(stubs, running, "monthly")
    anchor = datetime(2026, 2, 1, tzinfo=UTC)

    anchored = await start(stubs, running, org.organization_id, plan.plan_id, billing_anchor=ts(anchor))
    assert (when(anchored.current_period_start), when(anchored.current_period_end)) == (running.clock.now(), anchor)

    trial_plan = await create_plan(stubs, running, "trial", trial_days=14)
    other = await create_org(stubs, running, name="Other")
    trialing = await start(stubs, running, other.organization_id, trial_plan.plan_id)
    assert trialing.status == "trialing"
    assert when(trialing.trial_end) == running.clock.now() + timedelta(days=14)
    assert when(trialing.current_period_end) == when(trialing.trial_end)


async def test_a_plan_in_another_currency_is_refused(running: Running, stubs: Stubs) -> None:
    org = await create_org(stubs, running, currency="JPY")
    plan = await create_plan(stubs, running, "usd-plan", currency="USD")
    call = stubs.subscriptions.StartSubscription(
        subscriptions_pb2.StartSubscriptionRequest(organization_id=org.organization_id, plan_id=plan.plan_id),
        metadata=running.admin,
    )
    reason, _ = await refused(running, call, grpc.StatusCode.FAILED_PRECONDITION)
    assert reason == "currency_mismatch"


async def test_a_meter_is_charged_by_one_live_subscription_until_it_is_canceled(running: Running, stubs: Stubs) -> None:
    await create_meter(stubs, running, "calls")
    charge = catalogue_pb2.Charge(meter_code="calls", per_unit=catalogue_pb2.PerUnit(unit_price="1"))
    first_plan = await create_plan(stubs, running, "a", charges=[charge])
    second_plan = await create_plan(stubs, running, "b", charges=[charge])
    org = await create_org(stubs, running)
    first = await start(stubs, running, org.organization_id, first_plan.plan_id)

    second_request = subscriptions_pb2.StartSubscriptionRequest(
        organization_id=org.organization_id, plan_id=second_plan.plan_id
    )
    reason, _ = await refused(
        running,
        stubs.subscriptions.StartSubscription(second_request, metadata=running.admin),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert reason == "meter_already_charged"

    scheduled = await stubs.subscriptions.CancelSubscription(
        subscriptions_pb2.CancelSubscriptionRequest(subscription_id=first.subscription_id, at_period_end=True),
        metadata=running.admin,
    )
    assert scheduled.subscription.status == "active"
    assert scheduled.subscription.cancel_at == first.current_period_end
    canceled = await stubs.subscriptions.CancelSubscription(
        subscriptions_pb2.CancelSubscriptionRequest(subscription_id=first.subscription_id), metadata=running.admin
    )
    assert canceled.subscription.status == "canceled"
    assert when(canceled.subscription.canceled_at) == running.clock.now()

    running.clock.advance(timedelta(minutes=1))
    second = await stubs.subscriptions.StartSubscription(second_request, metadata=running.admin)
    listed = await stubs.subscriptions.ListSubscriptions(
        subscriptions_pb2.ListSubscriptionsRequest(organization_id=org.organization_id), metadata=running.admin
    )
    assert [(s.subscription_id, s.status) for s in listed.subscriptions] == [
        (first.subscription_id, "canceled"),
        (second.subscription.subscription_id, "active"),
    ]
    reason, _ = await refused(
        running,
        stubs.subscriptions.CancelSubscription(
            subscriptions_pb2.CancelSubscriptionRequest(subscription_id=first.subscription_id), metadata=running.admin
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert reason == "subscription_canceled"


async def test_concurrent_starts_cannot_both_claim_a_meter(running: Running, stubs: Stubs) -> None:
    await create_meter(stubs, running, "calls")
    charge = catalogue_pb2.Charge(meter_code="calls", per_unit=catalogue_pb2.PerUnit(unit_price="1"))
    plans = [await create_plan(stubs, running, f"p{i}", charges=[charge]) for i in range(4)]
    org = await create_org(stubs, running)

    results = await asyncio.gather(
        *(start(stubs, running, org.organization_id, p.plan_id) for p in plans), return_exceptions=True
    )

    started = [r for r in results if isinstance(r, subscriptions_pb2.Subscription)]
    failures = [r for r in results if isinstance(r, aio.AioRpcError)]
    assert len(started) == 1 and len(failures) == 3
    assert {f.code() for f in failures} <= {grpc.StatusCode.ABORTED, grpc.StatusCode.FAILED_PRECONDITION}


@pytest.mark.parametrize(
    ("offset", "field"),
    [(timedelta(minutes=6), "start_time"), (timedelta(days=-367), "start_time")],
)
async def test_start_times_far_from_now_are_refused(
    running: Running, stubs: Stubs, offset: timedelta, field: str
) -> None:
    org = await create_org(stubs, running)
    plan = await create_plan(stubs, running, "m")
    call = stubs.subscriptions.StartSubscription(
        subscriptions_pb2.StartSubscriptionRequest(
            organization_id=org.organization_id, plan_id=plan.plan_id, start_time=ts(running.clock.now() + offset)
        ),
        metadata=running.admin,
    )
    _, fields = await refused(running, call, grpc.StatusCode.INVALID_ARGUMENT)
    assert fields == {field}


async def test_unknown_ids_are_not_found(running: Running, stubs: Stubs) -> None:
    org = await create_org(stubs, running)
    for call in (
        stubs.subscriptions.StartSubscription(
            subscriptions_pb2.StartSubscriptionRequest(organization_id=org.organization_id, plan_id="plan_nope"),
            metadata=running.admin,
        ),
        stubs.subscriptions.StartSubscription(
            subscriptions_pb2.StartSubscriptionRequest(organization_id="org_nope", plan_id="plan_nope"),
            metadata=running.admin,
        ),
        stubs.subscriptions.GetSubscription(
            subscriptions_pb2.GetSubscriptionRequest(subscription_id="sub_nope"), metadata=running.admin
        ),
        stubs.catalogue.GetMeter(catalogue_pb2.GetMeterRequest(code="nope"), metadata=running.admin),
    ):
        await refused(running, call, grpc.StatusCode.NOT_FOUND)
