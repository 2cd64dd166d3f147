"""Entitlement checks: checks per second and p99 latency through the real gRPC server, per store.

Set-up (not timed): 300 organizations, each subscribed to a plan granting a boolean, a limit and
a metered feature (capped, on the meter the plan charges), with some usage. The server runs
in this process on a free port; the load comes from a separate process (so client and server
each get a core of the 2) with several tasks on one channel, each calling CheckEntitlement in
a loop over organizations and the three kinds of feature, authenticated as a product's service
account (a platform usage emitter). After a warm-up, calls are counted and timed for
`BENCH_SECONDS` (default 10). Two rows per store: `CheckEntitlement` (one check a call) and
`CheckEntitlements` (`BATCH` checks a call; p99 is then per call). `engine_checks_per_s` is the
check path without gRPC (authentication excluded), in the server process, for comparison.
The MongoDB-wire store keeps its data on disk, as `make run` does.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from grpc import aio
from pydantic import SecretStr

from bench.common import machine, write_results
from billing.v1 import entitlements_pb2, entitlements_pb2_grpc
from billing_grpc.api.server import create_server
from billing_grpc.application.catalogue import NewPlan
from billing_grpc.application.context import system_context
from billing_grpc.application.credentials import KeyHasher
from billing_grpc.application.organizations import NewOrganization
from billing_grpc.application.usage import Outcome
from billing_grpc.bootstrap import App, open_app, open_in_memory_app
from billing_grpc.domain.access import Grant, Role
from billing_grpc.domain.clock import TestClock
from billing_grpc.domain.feature import FeatureRequest
from billing_grpc.domain.pricing import Charge, PerUnit
from billing_grpc.domain.usage import UsageInput
from billing_grpc.embedded import EmbeddedMongo
from billing_grpc.settings import Settings

ORGANIZATIONS = int(os.environ.get("BENCH_ORGANIZATIONS", "300"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
WARM_UP_SECONDS = 2.0
CLIENT_TASKS = int(os.environ.get("BENCH_CLIENT_TASKS", "8"))
START = datetime(2026, 1, 1, tzinfo=UTC)
CONTEXT = system_context()
ADMIN_KEY = KeyHasher(b"b" * 32).mint().token
# (feature, requested amount): one of each kind.
CHECKS = [("sso", ""), ("seats", "5"), ("api-calls", "10")]
BATCH = 30


def _settings(database: str, uri: str | None) -> Settings:
    return Settings(
        mongo_uri=uri,
        database=database,
        key_hash_secret=SecretStr("bench-key-hash-secret-0123456789abcdef"),
        bootstrap_admin_key=SecretStr(ADMIN_KEY),
        scheduler=False,
        listen="127.0.0.1:0",
    )


async def _populate(app: App, clock: TestClock) -> tuple[list[str], str]:
    """The catalogue, subscribed organizations with usage, and the service account's key."""
    await app.catalogue.create_meter(CONTEXT, "api_calls", "API calls", "sum", "")
    await app.catalogue.create_feature(CONTEXT, "sso", "SSO", "boolean", "")
    await app.catalogue.create_feature(CONTEXT, "seats", "Seats", "limit", "")
    await app.catalogue.create_feature(CONTEXT, "api-calls", "API calls", "metered", "api_calls")
    features = [
        FeatureRequest("sso", enabled=True),
        FeatureRequest("seats", limit=10),
        FeatureRequest("api-calls", cap="1000000"),
    ]
    plan_id, _ = await app.catalogue.create_plan(
        CONTEXT,
        NewPlan("pro", "Pro", "USD", "month", 1, 2900, 0, [Charge("api_calls", PerUnit(Decimal("0.1")))], features),
    )
    gate = asyncio.Semaphore(16)

    async def customer(number: int) -> str:
        async with gate:
            organization_id, _ = await app.organizations.create(
                CONTEXT, NewOrganization(f"Customer {number}", "USD", payment_method="pm_ok")
            )
            await app.subscriptions.start(CONTEXT, organization_id, plan_id, None, None)
            return organization_id

    organizations = list(await asyncio.gather(*(customer(n) for n in range(ORGANIZATIONS))))
    await app.projections.wait_until(await app.store.head_position(), timeout=300)
    clock.advance(timedelta(days=1))
    usage = [UsageInput(org, "api_calls", "7", clock.now(), f"u-{i}", {}) for i, org in enumerate(organizations)]
    results = await app.usage.ingest(CONTEXT, usage)
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}, "set-up usage was not accepted"
    user_id, _ = await app.identity.create_user(
        CONTEXT, "product@bench.local", "Product service", None, [Grant(Role.USAGE_EMITTER)]
    )
    issued = await app.identity.issue_api_key(CONTEXT, user_id, "bench", None)
    await app.projections.wait_until(await app.store.head_position(), timeout=300)
    return organizations, issued.token


