"""Entitlements through the real server on the test clock: they follow the subscription's life.

The e2e server's test clock starts 2026-01-15 09:00 UTC, so a monthly period runs to Feb 15 09:00.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest

from billing.v1 import catalogue_pb2, entitlements_pb2, identity_pb2, organizations_pb2, subscriptions_pb2
from billing_grpc.domain.subscription import stream_of
from tests.e2e.conftest import Running, auth, start_running
from tests.e2e.test_billing import ACCEPTED, Customer, at
from tests.e2e.world import Stubs
from tests.rpc_errors import details_of


@dataclass
class Catalogue:
    basic: str  # seats 3, sso off, api-calls capped at 100 a period; charges api_calls
    pro: str  # seats unlimited, sso on, api-calls uncapped; charges api_calls
    addon: str  # seats 10 only; charges nothing


async def catalogue(running: Running) -> Catalogue:
    stubs, admin = Stubs.on(running.channel), running.admin
    await stubs.catalogue.CreateMeter(
        catalogue_pb2.CreateMeterRequest(code="api_calls", name="API calls", aggregation="sum"), metadata=admin
    )
    for code, kind, meter in (("sso", "boolean", ""), ("seats", "limit", ""), ("api-calls", "metered", "api_calls")):
        await stubs.catalogue.CreateFeature(
            catalogue_pb2.CreateFeatureRequest(code=code, name=code.upper(), kind=kind, meter_code=meter),
            metadata=admin,
        )
    charge = catalogue_pb2.Charge(meter_code="api_calls", per_unit=catalogue_pb2.PerUnit(unit_price="1"))
    PF = catalogue_pb2.PlanFeature
    ids = []
    for code, charges, features in (
        (
            "basic",
            [charge],
            [PF(feature_code="sso"), PF(feature_code="seats", limit=3), PF(feature_code="api-calls", cap="100")],
        ),
        (
            "pro",
            [charge],
            [
                PF(feature_code="sso", enabled=True),
                PF(feature_code="seats", unlimited=True),
                PF(feature_code="api-calls"),
            ],
        ),
        ("addon", [], [PF(feature_code="seats", limit=10)]),
    ):
        created = await stubs.catalogue.CreatePlan(
            catalogue_pb2.CreatePlanRequest(
                code=code,
                name=code,
                currency="USD",
                interval_unit="month",
                base_fee_minor=1000,
                charges=charges,
                features=features,
            ),
            metadata=admin,
        )
        ids.append(created.plan.plan_id)
    return Catalogue(*ids)


async def customer_on(running: Running, plan_id: str, payment_method: str = "pm_ok", **start: object) -> Customer:
    stubs, admin = Stubs.on(running.channel), running.admin
    organization = await stubs.organizations.CreateOrganization(
        organizations_pb2.CreateOrganizationRequest(name="Acme", currency="USD", payment_method=payment_method),
        metadata=admin,
    )
    organization_id = organization.organization.organization_id
    started = await stubs.subscriptions.StartSubscription(
        subscriptions_pb2.StartSubscriptionRequest(organization_id=organization_id, plan_id=plan_id, **start),
        metadata=admin,
    )
    return Customer(running, stubs, organization_id, started.subscription.subscription_id)


async def check(customer: Customer, feature: str, requested: str = "") -> entitlements_pb2.CheckEntitlementResponse:
    answer: entitlements_pb2.CheckEntitlementResponse = await customer.stubs.entitlements.CheckEntitlement(
        entitlements_pb2.CheckEntitlementRequest(
            organization_id=customer.organization_id, feature_code=feature, requested=requested
        ),
        metadata=customer.running.admin,
    )
    return answer


async def verdict(customer: Customer, feature: str, requested: str = "") -> tuple[bool, str, str]:
    answer = await check(customer, feature, requested)
    return answer.allowed, answer.reason, answer.remaining


async def listed(customer: Customer) -> dict[str, entitlements_pb2.Entitlement]:
    answer = await customer.stubs.entitlements.ListEntitlements(
        entitlements_pb2.ListEntitlementsRequest(organization_id=customer.organization_id),
        metadata=customer.running.admin,
    )
    return {e.feature_code: e for e in answer.entitlements}


async def entitlement_events(customer: Customer, subscription_id: str = "") -> list[tuple[str, str]]:
    stream = await customer.running.app.store.read_stream(stream_of(subscription_id or customer.subscription_id))
    return [(e.type, e.payload["reason"]) for e in stream if e.type.startswith("entitlements.")]


@pytest.fixture
async def plans(running: Running) -> Catalogue:
    return await catalogue(running)


async def test_a_trial_grants_the_plan_usage_counts_against_the_cap_and_an_upgrade_changes_it_at_once(
    running: Running, plans: Catalogue
) -> None:
    customer = await customer_on(running, plans.basic, trial_days=14)
    features = await listed(customer)
    assert sorted(features) == ["api-calls", "seats", "sso"]
    assert (features["seats"].limit, features["seats"].remaining) == (3, "3")
    assert (features["api-calls"].cap, features["api-calls"].used, features["api-calls"].remaining) == (
        "100",
        "0",
        "100",
    )
    assert await verdict(customer, "sso") == (False, "disabled", "")
    assert await verdict(customer, "seats", "3") == (True, "entitled", "0")
    assert await verdict(customer, "seats", "4") == (False, "limit_exceeded", "0")

    assert (await customer.use("u1", "60", at(1, 15, 9))).outcome == ACCEPTED
    await running.app.projections.wait_until(await running.app.store.head_position())  # usage answers before projecting
    assert await verdict(customer, "api-calls", "40") == (True, "entitled", "0")
    assert await verdict(customer, "api-calls", "41") == (False, "cap_reached", "0")
    assert (await listed(customer))["api-calls"].used == "60"

    await customer.stubs.subscriptions.ChangePlan(
        subscriptions_pb2.ChangePlanRequest(subscription_id=customer.subscription_id, plan_id=plans.pro),
        metadata=running.admin,
    )
    # The same instance answers from fresh state as soon as the command returned.
    assert await verdict(customer, "sso") == (True, "entitled", "")
    assert await verdict(customer, "seats", "5000") == (True, "entitled", "")
    assert await verdict(customer, "api-calls", "1000000") == (True, "entitled", "")
    assert await entitlement_events(customer) == [
        ("entitlements.granted", "trial_started"),
        ("entitlements.changed", "plan_changed"),
    ]


async def test_a_downgrade_at_period_end_keeps_access_until_the_close(running: Running, plans: Catalogue) -> None:
    customer = await customer_on(running, plans.pro)
    await customer.stubs.subscriptions.ChangePlan(
        subscriptions_pb2.ChangePlanRequest(
            subscription_id=customer.subscription_id, plan_id=plans.basic, at_period_end=True
        ),
        metadata=running.admin,
    )
    await customer.advance_to(at(2, 15, 8, 59))
    assert await verdict(customer, "sso") == (True, "entitled", "")
    await customer.advance_to(at(2, 15, 9, 1))
    assert await verdict(customer, "sso") == (False, "disabled", "")
    assert await verdict(customer, "seats", "10") == (False, "limit_exceeded", "0")
    stream = await running.app.store.read_stream(stream_of(customer.subscription_id))
    types = [e.type for e in stream]
    # The change takes effect in the close's own append: the plan change, then its consequence.
    changed = types.index("subscription.plan_changed")
    assert types[changed + 1] == "entitlements.changed"
    assert stream[changed].position + 1 == stream[changed + 1].position


async def test_several_subscriptions_grant_their_union_and_a_cancellation_revokes_its_part(
    running: Running, plans: Catalogue
) -> None:
    customer = await customer_on(running, plans.basic)
    addon = await customer.stubs.subscriptions.StartSubscription(
        subscriptions_pb2.StartSubscriptionRequest(organization_id=customer.organization_id, plan_id=plans.addon),
        metadata=running.admin,
    )
    addon_id = addon.subscription.subscription_id
    assert await verdict(customer, "seats", "10") == (True, "entitled", "0")  # the higher limit wins
    batch = await customer.stubs.entitlements.CheckEntitlements(
        entitlements_pb2.CheckEntitlementsRequest(
            checks=[
                entitlements_pb2.CheckEntitlementRequest(organization_id=customer.organization_id, feature_code=code)
                for code in ("seats", "sso", "api-calls")
            ]
        ),
        metadata=running.admin,
    )
    assert [(r.allowed, r.reason, r.remaining) for r in batch.results] == [
        (True, "entitled", "10"),
        (False, "disabled", ""),
        (True, "entitled", "100"),
    ]
    assert (await listed(customer))["seats"].subscription_id == addon_id

    await customer.stubs.subscriptions.CancelSubscription(
        subscriptions_pb2.CancelSubscriptionRequest(subscription_id=addon_id), metadata=running.admin
    )
    assert await verdict(customer, "seats", "10") == (False, "limit_exceeded", "0")
    await customer.stubs.subscriptions.CancelSubscription(
        subscriptions_pb2.CancelSubscriptionRequest(subscription_id=customer.subscription_id), metadata=running.admin
    )
    assert await verdict(customer, "seats") == (False, "not_entitled", "0")
    assert await listed(customer) == {}
    assert await entitlement_events(customer, addon_id) == [
        ("entitlements.granted", "subscription_started"),
        ("entitlements.revoked", "canceled"),
    ]


async def test_a_cancellation_at_period_end_revokes_at_the_close(running: Running, plans: Catalogue) -> None:
    customer = await customer_on(running, plans.basic)
    await customer.stubs.subscriptions.CancelSubscription(
        subscriptions_pb2.CancelSubscriptionRequest(subscription_id=customer.subscription_id, at_period_end=True),
        metadata=running.admin,
    )
    await customer.advance_to(at(2, 15, 8, 59))
    assert await verdict(customer, "seats", "3") == (True, "entitled", "0")
    await customer.advance_to(at(2, 15, 9, 1))
    assert await verdict(customer, "seats", "3") == (False, "not_entitled", "0")
    assert await entitlement_events(customer) == [
        ("entitlements.granted", "subscription_started"),
        ("entitlements.revoked", "canceled"),
    ]


async def test_past_due_keeps_entitlements_by_default(running: Running, plans: Catalogue) -> None:
    customer = await customer_on(running, plans.basic, payment_method="pm_declined")
    await customer.advance_to(at(1, 15, 9, 5))  # the opening invoice's payment fails
    assert await customer.subscription_status() == "past_due"
    assert await verdict(customer, "seats", "3") == (True, "entitled", "0")
    assert await entitlement_events(customer) == [("entitlements.granted", "subscription_started")]


@pytest.fixture
async def suspending(mongo_uri: str, database_name: str) -> AsyncIterator[Running]:
    async for started in start_running(mongo_uri, database_name, entitlements_past_due="suspend"):
        yield started


async def test_past_due_suspends_entitlements_under_the_suspend_policy_until_paid(suspending: Running) -> None:
    plans = await catalogue(suspending)
    customer = await customer_on(suspending, plans.basic, payment_method="pm_declined")
    await customer.advance_to(at(1, 15, 9, 5))
    assert await customer.subscription_status() == "past_due"
    assert await verdict(customer, "seats", "1") == (False, "suspended", "0")
    assert await listed(customer) == {}

    await customer.pay_with("pm_ok")
    await customer.advance_to(at(1, 16, 10))  # dunning retries a day later, and the payment succeeds
    assert await customer.subscription_status() == "active"
    assert await verdict(customer, "seats", "1") == (True, "entitled", "2")
    assert await entitlement_events(customer) == [
        ("entitlements.granted", "subscription_started"),
        ("entitlements.suspended", "past_due"),
        ("entitlements.restored", "paid"),
    ]


async def test_bad_input_is_refused_and_writes_nothing(running: Running, plans: Catalogue) -> None:
    stubs, admin = Stubs.on(running.channel), running.admin
    customer = await customer_on(running, plans.basic)
    PF = catalogue_pb2.PlanFeature
    refusals = [
        (
            lambda: stubs.catalogue.CreateFeature(
                catalogue_pb2.CreateFeatureRequest(code="x", name="X", kind="quota"), metadata=admin
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["kind"],
        ),
        (
            lambda: stubs.catalogue.CreateFeature(
                catalogue_pb2.CreateFeatureRequest(code="x", name="X", kind="metered", meter_code="nope"),
                metadata=admin,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["meter_code"],
        ),
        (
            lambda: stubs.catalogue.CreateFeature(
                catalogue_pb2.CreateFeatureRequest(code="sso", name="X", kind="boolean"), metadata=admin
            ),
            grpc.StatusCode.ALREADY_EXISTS,
            [],
        ),
        (
            lambda: stubs.catalogue.CreatePlan(
                catalogue_pb2.CreatePlanRequest(
                    code="bad",
                    name="",
                    currency="USD",
                    interval_unit="month",
                    features=[
                        PF(feature_code="seats"),
                        PF(feature_code="api-calls", cap="5"),
                        PF(feature_code="ghost"),
                    ],
                ),
                metadata=admin,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["features[0].limit", "features[1].feature_code", "features[2].feature_code", "name"],
        ),
        (
            lambda: stubs.entitlements.CheckEntitlement(
                entitlements_pb2.CheckEntitlementRequest(
                    organization_id=customer.organization_id, feature_code="seats", requested="-1"
                ),
                metadata=admin,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["requested"],
        ),
        (
            lambda: stubs.entitlements.CheckEntitlement(
                entitlements_pb2.CheckEntitlementRequest(
                    organization_id=customer.organization_id, feature_code="ghost"
                ),
                metadata=admin,
            ),
            grpc.StatusCode.NOT_FOUND,
            [],
        ),
        (
            lambda: stubs.entitlements.ListEntitlements(
                entitlements_pb2.ListEntitlementsRequest(organization_id="org_missing"), metadata=admin
            ),
            grpc.StatusCode.NOT_FOUND,
            [],
        ),
    ]
    refusals.append(
        (
            lambda: stubs.entitlements.CheckEntitlements(
                entitlements_pb2.CheckEntitlementsRequest(
                    checks=[
                        entitlements_pb2.CheckEntitlementRequest(
                            organization_id=customer.organization_id, feature_code="seats", requested=amount
                        )
                        for amount in ("1", "x")
                    ]
                ),
                metadata=admin,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["checks[1].requested"],
        )
    )
    for call, code, fields in refusals:
        before = await running.app.store.head_position()
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call()
        assert refused.value.code() == code
        assert sorted(details_of(refused.value).fields) == fields
        assert await running.app.store.head_position() == before


async def test_another_tenants_organization_is_not_found(running: Running, plans: Catalogue) -> None:
    customer = await customer_on(running, plans.basic)
    other = await customer_on(running, plans.pro)
    stubs = Stubs.on(running.channel)
    user = await stubs.users.CreateUser(identity_request(customer.organization_id), metadata=running.admin)
    key = await stubs.api_keys.IssueApiKey(
        identity_pb2.IssueApiKeyRequest(user_id=user.user.user_id, name="product"), metadata=running.admin
    )
    own = await stubs.entitlements.CheckEntitlement(
        entitlements_pb2.CheckEntitlementRequest(organization_id=customer.organization_id, feature_code="seats"),
        metadata=auth(key.key),
    )
    assert own.allowed and own.remaining == "3"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stubs.entitlements.CheckEntitlement(
            entitlements_pb2.CheckEntitlementRequest(organization_id=other.organization_id, feature_code="seats"),
            metadata=auth(key.key),
        )
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND


def identity_request(organization_id: str) -> identity_pb2.CreateUserRequest:
    return identity_pb2.CreateUserRequest(
        email=f"product-{organization_id[-6:]}@example.com",
        name="Product service",
        organization_id=organization_id,
        roles=[identity_pb2.RoleBinding(role="usage_emitter", organization_id=organization_id)],
    )
