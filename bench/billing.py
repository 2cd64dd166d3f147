"""Billing-run benchmark: close the periods of 1,000 and 10,000 subscriptions with usage, per store.

Each subscription belongs to its own organization (pm_ok), is on a plan with a base fee and a
graduated usage charge, and has usage in its first period. The timed part is one billing run at
the period's end with no grace period, so every subscription goes all the way: its period is
closed (a draft invoice), sealed, priced, finalized with a number, and charged through the
simulated gateway. Set-up (organizations, subscriptions, usage, the opening invoices) is not
timed. The MongoDB-wire store keeps its data on disk, as `make run` does.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bench.common import write_results
from billing_grpc.application.catalogue import NewPlan
from billing_grpc.application.context import system_context
from billing_grpc.application.organizations import NewOrganization
from billing_grpc.application.usage import Outcome
from billing_grpc.bootstrap import App, open_app, open_in_memory_app
from billing_grpc.domain.clock import TestClock
from billing_grpc.domain.pricing import Charge, Graduated, Tier
from billing_grpc.domain.usage import UsageInput
from billing_grpc.embedded import EmbeddedMongo
from billing_grpc.settings import Settings

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
SIZES = [max(10, int(1_000 * SCALE)), max(100, int(10_000 * SCALE))]
START = datetime(2026, 1, 1, tzinfo=UTC)
PERIOD_END = datetime(2026, 2, 1, tzinfo=UTC)
SETUP_CONCURRENCY = 32
USAGE_BATCH = 1000
CONTEXT = system_context()


def _settings(database: str, uri: str | None) -> Settings:
    return Settings(
        mongo_uri=uri,
        database=database,
        key_hash_secret=SecretStr("bench-key-hash-secret-0123456789abcdef"),
        grace_period_seconds=0,
        scheduler=False,
    )


async def _populate(app: App, clock: TestClock, subscriptions: int) -> None:
    """Organizations with one subscription each, usage in the first period, opening invoices paid."""
    await app.catalogue.create_meter(CONTEXT, "api_calls", "API calls", "sum", "")
    tiers = (Tier(Decimal(1000), Decimal("0.5")), Tier(None, Decimal("0.1")))
    plan_id, _ = await app.catalogue.create_plan(
        CONTEXT, NewPlan("pro", "Pro", "USD", "month", 1, 2900, 0, [Charge("api_calls", Graduated(tiers))])
    )
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def customer(number: int) -> str:
        async with gate:
            organization_id, _ = await app.organizations.create(
                CONTEXT, NewOrganization(f"Customer {number}", "USD", payment_method="pm_ok")
            )
            await app.subscriptions.start(CONTEXT, organization_id, plan_id, None, None)
            return organization_id

    organizations = await asyncio.gather(*(customer(n) for n in range(subscriptions)))
    await app.projections.wait_until(await app.store.head_position(), timeout=300)
    clock.advance(timedelta(days=10))
    events = [
        UsageInput(org, "api_calls", str(1200 + i % 7), clock.now(), f"u-{i}", {})
        for i, org in enumerate(organizations)
    ]
    for first in range(0, len(events), USAGE_BATCH):
        results = await app.usage.ingest(CONTEXT, events[first : first + USAGE_BATCH])
        assert {r.outcome for r in results} == {Outcome.ACCEPTED}, "set-up usage was not accepted"
    await app.projections.wait_until(await app.store.head_position(), timeout=300)
    report = await app.cycle.run()  # the opening invoices: finalized and paid before the clock starts
    assert report.invoices_finalized == subscriptions, report


async def _timed_run(app: App, clock: TestClock, subscriptions: int) -> dict[str, Any]:
    clock.advance_to(PERIOD_END)
    started = time.perf_counter()
    report = await app.cycle.run()
    seconds = time.perf_counter() - started
    expected = (subscriptions, subscriptions, subscriptions, 0)
    actual = (report.periods_closed, report.invoices_finalized, report.payments_attempted, report.failures)
    assert actual == expected, f"incomplete run: {report}"
    return {
        "subscriptions": subscriptions,
        "seconds": round(seconds, 2),
        "subscriptions_per_s": round(subscriptions / seconds, 1),
    }


async def _on_memory(subscriptions: int) -> dict[str, Any]:
    clock = TestClock(START)
    async with open_in_memory_app(_settings("bench", None), clock=clock) as app:
        await _populate(app, clock, subscriptions)
        return {"store": "memory", **await _timed_run(app, clock, subscriptions)}


async def _on_mongo(uri: str, subscriptions: int) -> dict[str, Any]:
    clock = TestClock(START)
    async with open_app(_settings(f"bench_billing_{subscriptions}", uri), clock=clock) as app:
        await _populate(app, clock, subscriptions)
        return {"store": "mongodb-wire (secantusdb, on disk)", **await _timed_run(app, clock, subscriptions)}


async def main() -> None:
    rows = [await _on_memory(size) for size in SIZES]
    with tempfile.TemporaryDirectory() as data, EmbeddedMongo(Path(data) / "mongo") as server:
        rows += [await _on_mongo(server.uri, size) for size in SIZES]
    for store in {row["store"] for row in rows}:
        small, large = (row for row in rows if row["store"] == store)
        ratio = large["seconds"] / small["seconds"] if small["seconds"] else float("inf")
        print(f"{store}: {large['subscriptions']} take {ratio:.1f}x as long as {small['subscriptions']}")
    write_results("billing", rows)
