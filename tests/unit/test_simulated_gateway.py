"""The simulated payment gateway: scripted outcomes, idempotency, seeded failures, on every ledger."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymongo import AsyncMongoClient

from billing_grpc.adapters.mongo_charge_ledger import GATEWAY_CHARGES, MongoChargeLedger
from billing_grpc.domain.clock import TestClock
from billing_grpc.payments.ledger import ChargeLedger, ChargeRecord
from billing_grpc.payments.memory_ledger import InMemoryChargeLedger
from billing_grpc.payments.port import (
    ChargeRequest,
    ChargeResult,
    GatewayTimeout,
    GatewayUnavailable,
    IdempotencyKeyReused,
    PaymentGateway,
)
from billing_grpc.payments.simulated import PAYMENT_METHODS, SimulatedGateway

START = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def request(key: str = "k1", *, method: str = "pm_ok", invoice: str = "inv_1", amount: int = 1999) -> ChargeRequest:
    return ChargeRequest(
        idempotency_key=key,
        organization_id="org_1",
        invoice_id=invoice,
        amount_minor=amount,
        currency="EUR",
        payment_method=method,
    )


@pytest.fixture(params=["memory", "mongo"])
async def ledger(request: pytest.FixtureRequest, database_name: str) -> AsyncIterator[ChargeLedger]:
    """One run per ledger; the MongoDB run gets a fresh database on the session's store."""
    if request.param == "memory":
        yield InMemoryChargeLedger()
        return
    # Like tests/contract/conftest.py: an async fixture cannot be requested dynamically.
    uri = request.getfixturevalue("mongo_uri")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, serverSelectionTimeoutMS=5000, tz_aware=True)
    try:
        mongo = MongoChargeLedger(client, database_name)
        await mongo.start()
        yield mongo
    finally:
        await client.drop_database(database_name)
        await client.close()


@pytest.fixture
def clock() -> TestClock:
    return TestClock(START)


@pytest.fixture
def gateway(ledger: ChargeLedger, clock: TestClock) -> SimulatedGateway:
    return SimulatedGateway(ledger, clock=clock)


def test_the_simulated_gateway_is_a_payment_gateway(gateway: SimulatedGateway) -> None:
    port: PaymentGateway = gateway
    assert port is gateway


@pytest.mark.parametrize(
    ("method", "succeeded", "code"),
    [
        ("pm_ok", True, ""),
        ("pm_declined", False, "card_declined"),
        ("pm_insufficient_funds", False, "insufficient_funds"),
        ("", False, "no_payment_method"),
        ("pm_unknown", False, "no_payment_method"),
        ("visa_4242", False, "no_payment_method"),
    ],
)
async def test_each_payment_method_has_its_scripted_outcome(
    gateway: SimulatedGateway, method: str, succeeded: bool, code: str
) -> None:
    result = await gateway.charge(request(method=method))

    assert (result.succeeded, result.failure_code) == (succeeded, code)
    assert result.charge_id.startswith("ch_sim_") and result.message
    assert [r.result for r in await gateway.attempts("inv_1")] == [result]  # declines are recorded too
    assert await gateway.captured_total("inv_1") == (1999 if succeeded else 0)


async def test_a_replayed_key_returns_the_recorded_result_and_captures_nothing_new(
    gateway: SimulatedGateway, clock: TestClock
) -> None:
    first = await gateway.charge(request())
    clock.advance(timedelta(hours=1))
    again = await gateway.charge(request())

    assert again == first
    assert [r.recorded_at for r in await gateway.captured("inv_1")] == [START]
    assert await gateway.captured_total("inv_1") == 1999


async def test_a_replayed_declined_key_returns_the_same_failure(gateway: SimulatedGateway) -> None:
    first = await gateway.charge(request(method="pm_declined"))
    assert await gateway.charge(request(method="pm_declined")) == first
    assert len(await gateway.attempts("inv_1")) == 1


