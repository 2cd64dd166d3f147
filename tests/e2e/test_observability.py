"""Metrics scraped over HTTP from the real server, and the correlation id on every log line of a call.

The server runs with `metrics_listen="127.0.0.1:0"`; every metric assertion is a delta between
two scrapes of `/metrics`, so what the fixture's own calls counted does not matter.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta

import grpc
import pytest
from google.protobuf import timestamp_pb2
from grpc import aio

from billing.v1 import billing_pb2, catalogue_pb2, event_log_pb2, organizations_pb2, subscriptions_pb2, usage_pb2
from billing_grpc.logs import JsonFormatter
from tests.e2e.conftest import Running, start_running
from tests.e2e.world import Stubs
from tests.prometheus_scrape import Samples, sample, scrape
from tests.rpc_errors import details_of

USAGE = "billing_usage_events_total"
PAYMENTS = "billing_payments_total"
RPCS = "billing_rpc_requests_total"


@pytest.fixture
async def running(mongo_uri: str, database_name: str) -> AsyncIterator[Running]:
    """The e2e server with its metrics endpoint on a free port."""
    async for started in start_running(mongo_uri, database_name, metrics_listen="127.0.0.1:0"):
        yield started


async def scrape_server(running: Running) -> Samples:
    """The server's metrics, over HTTP."""
    assert running.server.metrics_port is not None
    return await scrape(running.server.metrics_port)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return sample(after, name, **labels) - sample(before, name, **labels)


def rpc(method: str, code: str = "OK") -> dict[str, str]:
    return {"method": method, "code": code}


def ts(moment: datetime) -> timestamp_pb2.Timestamp:
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(moment)
    return message


async def customers(running: Running, stubs: Stubs, *payment_methods: str) -> dict[str, str]:
    """A metered plan with a monthly fee, and one subscribed organization per payment method."""
    admin = running.admin
    await stubs.catalogue.CreateMeter(
        catalogue_pb2.CreateMeterRequest(code="api_calls", name="API calls", aggregation="sum"), metadata=admin
    )
    plan = await stubs.catalogue.CreatePlan(
        catalogue_pb2.CreatePlanRequest(
            code="pro",
            name="Pro",
            currency="USD",
            interval_unit="month",
            base_fee_minor=2900,
            charges=[catalogue_pb2.Charge(meter_code="api_calls", per_unit=catalogue_pb2.PerUnit(unit_price="0.1"))],
        ),
        metadata=admin,
    )
    organizations = {}
    for method in payment_methods:
        created = await stubs.organizations.CreateOrganization(
            organizations_pb2.CreateOrganizationRequest(name=method, currency="USD", payment_method=method),
            metadata=admin,
        )
        organization_id = created.organization.organization_id
        await stubs.subscriptions.StartSubscription(
            subscriptions_pb2.StartSubscriptionRequest(organization_id=organization_id, plan_id=plan.plan.plan_id),
            metadata=admin,
        )
        organizations[method] = organization_id
    return organizations


def usage(
    organization_id: str, key: str, at: datetime, *, meter: str = "api_calls", quantity: str = "1"
) -> usage_pb2.UsageEvent:
    return usage_pb2.UsageEvent(
        organization_id=organization_id, meter_code=meter, quantity=quantity, idempotency_key=key, timestamp=ts(at)
    )


