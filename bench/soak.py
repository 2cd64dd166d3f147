"""Soak benchmark: ten minutes of usage ingestion with billing runs, against a real server process.

A `billing-grpc serve` process runs on its own on-disk MongoDB-wire store with a test clock. For
`SOAK_SECONDS` (600 by default; BENCH_SCALE scales it):
- two StreamUsage streams send batches without pause, each event for one of the tenants, stamped
  with the test clock's time, about 1% repeating an earlier idempotency key;
- the clock moves one day forward every second, so month ends pass about every 30 seconds and each
  one is a billing run over every subscription: period close, draft, finalization after the grace
  period, payment (a tenth of the tenants decline a first attempt and are paid by the dunning retry).

Every ten seconds it samples the server's and the store's resident memory, events per second and the
clock. Afterwards it settles the last drafts and checks, per tenant, that the usage on its finalized
invoices plus its open period equals the events the server accepted: nothing lost, nothing counted
twice. Errors of any kind are counted, not hidden. Results go to bench/results/soak.json.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from grpc import aio

from bench.common import machine, write_json
from bench.harness import ADMIN_KEY, Catalogue, server, set_up, tree_rss_mb
from billing.v1 import (
    billing_pb2,
    billing_pb2_grpc,
    organizations_pb2,
    organizations_pb2_grpc,
    usage_pb2,
    usage_pb2_grpc,
)
from billing_grpc.embedded import EmbeddedMongo

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
SOAK_SECONDS = 600 * SCALE
ORGANIZATIONS = 50
DECLINING_FIRST = ORGANIZATIONS // 10  # pm_fail_then_ok: the first attempt declined, the retry paid
STREAMS = 2
BATCH = 500
DUPLICATE_SHARE = 0.01
SAMPLE_EVERY = 10.0
DAY = timedelta(days=1)
START = datetime(2026, 1, 1, tzinfo=UTC)
# Longer than a clock step plus a batch's round trip, so an event stamped just before a month end is
# still in that period's grace window when it arrives; it is not what is being measured.
GRACE = timedelta(days=3)
ADMIN = (("authorization", f"Bearer {ADMIN_KEY}"),)


@dataclass
class Soak:
    """What the soak's tasks share: the clock as last seen, per-tenant counts, errors, samples."""

    now: datetime = START
    stopping: bool = False
    accepted: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    cycle: Counter[str] = field(default_factory=Counter)
    advances: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)


async def _stream(channel: aio.Channel, catalogue: Catalogue, soak: Soak, worker: int) -> None:
    """Send batches until told to stop; count accepted events per tenant from the per-event results."""
    rng = random.Random(worker)
    stub = usage_pb2_grpc.UsageServiceStub(channel)
    emitter = (("authorization", f"Bearer {catalogue.emitter_key}"),)
    sent: list[tuple[str, str]] = []
    batch_id = 0
    while not soak.stopping:
        request = usage_pb2.StreamUsageRequest(batch_id=batch_id)
        for i in range(BATCH):
            if sent and rng.random() < DUPLICATE_SHARE:
                organization_id, key = rng.choice(sent)
            else:
                organization_id = rng.choice(catalogue.organization_ids)
                key = f"w{worker}-b{batch_id}-e{i}"
                sent.append((organization_id, key))
            event = request.events.add(
                organization_id=organization_id, meter_code=catalogue.meter_code, quantity="1", idempotency_key=key
            )
            event.timestamp.FromDatetime(soak.now)
        try:
            # One batch per stream call keeps every batch's fate known: an error means not recorded
            # here, and the per-event results say exactly which events counted.
            async for ack in stub.StreamUsage(iter([request]), metadata=emitter, timeout=60):
                for sent_event, result in zip(request.events, ack.results, strict=True):
                    outcome = usage_pb2.UsageResult.Outcome.Name(result.outcome)
                    soak.outcomes[f"{outcome}:{result.reason}" if result.reason else outcome] += 1
                    if result.outcome == usage_pb2.UsageResult.OUTCOME_ACCEPTED:
                        soak.accepted[sent_event.organization_id] += 1
        except grpc.RpcError as error:
            soak.errors[f"StreamUsage:{error.code().name}:{error.details()}"] += 1
        batch_id += 1