async def test_a_timeout_followed_by_a_retry_with_the_same_key_never_charges_twice(gateway: SimulatedGateway) -> None:
    with pytest.raises(GatewayTimeout):
        await gateway.charge(request(method="pm_timeout"))
    # The answer was lost, the money was not: the capture is on record already.
    assert await gateway.captured_total("inv_1") == 1999

    retried = await gateway.charge(request(method="pm_timeout"))
    assert retried.succeeded and retried.failure_code == ""
    assert await gateway.charge(request(method="pm_timeout")) == retried
    assert [r.result for r in await gateway.captured("inv_1")] == [retried]
    assert await gateway.captured_total("inv_1") == 1999


async def test_a_timeout_is_a_gateway_unavailability(gateway: SimulatedGateway) -> None:
    with pytest.raises(GatewayUnavailable):
        await gateway.charge(request(method="pm_timeout"))


async def test_fail_then_ok_declines_the_first_attempt_of_each_invoice_only(gateway: SimulatedGateway) -> None:
    first = await gateway.charge(request("a1", method="pm_fail_then_ok"))
    replay = await gateway.charge(request("a1", method="pm_fail_then_ok"))
    second = await gateway.charge(request("a2", method="pm_fail_then_ok"))
    other_invoice = await gateway.charge(request("b1", method="pm_fail_then_ok", invoice="inv_2"))

    assert (first.succeeded, first.failure_code) == (False, "card_declined")
    assert replay == first
    assert (second.succeeded, second.failure_code) == (True, "")
    assert (other_invoice.succeeded, other_invoice.failure_code) == (False, "card_declined")
    assert [r.request.idempotency_key for r in await gateway.attempts("inv_1")] == ["a1", "a2"]
    assert await gateway.captured_total("inv_1") == 1999


@pytest.mark.parametrize(
    "change",
    [
        {"amount_minor": 2000},
        {"invoice_id": "inv_2"},
        {"organization_id": "org_2"},
        {"currency": "USD"},
        {"payment_method": "pm_declined"},
    ],
    ids=lambda change: next(iter(change)),
)
async def test_a_key_reused_for_a_different_request_is_refused(
    gateway: SimulatedGateway, change: dict[str, Any]
) -> None:
    await gateway.charge(request())

    with pytest.raises(IdempotencyKeyReused, match=next(iter(change))):
        await gateway.charge(replace(request(), **change))
    assert await gateway.captured_total("inv_1") == 1999
    assert await gateway.attempts("inv_2") == []


async def test_a_key_reused_after_a_timeout_for_a_different_request_is_refused(gateway: SimulatedGateway) -> None:
    with pytest.raises(GatewayTimeout):
        await gateway.charge(request(method="pm_timeout"))
    with pytest.raises(IdempotencyKeyReused):
        await gateway.charge(request(method="pm_timeout", amount=1))


async def test_concurrent_charges_with_one_key_capture_once(gateway: SimulatedGateway) -> None:
    results = await asyncio.gather(*(gateway.charge(request()) for _ in range(20)))

    assert len(set(results)) == 1 and results[0].succeeded
    assert len(await gateway.captured("inv_1")) == 1
    assert await gateway.captured_total("inv_1") == 1999


async def test_concurrent_records_of_one_key_keep_the_first_writer_only(ledger: ChargeLedger) -> None:
    # Straight to the ledger, so every writer races on the insert (the gateway reads first).
    records = [
        ChargeRecord(request(), ChargeResult(f"ch_{i}", True, "", "captured"), START + timedelta(seconds=i))
        for i in range(20)
    ]

    outcomes = await asyncio.gather(*(ledger.record(record) for record in records))

    winners = [stored for stored, created in outcomes if created]
    assert len(winners) == 1
    assert all(stored == winners[0] for stored, _ in outcomes)
    assert await ledger.get("k1") == winners[0]
    assert await ledger.for_invoice("inv_1") == winners


async def test_concurrent_timeouts_with_one_key_capture_once_and_lose_one_answer(gateway: SimulatedGateway) -> None:
    outcomes = await asyncio.gather(
        *(gateway.charge(request(method="pm_timeout")) for _ in range(10)), return_exceptions=True
    )

    assert sum(isinstance(o, GatewayTimeout) for o in outcomes) == 1
    answers = {o for o in outcomes if isinstance(o, ChargeResult)}
    assert len(answers) == 1 and next(iter(answers)).succeeded
    assert await gateway.captured_total("inv_1") == 1999