def _load(address: str, token: str, organizations: list[str], batch: int, results: Any) -> None:
    """The client process: warm up, then run CLIENT_TASKS loops and report counts and latencies."""
    results.put(asyncio.run(_clients(address, token, organizations, batch)))


async def _clients(address: str, token: str, organizations: list[str], batch: int) -> dict[str, Any]:
    metadata = (("authorization", f"Bearer {token}"),)
    requests = [
        entitlements_pb2.CheckEntitlementRequest(organization_id=org, feature_code=code, requested=amount)
        for org in organizations
        for code, amount in CHECKS
    ]
    batches = [
        entitlements_pb2.CheckEntitlementsRequest(checks=requests[first : first + batch])
        for first in range(0, len(requests) - batch + 1, batch)
    ]
    async with aio.insecure_channel(address) as channel:
        stub = entitlements_pb2_grpc.EntitlementServiceStub(channel)
        latencies: list[float] = []
        checks = refused = 0
        stop_at = time.perf_counter() + WARM_UP_SECONDS + SECONDS
        measure_from = time.perf_counter() + WARM_UP_SECONDS

        async def loop(offset: int) -> None:
            nonlocal refused, checks
            index = offset
            while (now := time.perf_counter()) < stop_at:
                index += CLIENT_TASKS
                if batch == 1:
                    answers = [await stub.CheckEntitlement(requests[index % len(requests)], metadata=metadata)]
                else:
                    many = await stub.CheckEntitlements(batches[index % len(batches)], metadata=metadata)
                    answers = list(many.results)
                if now >= measure_from:
                    latencies.append(time.perf_counter() - now)
                    checks += len(answers)
                    refused += sum(not answer.allowed for answer in answers)

        await asyncio.gather(*(loop(i) for i in range(CLIENT_TASKS)))
    latencies.sort()
    return {
        "checks": checks,
        "refused": refused,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


async def _engine_rate(app: App, organizations: list[str]) -> float:
    """Checks per second of the check path itself (cache warm), without gRPC or authentication."""
    for organization_id in organizations:  # the first check of an organization reads the store
        await app.entitlements.check(CONTEXT, organization_id, "api-calls", Decimal(10))
    started, done = time.perf_counter(), 0
    while time.perf_counter() - started < 2:
        for organization_id in organizations:
            await app.entitlements.check(CONTEXT, organization_id, "api-calls", Decimal(10))
        done += len(organizations)
    return done / (time.perf_counter() - started)


async def _measure(app: App, store: str) -> list[dict[str, Any]]:
    clock = app.clock
    assert isinstance(clock, TestClock)
    organizations, token = await _populate(app, clock)
    engine = await _engine_rate(app, organizations)
    server = create_server(app)
    await server.start()
    rows = []
    try:
        for rpc, batch in (("CheckEntitlement", 1), ("CheckEntitlements", BATCH)):
            context = multiprocessing.get_context("spawn")
            results = context.Queue()
            address = f"127.0.0.1:{server.port}"
            client = context.Process(target=_load, args=(address, token, organizations, batch, results), daemon=True)
            client.start()
            outcome: dict[str, Any] = await asyncio.to_thread(results.get)
            await asyncio.to_thread(client.join)
            assert outcome["refused"] == 0, "every check in the benchmark should be allowed"
            rows.append(
                {
                    "store": store,
                    "rpc": rpc,
                    "checks_per_call": batch,
                    "checks_per_s": round(outcome["checks"] / SECONDS),
                    "p99_ms": round(outcome["p99_ms"], 2),
                    "p50_ms": round(outcome["p50_ms"], 2),
                    "engine_checks_per_s": round(engine),
                    "organizations": ORGANIZATIONS,
                    "client_tasks": CLIENT_TASKS,
                    "seconds": SECONDS,
                    "machine": machine(),
                }
            )
    finally:
        await server.stop(grace=0)
    return rows


async def main() -> None:
    rows = []
    async with open_in_memory_app(_settings("bench", None), clock=TestClock(START)) as app:
        rows += await _measure(app, "memory")
    with tempfile.TemporaryDirectory() as data, EmbeddedMongo(Path(data) / "mongo") as mongo:
        async with open_app(_settings("bench_entitlements", mongo.uri), clock=TestClock(START)) as app:
            rows += await _measure(app, "mongodb-wire (secantusdb, on disk)")
    write_results("entitlements", rows)