async def _advance_daily(channel: aio.Channel, soak: Soak) -> None:
    """Move the test clock one day a second (or as fast as the billing runs allow)."""
    stub = billing_pb2_grpc.BillingServiceStub(channel)
    while not soak.stopping:
        began = time.monotonic()
        try:
            answer = await stub.AdvanceClock(billing_pb2.AdvanceClockRequest(by_seconds=86_400), metadata=ADMIN)
        except grpc.RpcError as error:
            soak.errors[f"AdvanceClock:{error.code().name}:{error.details()}"] += 1
        else:
            soak.now = answer.now.ToDatetime(tzinfo=UTC)
            soak.advances += 1
            report = answer.report
            soak.cycle.update(
                periods_closed=report.periods_closed,
                invoices_finalized=report.invoices_finalized,
                payments_attempted=report.payments_attempted,
                failures=report.failures,
            )
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - began)))


async def _sample(soak: Soak, server_pid: int, store_pid: int, began: float) -> None:
    previous = (began, 0)
    while not soak.stopping:
        await asyncio.sleep(SAMPLE_EVERY)
        now, events = time.monotonic(), sum(soak.outcomes.values())
        soak.samples.append(
            {
                "second": round(now - began),
                "server_rss_mb": round(tree_rss_mb(server_pid), 1),
                "store_rss_mb": round(tree_rss_mb(store_pid), 1),
                "events": events,
                "events_per_s": round((events - previous[1]) / (now - previous[0])),
                "clock": soak.now.date().isoformat(),
            }
        )
        previous = (now, events)
        print("soak", soak.samples[-1], flush=True)


async def _settle(channel: aio.Channel, soak: Soak) -> None:
    """Finalize every ended period's draft without closing another period."""
    month_start = soak.now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    target = max(soak.now, month_start + GRACE + timedelta(seconds=1))
    if target > soak.now:
        answer = await billing_pb2_grpc.BillingServiceStub(channel).AdvanceClock(
            billing_pb2.AdvanceClockRequest(to=_stamp(target)), metadata=ADMIN
        )
        soak.now = answer.now.ToDatetime(tzinfo=UTC)


def _stamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


async def _counted_usage(channel: aio.Channel, catalogue: Catalogue) -> tuple[dict[str, int], Counter[str]]:
    """Per tenant: usage on finalized invoices plus the open period's summary. Also invoices by status."""
    invoices = billing_pb2_grpc.InvoiceServiceStub(channel)
    usage = usage_pb2_grpc.UsageServiceStub(channel)
    counted: dict[str, int] = {}
    statuses: Counter[str] = Counter()
    for organization_id, subscription_id in zip(catalogue.organization_ids, catalogue.subscription_ids, strict=True):
        total, token = Decimal(0), ""
        while True:
            page = await invoices.ListInvoices(
                billing_pb2.ListInvoicesRequest(organization_id=organization_id, page_size=100, page_token=token),
                metadata=ADMIN,
            )
            for invoice in page.invoices:
                statuses[invoice.status] += 1
                if invoice.status != "draft":
                    total += sum(Decimal(line.quantity) for line in invoice.lines if line.meter_code)
            token = page.next_page_token
            if not token:
                break
        summary = await usage.GetUsageSummary(
            usage_pb2.GetUsageSummaryRequest(subscription_id=subscription_id), metadata=ADMIN
        )
        total += sum(Decimal(meter.quantity) for meter in summary.meters)
        counted[organization_id] = int(total)
    return counted, statuses