async def test_seeded_random_failures_are_reproducible_and_replay_identically(
    ledger: ChargeLedger, clock: TestClock
) -> None:
    gateway = SimulatedGateway(ledger, failure_rate=Decimal("0.5"), seed=7, clock=clock)
    twin = SimulatedGateway(InMemoryChargeLedger(), failure_rate=Decimal("0.5"), seed=7, clock=clock)
    keys = [f"key-{i}" for i in range(40)]

    results = [await gateway.charge(request(key, invoice=key)) for key in keys]

    assert results == [await twin.charge(request(key, invoice=key)) for key in keys]
    assert results == [await gateway.charge(request(key, invoice=key)) for key in keys]
    assert {r.failure_code for r in results} == {"", "random_decline"}
    assert all(r.succeeded == (r.failure_code == "") for r in results)


async def test_random_failures_decline_only_charges_that_would_succeed(clock: TestClock) -> None:
    gateway = SimulatedGateway(InMemoryChargeLedger(), failure_rate=Decimal(1), clock=clock)

    assert (await gateway.charge(request("a", method="pm_ok"))).failure_code == "random_decline"
    assert (await gateway.charge(request("b", method="pm_declined"))).failure_code == "card_declined"
    assert (await gateway.charge(request("c", method=""))).failure_code == "no_payment_method"
    first, later = (request(key, method="pm_fail_then_ok", invoice="inv_2") for key in ("d", "e"))
    assert (await gateway.charge(first)).failure_code == "card_declined"
    assert (await gateway.charge(later)).failure_code == "random_decline"
    with pytest.raises(GatewayTimeout):  # the answer of a declined charge can be lost too
        await gateway.charge(request("f", method="pm_timeout"))
    assert (await gateway.charge(request("f", method="pm_timeout"))).failure_code == "random_decline"
    assert await gateway.captured_total("inv_1") == await gateway.captured_total("inv_2") == 0


async def test_the_failure_rate_is_roughly_the_share_of_declines(clock: TestClock) -> None:
    gateway = SimulatedGateway(InMemoryChargeLedger(), failure_rate=Decimal("0.2"), seed=2026, clock=clock)

    results = [await gateway.charge(request(f"key-{i}", invoice=f"inv-{i}")) for i in range(2000)]

    declined = sum(r.failure_code == "random_decline" for r in results)
    # Binomial(2000, 0.2): mean 400, standard deviation ~18; the seed makes this exact anyway.
    assert 330 <= declined <= 470
    other_seed = SimulatedGateway(InMemoryChargeLedger(), failure_rate=Decimal("0.2"), seed=2027, clock=clock)
    assert [other_seed.randomly_declined(f"key-{i}") for i in range(2000)] != [not r.succeeded for r in results]


seeds = st.integers(min_value=-(2**63), max_value=2**63)
keys = st.text(min_size=1, max_size=40)
rates = st.decimals(min_value=0, max_value=1, places=6)


@given(seeds, keys)
def test_rate_zero_never_declines_and_rate_one_always_does(seed: int, key: str) -> None:
    clock = TestClock(START)
    never = SimulatedGateway(InMemoryChargeLedger(), failure_rate=Decimal(0), seed=seed, clock=clock)
    always = SimulatedGateway(InMemoryChargeLedger(), failure_rate=Decimal(1), seed=seed, clock=clock)
    assert not never.randomly_declined(key)
    assert always.randomly_declined(key)


@given(seeds, keys, rates, rates)
def test_a_key_declined_at_some_rate_is_declined_at_every_higher_rate(
    seed: int, key: str, rate: Decimal, other: Decimal
) -> None:
    low, high = sorted((rate, other))
    clock = TestClock(START)
    at_low = SimulatedGateway(InMemoryChargeLedger(), failure_rate=low, seed=seed, clock=clock)
    at_high = SimulatedGateway(InMemoryChargeLedger(), failure_rate=high, seed=seed, clock=clock)
    assert not at_low.randomly_declined(key) or at_high.randomly_declined(key)


