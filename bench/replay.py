"""Replay benchmark: rebuild every projection from a log of 1,000,000 events (mostly usage), per store.

Set-up (not timed): 100 organizations, each subscribed to a metered plan through the real
handlers (so every projection has its kind of events), then usage events appended straight
into the log in batches of 5,000 with `import_events` (positions, hashes and the chain are
computed here exactly as an append would; this skips the writer's per-batch decisions, which
is what makes a million events quick to set up). Each `usage.recorded` event holds ONE usage
record: an "event" here is one stored log event, and one usage event, the most per-event work
a replay can meet (ingestion normally stores a whole batch of usage in one event, as columns).

Timed: `ProjectionRunner.rebuild` of every projection, one after the other, into empty read
models (scratch collections on the MongoDB-wire store), from position 0 to the head. events_per_s
is log events over seconds. BENCH_SCALE scales the log (0.1: 100,000 events); set
BENCH_REPLAY_STORES=memory or =mongodb to run one store only.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

from pydantic import SecretStr
from pymongo import AsyncMongoClient

from bench.common import RESULTS, write_results
from billing_grpc.application.catalogue import NewPlan
from billing_grpc.application.context import system_context
from billing_grpc.application.organizations import NewOrganization
from billing_grpc.bootstrap import all_projections, open_app, open_in_memory_app, upcasters
from billing_grpc.domain.clock import TestClock
from billing_grpc.domain.pricing import Charge, PerUnit
from billing_grpc.domain.usage import UsageRecord, UsageRecorded, micros, stamp
from billing_grpc.embedded import EmbeddedMongo
from billing_grpc.eventstore import EventMetadata, EventStore, RecordedEvent
from billing_grpc.eventstore.chain import GENESIS_HASH, chained
from billing_grpc.eventstore.mongo import MongoEventStore
from billing_grpc.settings import Settings
from projections.mongo_store import MongoReadModels
from projections.runner import ProjectionRunner
from projections.store import InMemoryReadModels, ReadModelStore

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
EVENTS = max(1_000, int(1_000_000 * SCALE))
ORGANIZATIONS = 100
IMPORT_BATCH = 5_000
START = datetime(2026, 1, 1, tzinfo=UTC)
CONTEXT = system_context()


def _settings(database: str, uri: str | None) -> Settings:
    return Settings(
        mongo_uri=uri,
        database=database,
        key_hash_secret=SecretStr("bench-key-hash-secret-0123456789abcdef"),
        scheduler=False,
    )


async def _customers(app: Any) -> list[tuple[str, str]]:
    """(organization id, subscription id) of every customer, created through the handlers."""
    await app.catalogue.create_meter(CONTEXT, "api_calls", "API calls", "sum", "")
    charge = Charge("api_calls", PerUnit(Decimal("0.1")))
    plan_id, _ = await app.catalogue.create_plan(CONTEXT, NewPlan("pro", "Pro", "USD", "month", 1, 2900, 0, [charge]))
    customers = []
    for number in range(ORGANIZATIONS):
        organization_id, _ = await app.organizations.create(
            CONTEXT, NewOrganization(f"Customer {number}", "USD", payment_method="pm_ok")
        )
        subscription_id, _ = await app.subscriptions.start(CONTEXT, organization_id, plan_id, None, None)
        customers.append((organization_id, subscription_id))
    return customers


async def _append_usage(store: EventStore, customers: list[tuple[str, str]], count: int) -> None:
    """`count` usage.recorded events (one record each) straight into the log, chained."""
    head = await store.head_position()
    [last] = await store.read_stored(head - 1, 1)
    previous = last.hash or GENESIS_HASH
    period_start, period_end = stamp(START), stamp(START + timedelta(days=31))
    moment = START + timedelta(days=3)
    written = 0
    while written < count:
        size = min(IMPORT_BATCH, count - written)
        batch = []
        for i in range(size):
            n = written + i
            organization_id, subscription_id = customers[n % len(customers)]
            record = UsageRecord(
                subscription_id,
                "api_calls",
                period_start,
                period_end,
                f"k{n}",
                str(1 + n % 9),
                micros(moment),
                {},
                None,
            )
            batch.append(
                RecordedEvent(
                    event_id=uuid4(),
                    stream_id=f"usage-{uuid4().hex}",
                    stream_version=1,
                    position=head + n + 1,
                    type=UsageRecorded.TYPE,
                    schema_version=UsageRecorded.VERSION,
                    payload=UsageRecorded.of(organization_id, [record]).payload(),
                    metadata=EventMetadata(actor="bench"),
                    occurred_at=moment,
                    recorded_at=moment,
                    organization_id=organization_id,
                )
            )
        events = chained(previous, batch)
        await store.import_events(events)
        previous = events[-1].hash
        written += size


async def _rebuild_all(store: EventStore, read_models: ReadModelStore) -> dict[str, Any]:
    runner = ProjectionRunner(store, read_models, all_projections())
    events = await store.head_position()
    started = time.perf_counter()
    for projection in runner.projections:
        await runner.rebuild(projection)
    seconds = time.perf_counter() - started
    return {"events": events, "seconds": round(seconds, 2), "events_per_s": round(events / seconds)}


async def _on_memory() -> dict[str, Any]:
    clock = TestClock(START)
    async with open_in_memory_app(_settings("bench", None), clock=clock) as app:
        customers = await _customers(app)
        store = app.store
    await _append_usage(store, customers, EVENTS - await store.head_position())
    return {"store": "memory", **await _rebuild_all(store, InMemoryReadModels())}


async def _on_mongo(uri: str) -> dict[str, Any]:
    database = "bench_replay"
    async with open_app(_settings(database, uri), clock=TestClock(START)) as app:
        customers = await _customers(app)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    store = MongoEventStore(client, database, upcasters=upcasters())
    await store.start()
    try:
        await _append_usage(store, customers, EVENTS - await store.head_position())
        scratch = MongoReadModels(client, database, prefix="replay_")
        return {"store": "mongodb-wire (secantusdb, on disk)", **await _rebuild_all(store, scratch)}
    finally:
        await store.close()
        await client.close()


async def main() -> None:
    stores = os.environ.get("BENCH_REPLAY_STORES", "memory,mongodb").split(",")
    rows = []
    if "memory" in stores:
        rows.append(await _on_memory())
    if "mongodb" in stores:
        with tempfile.TemporaryDirectory() as data, EmbeddedMongo(Path(data) / "mongo") as server:
            rows.append(await _on_mongo(server.uri))
    # Keep the other store's row from an earlier run (the stores are often run at different scales).
    earlier = RESULTS / "replay.json"
    if earlier.exists():
        names = {row["store"] for row in rows}
        rows = [row for row in json.loads(earlier.read_text()) if row["store"] not in names] + rows
    write_results("replay", rows)