async def test_calls_usage_payments_and_scheduler_runs_are_counted_exactly(running: Running) -> None:
    stubs, admin, now = Stubs.on(running.channel), running.admin, running.clock.now()
    before = await scrape_server(running)

    orgs = await customers(running, stubs, "pm_ok", "pm_declined", "pm_timeout")
    # Failing calls: a missing subscription, a nameless organization, no credentials.
    with pytest.raises(aio.AioRpcError) as missing:
        await stubs.subscriptions.GetSubscription(
            subscriptions_pb2.GetSubscriptionRequest(subscription_id="sub_missing"), metadata=admin
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(aio.AioRpcError) as nameless:
        await stubs.organizations.CreateOrganization(
            organizations_pb2.CreateOrganizationRequest(name="", currency="USD"), metadata=admin
        )
    assert nameless.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(aio.AioRpcError) as anonymous:
        await stubs.invoices.ListInvoices(billing_pb2.ListInvoicesRequest(organization_id=orgs["pm_ok"]))
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(aio.AioRpcError) as backwards:  # a server stream refused before its first message
        await stubs.events.ReadEvents(event_log_pb2.ReadEventsRequest(after_position=-1), metadata=admin).read()
    assert backwards.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    # Usage: two batches on one stream, then one RecordUsage.
    ok = orgs["pm_ok"]
    first = usage_pb2.StreamUsageRequest(
        batch_id=1,
        events=[
            usage(ok, "k1", now),
            usage(ok, "k2", now),
            usage(ok, "k1", now),  # the same key twice in a batch: the second is a duplicate
            usage(ok, "k9", now, meter="no_such_meter"),
            usage(ok, "k8", now, quantity="lots"),
        ],
    )
    second = usage_pb2.StreamUsageRequest(batch_id=2, events=[usage(ok, "k2", now), usage(ok, "k3", now)])
    acks = [ack async for ack in stubs.usage.StreamUsage(iter([first, second]), metadata=admin)]
    assert [(a.accepted, a.duplicates, a.rejected) for a in acks] == [(2, 1, 2), (1, 1, 0)]
    recorded = await stubs.usage.RecordUsage(
        usage_pb2.RecordUsageRequest(events=[usage(ok, "k4", now)]), metadata=admin
    )
    assert recorded.accepted == 1

    # The billing run charges the three opening invoices: captured, declined, and a gateway timeout.
    await stubs.billing.AdvanceClock(billing_pb2.AdvanceClockRequest(to=ts(now + timedelta(minutes=1))), metadata=admin)
    # A scheduler tick on this instance (it holds the lease: it is the only one).
    assert await running.app.scheduler.tick()
    await running.app.projections.wait_until(await running.app.store.head_position())

    after = await scrape_server(running)

    assert delta(before, after, USAGE, result="accepted", reason="") == 4
    assert delta(before, after, USAGE, result="duplicate", reason="") == 2
    assert delta(before, after, USAGE, result="rejected", reason="unknown_meter") == 1
    assert delta(before, after, USAGE, result="rejected", reason="invalid_quantity") == 1

    # pm_ok's charge, and pm_timeout's resumed with the same key a minute after the timeout
    # (UNRESOLVED_RECHECK): the gateway answered it twice, so it counts once as each.
    assert delta(before, after, PAYMENTS, outcome="captured", reason="") == 2
    assert delta(before, after, PAYMENTS, outcome="declined", reason="card_declined") == 1
    assert delta(before, after, PAYMENTS, outcome="timeout", reason="") == 1

    assert delta(before, after, RPCS, **rpc("/billing.v1.OrganizationService/CreateOrganization")) == 3
    assert (
        delta(before, after, RPCS, **rpc("/billing.v1.OrganizationService/CreateOrganization", "INVALID_ARGUMENT")) == 1
    )
    assert delta(before, after, RPCS, **rpc("/billing.v1.SubscriptionService/GetSubscription", "NOT_FOUND")) == 1
    assert delta(before, after, RPCS, **rpc("/billing.v1.InvoiceService/ListInvoices", "UNAUTHENTICATED")) == 1
    assert delta(before, after, RPCS, **rpc("/billing.v1.EventLogService/ReadEvents", "INVALID_ARGUMENT")) == 1
    assert delta(before, after, RPCS, **rpc("/billing.v1.UsageService/StreamUsage")) == 1
    assert delta(before, after, RPCS, **rpc("/billing.v1.UsageService/RecordUsage")) == 1
    assert delta(before, after, RPCS, **rpc("/billing.v1.BillingService/AdvanceClock")) == 1
    stream_method = {"method": "/billing.v1.UsageService/StreamUsage"}
    assert delta(before, after, "billing_rpc_duration_seconds_count", **stream_method) == 1
    assert delta(before, after, "billing_rpc_duration_seconds_sum", **stream_method) > 0

    assert delta(before, after, "billing_scheduler_runs_total", outcome="completed") == 1
    assert delta(before, after, "billing_scheduler_runs_total", outcome="not_leader") == 0
    assert delta(before, after, "billing_scheduler_run_duration_seconds_count") == 1
    assert delta(before, after, "billing_scheduler_run_duration_seconds_sum") > 0

    # Every projection reports its lag; all of them have reached the head.
    lags = {
        dict(labels)["projection"]: v for (name, labels), v in after.items() if name == "billing_projection_lag_events"
    }
    assert lags == {projection.name: 0 for projection in running.app.projections.projections}


class JsonLines(logging.Handler):
    """Formats each record as it is emitted (the correlation id is read then) and keeps the JSON."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def log_lines() -> Iterator[list[dict[str, object]]]:
    root, handler = logging.getLogger(), JsonLines()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def call_lines(lines: list[dict[str, object]], method: str) -> list[dict[str, object]]:
    return [line for line in lines if line.get("logger") == "billing_grpc.rpc" and line.get("method") == method]


async def test_a_generated_correlation_id_is_returned_and_on_the_calls_log_line(
    running: Running, log_lines: list[dict[str, object]]
) -> None:
    stubs = Stubs.on(running.channel)
    call = stubs.subscriptions.GetSubscription(
        subscriptions_pb2.GetSubscriptionRequest(subscription_id="sub_missing"), metadata=running.admin
    )
    with pytest.raises(aio.AioRpcError) as raised:
        await call

    returned = dict(await call.initial_metadata())["x-correlation-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", returned)
    assert details_of(raised.value).metadata["correlation_id"] == returned
    [line] = call_lines(log_lines, "/billing.v1.SubscriptionService/GetSubscription")
    assert (line["correlation_id"], line["code"]) == (returned, "NOT_FOUND")


async def test_every_log_line_of_a_successful_call_carries_its_correlation_id(
    running: Running, log_lines: list[dict[str, object]]
) -> None:
    stubs = Stubs.on(running.channel)
    orgs = await customers(running, stubs, "pm_timeout")
    await running.app.projections.wait_until(await running.app.store.head_position())
    log_lines.clear()
    traced = (("x-correlation-id", "advance-42"), *running.admin)

    # The run meets a gateway timeout, which the billing handler logs as a warning mid-call.
    call = stubs.billing.AdvanceClock(
        billing_pb2.AdvanceClockRequest(to=ts(running.clock.now() + timedelta(minutes=1))), metadata=traced
    )
    await call
    stream = stubs.usage.StreamUsage(
        iter([usage_pb2.StreamUsageRequest(batch_id=1, events=[usage(orgs["pm_timeout"], "k1", running.clock.now())])]),
        metadata=(("x-correlation-id", "stream-7"), *running.admin),
    )
    assert [ack.accepted async for ack in stream] == [1]

    assert ("x-correlation-id", "advance-42") in tuple(await call.initial_metadata())
    [warning] = [line for line in log_lines if line["logger"] == "billing_grpc.application.billing"]
    assert (warning["message"], warning["correlation_id"]) == ("payment outcome unknown; will resume", "advance-42")
    [advance] = call_lines(log_lines, "/billing.v1.BillingService/AdvanceClock")
    assert (advance["correlation_id"], advance["code"]) == ("advance-42", "OK")
    [streamed] = call_lines(log_lines, "/billing.v1.UsageService/StreamUsage")
    assert (streamed["correlation_id"], streamed["code"]) == ("stream-7", "OK")