@given(
    key=keys,
    method=st.one_of(st.sampled_from(PAYMENT_METHODS), st.text(max_size=12)),
    amount=st.integers(min_value=1, max_value=2**63 - 1),
    rate=rates,
    replays=st.integers(min_value=1, max_value=4),
)
def test_any_charge_replayed_with_its_key_captures_at_most_once(
    key: str, method: str, amount: int, rate: Decimal, replays: int
) -> None:
    async def scenario() -> None:
        gateway = SimulatedGateway(InMemoryChargeLedger(), failure_rate=rate, clock=TestClock(START))
        charge = request(key, method=method, amount=amount)
        answers: list[ChargeResult] = []
        for _ in range(replays + 1):
            try:
                answers.append(await gateway.charge(charge))
            except GatewayTimeout:
                assert method == "pm_timeout" and not answers
        assert len(set(answers)) == 1
        assert await gateway.captured_total("inv_1") == (amount if answers[0].succeeded else 0)

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"amount_minor": 0}, ValueError),
        ({"amount_minor": -5}, ValueError),
        ({"amount_minor": 2**63}, ValueError),
        ({"amount_minor": 19.99}, TypeError),
        ({"amount_minor": True}, TypeError),
        ({"currency": "eur"}, ValueError),
        ({"idempotency_key": ""}, ValueError),
        ({"invoice_id": ""}, ValueError),
        ({"organization_id": ""}, ValueError),
        ({"payment_method": None}, TypeError),
    ],
)
def test_a_malformed_charge_request_is_refused(change: dict[str, Any], error: type[Exception]) -> None:
    fields: dict[str, Any] = {
        "idempotency_key": "k",
        "organization_id": "o",
        "invoice_id": "i",
        "amount_minor": 1,
        "currency": "EUR",
        "payment_method": "pm_ok",
    }
    with pytest.raises(error):
        ChargeRequest(**(fields | change))


@pytest.mark.parametrize(
    ("rate", "error"),
    [(0.1, TypeError), (Decimal("-0.01"), ValueError), (Decimal("1.01"), ValueError), (Decimal("NaN"), ValueError)],
)
def test_a_failure_rate_outside_zero_to_one_or_not_a_decimal_is_refused(rate: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        SimulatedGateway(InMemoryChargeLedger(), failure_rate=rate, clock=TestClock(START))


async def test_captured_total_refuses_to_add_currencies(clock: TestClock) -> None:
    gateway = SimulatedGateway(InMemoryChargeLedger(), clock=clock)
    await gateway.charge(request("a"))
    await gateway.charge(replace(request("b"), currency="USD"))
    with pytest.raises(ValueError, match="several currencies"):
        await gateway.captured_total("inv_1")


async def test_mongo_captures_survive_a_restart_of_the_gateway(
    mongo_client: AsyncMongoClient[dict[str, Any]], mongo_uri: str, database_name: str
) -> None:
    clock = TestClock(START)
    before = SimulatedGateway(MongoChargeLedger(mongo_client, database_name), clock=clock)
    with pytest.raises(GatewayTimeout):
        await before.charge(request(method="pm_timeout"))

    # A new process: a new client and ledger on the same database, as after kill -9.
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri, tz_aware=True)
    try:
        ledger = MongoChargeLedger(client, database_name)
        await ledger.start()
        after = SimulatedGateway(ledger, clock=clock)
        retried = await after.charge(request(method="pm_timeout"))
        assert retried.succeeded
        assert await after.captured_total("inv_1") == 1999
        stored = await client[database_name][GATEWAY_CHARGES].find_one({"_id": "k1"})
        assert stored is not None and stored["amount_minor"] == 1999 and stored["recorded_at"] == START
    finally:
        await client.close()


async def test_mongo_ledger_outage_is_a_gateway_unavailability() -> None:
    # Nothing listens on port 9: the outcome of any charge is unknown, so the caller must retry.
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient("mongodb://127.0.0.1:9", serverSelectionTimeoutMS=200)
    try:
        gateway = SimulatedGateway(MongoChargeLedger(client, "unreachable"), clock=TestClock(START))
        with pytest.raises(GatewayUnavailable):
            await gateway.charge(request())
    finally:
        await client.close()
