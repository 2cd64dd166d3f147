"""Auditors through the real server: invoice explanations, filtered reads, verification, upcasting.

The e2e server runs on a test clock starting 2026-01-15 09:00 UTC (see conftest).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import grpc
import pytest
from google.protobuf.json_format import MessageToDict
from grpc import aio
from pymongo import AsyncMongoClient

from billing.v1 import (
    audit_pb2,
    catalogue_pb2,
    event_log_pb2,
    event_log_pb2_grpc,
    subscriptions_pb2,
    usage_pb2,
)
from billing_grpc.domain.events import decode_event
from billing_grpc.domain.invoicing import MeterUsage, usage_lines
from billing_grpc.domain.meter import Aggregation
from billing_grpc.domain.periods import Period
from billing_grpc.domain.plan import Plan, evolve
from billing_grpc.domain.usage import stamp
from billing_grpc.eventstore import NewEvent, StreamAppend
from tests.e2e.conftest import Running, auth
from tests.e2e.test_billing import Customer, at, subscribe, ts
from tests.e2e.world import build_world
from tests.rpc_errors import details_of

Metadata = tuple[tuple[str, str], ...]


async def read_events(running: Running, md: Metadata, **fields: Any) -> list[event_log_pb2.RecordedEvent]:
    stub = event_log_pb2_grpc.EventLogServiceStub(running.channel)
    call = stub.ReadEvents(event_log_pb2.ReadEventsRequest(**fields), metadata=md)
    return [response.event async for response in call]


async def use(customer: Customer, key: str, quantity: str, when: datetime) -> None:
    assert (await customer.use(key, quantity, when)).outcome == usage_pb2.UsageResult.OUTCOME_ACCEPTED


async def billed_after_a_plan_change(running: Running) -> tuple[Customer, str]:
    """Usage on `pro`, a change to `team` with prorations, usage on `team`; return the invoice billing them."""
    customer = await subscribe(running, "pm_ok")
    team = await customer.stubs.catalogue.CreatePlan(
        catalogue_pb2.CreatePlanRequest(
            code="team",
            name="Team",
            currency="USD",
            interval_unit="month",
            base_fee_minor=4900,
            charges=[catalogue_pb2.Charge(meter_code="api_calls", per_unit=catalogue_pb2.PerUnit(unit_price="0.25"))],
        ),
        metadata=running.admin,
    )
    await customer.advance_to(at(1, 20))
    await use(customer, "a", "700", at(1, 20))
    await use(customer, "b", "500", at(1, 20, 8))
    await customer.advance_to(at(1, 25))
    await customer.stubs.subscriptions.ChangePlan(
        subscriptions_pb2.ChangePlanRequest(subscription_id=customer.subscription_id, plan_id=team.plan.plan_id),
        metadata=running.admin,
    )
    await customer.advance_to(at(1, 28))
    await use(customer, "c", "300", at(1, 28))
    await customer.advance_to(at(2, 15, 10, 30))
    invoice = (await customer.invoices())[-1]
    assert invoice.status == "paid" and invoice.usage_period_start == ts(at(1, 15))
    return customer, invoice.invoice_id


async def test_an_auditor_recomputes_every_line_of_an_invoice_from_its_explanation_and_from_the_log(
    running: Running,
) -> None:
    customer, invoice_id = await billed_after_a_plan_change(running)
    explained = await customer.stubs.audit.ExplainInvoice(
        audit_pb2.ExplainInvoiceRequest(invoice_id=invoice_id), metadata=running.admin
    )
    record = json.loads(explained.calculation_json)

    # From the explanation alone: each segment's usage priced by its plan's recorded charges.
    plans: dict[str, Plan] = {}
    for fact in explained.plans:
        plan = evolve(None, decode_event("plan.created", json.loads(fact.plan_created_json)))
        assert plan is not None
        plans[fact.plan_id] = plan
    assert {p.code for p in plans.values()} == {"pro", "team"}
    recomputed = []
    for usage in explained.usage:
        metered = MeterUsage(Aggregation(usage.aggregation), usage.event_count, Decimal(usage.quantity), None, None, 0)
        start = usage.period_start.ToDatetime(tzinfo=UTC)
        recomputed += usage_lines(plans[usage.plan_id], {usage.meter_code: metered}, Period(start, at(2, 15)))
    recorded_usage = [line for line in record["lines"] if line["kind"] == "usage"]
    assert [line.amount_minor for line in recomputed] == [line["amount_minor"] for line in recorded_usage]
    assert [line.amount_minor for line in recomputed] == [520, 75]  # 1,200 graduated on pro, 300 x 0.25 on team
    # The proration lines and the credit complete the total.
    assert [line.kind for line in explained.proration_lines] == ["proration", "proration"]
    assert (
        sum(line["amount_minor"] for line in record["lines"]) == record["total_minor"] == explained.invoice.total_minor
    )
    assert explained.invoice.amount_paid_minor == record["total_minor"] - explained.credit_applied_minor

    # From the log: the usage events in each position range add up to the recorded quantities.
    for usage in explained.usage:
        events = await read_events(
            running,
            running.admin,
            after_position=usage.first_position - 1,
            limit=usage.last_position - usage.first_position + 1,
            event_types=["usage.recorded"],
            organization_id=customer.organization_id,
        )
        quantities = [
            Decimal(q)
            for event in events
            for series in json.loads(event.payload_json)["series"]
            if series["subscription_id"] == customer.subscription_id
            and series["period_start"] == stamp(usage.period_start.ToDatetime(tzinfo=UTC))
            for q in series["quantities"]
        ]
        assert (sum(quantities), len(quantities)) == (Decimal(usage.quantity), usage.event_count)
        assert events[0].position == usage.first_position and events[-1].position <= usage.last_position


async def test_explain_invoice_keeps_tenants_apart_and_refuses_bad_input(running: Running) -> None:
    world = await build_world(running)
    audit = world.stubs.audit
    head = await running.app.store.head_position()
    with pytest.raises(aio.AioRpcError) as other:
        await audit.ExplainInvoice(
            audit_pb2.ExplainInvoiceRequest(invoice_id=world.other.invoice_id), metadata=auth(world.keys["auditor"])
        )
    assert other.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(aio.AioRpcError) as empty:
        await audit.ExplainInvoice(audit_pb2.ExplainInvoiceRequest(), metadata=running.admin)
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(details_of(empty.value).fields) == {"invoice_id"}
    with pytest.raises(aio.AioRpcError) as draft:  # the metered subscription's first invoice is a draft
        await audit.ExplainInvoice(
            audit_pb2.ExplainInvoiceRequest(invoice_id=world.own.invoice_id), metadata=running.admin
        )
    assert (draft.value.code(), details_of(draft.value).reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "invoice_not_calculated",
    )
    assert await running.app.store.head_position() == head  # nothing written


async def test_read_events_filters_by_type_stream_organization_time_and_position(running: Running) -> None:
    world = await build_world(running)
    own, other = world.own.organization_id, world.other.organization_id
    everything = await read_events(running, running.admin)
    organization_stream = f"organization-{own}"

    by_type = await read_events(running, running.admin, event_types=["subscription.started"])
    by_stream = await read_events(running, running.admin, stream_id=organization_stream)
    by_org_type = await read_events(
        running, running.admin, organization_id=own, event_types=["subscription.started", "invoice.issued"]
    )
    middle = everything[len(everything) // 2].position
    after = await read_events(running, running.admin, after_position=middle)

    assert [e.position for e in by_type] == [e.position for e in everything if e.type == "subscription.started"]
    assert {e.stream_id for e in by_stream} == {organization_stream} and by_stream
    assert [e.position for e in by_org_type] == [
        e.position
        for e in everything
        if e.organization_id == own and e.type in {"subscription.started", "invoice.issued"}
    ]
    assert [e.position for e in after] == [e.position for e in everything if e.position > middle]

    # occurred_at, half-open [from, to): the first event's moment is the earliest of all.
    start = everything[0].occurred_at.ToDatetime(tzinfo=UTC)
    assert await read_events(running, running.admin, occurred_to=ts(start)) == []
    windowed = await read_events(running, running.admin, occurred_from=ts(start), occurred_to=ts(at(12, 31)))
    assert [e.position for e in windowed] == [e.position for e in everything]
    assert await read_events(running, running.admin, occurred_from=ts(at(12, 31))) == []

    # Tenancy: an organization's auditor sees its own events only, and nothing of another's.
    auditor = auth(world.keys["auditor"])
    seen = await read_events(running, auditor, event_types=["subscription.started"])
    assert seen and {e.organization_id for e in seen} == {own}
    with pytest.raises(aio.AioRpcError) as denied:
        await read_events(running, auditor, organization_id=other)
    assert denied.value.code() == grpc.StatusCode.NOT_FOUND


async def test_read_events_refuses_a_time_range_that_ends_before_it_starts(running: Running) -> None:
    head = await running.app.store.head_position()
    with pytest.raises(aio.AioRpcError) as raised:
        await read_events(running, running.admin, occurred_from=ts(at(3, 1)), occurred_to=ts(at(2, 1)))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(details_of(raised.value).fields) == {"occurred_to"}
    assert await running.app.store.head_position() == head


async def test_an_auditor_verifies_the_hash_chain_from_read_events_alone(running: Running) -> None:
    await build_world(running)
    previous = "0" * 64
    events = await read_events(running, running.admin)
    assert events
    for event in events:
        wire = MessageToDict(event, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
        envelope = {
            "position": int(wire["position"]),
            "event_id": wire["event_id"],
            "stream_id": wire["stream_id"],
            "stream_version": int(wire["stream_version"]),
            "type": wire["type"],
            "schema_version": wire["schema_version"],
            "payload": json.loads(wire["payload_json"]),
            "metadata": wire["metadata"],
            "occurred_at": _millis(event.occurred_at.ToDatetime(tzinfo=UTC)),
            "recorded_at": _millis(event.recorded_at.ToDatetime(tzinfo=UTC)),
            "organization_id": wire["organization_id"],
        }
        canonical = json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert event.hash == hashlib.sha256(bytes.fromhex(previous) + canonical).hexdigest(), event.position
        previous = event.hash


def _millis(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


async def test_verify_projections_finds_a_corrupted_read_model_and_an_edited_event(running: Running) -> None:
    customer, invoice_id = await billed_after_a_plan_change(running)
    audit = customer.stubs.audit
    clean = await audit.VerifyProjections(audit_pb2.VerifyProjectionsRequest(), metadata=running.admin)
    assert clean.ok and clean.chain.intact and clean.chain.checked == clean.chain.head
    assert {p.projection for p in clean.projections} >= {"invoices", "usage", "balances"}
    assert all(p.difference_count == 0 for p in clean.projections)

    database = AsyncMongoClient[dict[str, Any]](running.app.settings.mongo_uri or "")[running.app.settings.database]
    await database["rm_invoices"].update_one({"_id": invoice_id}, {"$set": {"total_minor": 1}})
    corrupted = await audit.VerifyProjections(audit_pb2.VerifyProjectionsRequest(), metadata=running.admin)
    assert not corrupted.ok and corrupted.chain.intact
    [invoices] = [p for p in corrupted.projections if p.difference_count]
    assert invoices.projection == "invoices"
    assert [(d.collection, d.key, d.kind) for d in invoices.differences] == [("invoices", invoice_id, "differs")]

    plan_created = await database["events"].find_one({"type": "plan.created"})
    assert plan_created is not None
    await database["events"].update_one({"_id": plan_created["_id"]}, {"$set": {"payload.base_fee_minor": 1}})
    edited = await audit.VerifyProjections(audit_pb2.VerifyProjectionsRequest(), metadata=running.admin)
    assert not edited.chain.intact and edited.chain.broken_at == plan_created["_id"]
    assert edited.chain.checked == plan_created["_id"] - 1
    # The scratch collections are gone afterwards.
    assert not [name for name in await database.list_collection_names() if name.startswith("verify_")]


async def test_a_usage_event_stored_at_version_1_reads_as_version_2_everywhere(running: Running) -> None:
    customer = await subscribe(running, "pm_ok")
    subscription = await customer.stubs.subscriptions.GetSubscription(
        subscriptions_pb2.GetSubscriptionRequest(subscription_id=customer.subscription_id), metadata=running.admin
    )
    period_start = subscription.subscription.current_period_start.ToDatetime(tzinfo=UTC)
    period_end = subscription.subscription.current_period_end.ToDatetime(tzinfo=UTC)
    # Version 1 as older servers wrote it: one object per usage event, appended raw.
    v1 = {
        "organization_id": customer.organization_id,
        "records": [
            {
                "subscription_id": customer.subscription_id,
                "meter_code": "api_calls",
                "period_start": stamp(period_start),
                "period_end": stamp(period_end),
                "idempotency_key": key,
                "quantity": quantity,
                "timestamp": stamp(at(1, 16)),
                "properties": {},
            }
            for key, quantity in (("old-1", "40"), ("old-2", "2.5"))
        ],
    }
    [stored] = await running.app.store.append(
        StreamAppend(
            f"usage-legacy-{customer.organization_id}",
            0,
            (
                NewEvent(
                    type="usage.recorded",
                    payload=v1,
                    occurred_at=at(1, 16),
                    schema_version=1,
                    organization_id=customer.organization_id,
                ),
            ),
        )
    )
    assert await running.app.projections.wait_until(stored.position)

    # The read model (through the projection).
    summary = await customer.stubs.usage.GetUsageSummary(
        usage_pb2.GetUsageSummaryRequest(subscription_id=customer.subscription_id), metadata=running.admin
    )
    assert [(m.meter_code, m.quantity, m.event_count) for m in summary.meters] == [("api_calls", "42.5", 2)]
    # ReadEvents (upcast on read), while the log keeps version 1 as written.
    [read] = await read_events(running, running.admin, after_position=stored.position - 1, limit=1)
    assert read.schema_version == 2
    assert json.loads(read.payload_json)["series"][0]["quantities"] == ["40", "2.5"]
    [raw] = await running.app.store.read_stored(stored.position - 1, 1)
    assert (raw.schema_version, raw.payload) == (1, v1)
    # Replay: the rebuilt usage read model (from the version 1 event) equals the live one.
    verified = await customer.stubs.audit.VerifyProjections(
        audit_pb2.VerifyProjectionsRequest(), metadata=running.admin
    )
    assert verified.ok
    [usage] = [p for p in verified.projections if p.projection == "usage"]
    assert usage.position >= stored.position and usage.documents > 0