async def _soak(address: str, server_pid: int, store_pid: int) -> dict[str, Any]:
    catalogue = await set_up(address, ORGANIZATIONS)
    soak = Soak()
    async with aio.insecure_channel(address) as channel:
        organizations = organizations_pb2_grpc.OrganizationServiceStub(channel)
        for index, organization_id in enumerate(catalogue.organization_ids):
            method = "pm_fail_then_ok" if index < DECLINING_FIRST else "pm_ok"
            await organizations.UpdateOrganization(
                organizations_pb2.UpdateOrganizationRequest(organization_id=organization_id, payment_method=method),
                metadata=ADMIN,
            )
        began = time.monotonic()
        tasks = [asyncio.create_task(_stream(channel, catalogue, soak, w)) for w in range(STREAMS)]
        tasks += [
            asyncio.create_task(_advance_daily(channel, soak)),
            asyncio.create_task(_sample(soak, server_pid, store_pid, began)),
        ]
        await asyncio.sleep(SOAK_SECONDS)
        soak.stopping = True
        await asyncio.gather(*tasks)
        seconds = time.monotonic() - began
        await _settle(channel, soak)
        await asyncio.sleep(2)  # the usage read model follows the log within its poll interval
        counted, statuses = await _counted_usage(channel, catalogue)
        payments = await _payment_outcomes(channel, catalogue)
    mismatched = {org: (soak.accepted[org], counted[org]) for org in counted if counted[org] != soak.accepted[org]}
    events = sum(soak.outcomes.values())
    return {
        "machine": machine(),
        "seconds": round(seconds),
        "organizations": ORGANIZATIONS,
        "events": events,
        "events_per_s": round(events / seconds),
        "outcomes": dict(soak.outcomes),
        "clock_days_advanced": soak.advances,
        "clock_end": soak.now.isoformat(),
        "billing": dict(soak.cycle),
        "invoices_by_status": dict(statuses),
        "payments_by_status": dict(payments),
        "errors": dict(soak.errors),
        "usage_mismatches": mismatched,
        "server_rss_mb": _spread(soak.samples, "server_rss_mb"),
        "store_rss_mb": _spread(soak.samples, "store_rss_mb"),
        "samples": soak.samples,
    }


async def _payment_outcomes(channel: aio.Channel, catalogue: Catalogue) -> Counter[str]:
    stub = billing_pb2_grpc.InvoiceServiceStub(channel)
    outcomes: Counter[str] = Counter()
    for organization_id in catalogue.organization_ids:
        token = ""
        while True:
            page = await stub.ListPayments(
                billing_pb2.ListPaymentsRequest(organization_id=organization_id, page_size=100, page_token=token),
                metadata=ADMIN,
            )
            outcomes.update(payment.status for payment in page.payments)
            token = page.next_page_token
            if not token:
                break
    return outcomes


def _spread(samples: list[dict[str, Any]], key: str) -> dict[str, float]:
    """First, last and peak of a sampled figure: growth shows as last well above first."""
    values = [sample[key] for sample in samples] or [0.0]
    return {"first": values[0], "last": values[-1], "peak": max(values)}


def main() -> None:
    """Run the soak and write bench/results/soak.json."""
    with tempfile.TemporaryDirectory() as data, EmbeddedMongo(Path(data) / "mongo") as store:
        settings = {
            "BILLING_TEST_CLOCK": START.isoformat(),
            "BILLING_GRACE_PERIOD_SECONDS": str(int(GRACE.total_seconds())),
            "BILLING_SCHEDULER": "false",
        }
        with server("mongodb", store.uri, settings) as running:
            assert store.pid is not None
            result = asyncio.run(_soak(running.address, running.process.pid, store.pid))
    path = write_json("soak", result)
    summary = {k: v for k, v in result.items() if k != "samples"}
    for key, value in summary.items():
        print(f"{key}: {value}")
    print(f"-> {path}")
    if result["usage_mismatches"] or result["errors"]:
        raise SystemExit("soak: usage mismatches or errors, see above")
