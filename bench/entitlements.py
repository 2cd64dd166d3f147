"""CheckEntitlement benchmark: checks per second and p99 latency through the real gRPC server, per store.

Set-up (not timed): 300 organizations, each subscribed to a plan granting a boolean, a limit and
a metered feature (capped, on the meter the plan charges), with some usage. The server runs
in this process on a free port; the load comes from a separate process (so client and server
each get a core of the 2) with several tasks on one channel, each calling CheckEntitlement in
a loop over organizations and the three kinds of feature, authenticated as a product's service
account (a platform usage emitter). After a warm-up, calls are counted and timed for
`BENCH_SECONDS` (default 10). The MongoDB-wire store keeps its data on disk, as `make run` does.
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
CLIENT_TASKS = int(os.environ.get("BENCH_CLIENT_TASKS", "32"))
START = datetime(2026, 1, 1, tzinfo=UTC)
CONTEXT = system_context()
ADMIN_KEY = KeyHasher(b"b" * 32).mint().token
# (feature, requested amount): one of each kind.
CHECKS = [("sso", ""), ("seats", "5"), ("api-calls", "10")]


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


def _load(address: str, token: str, organizations: list[str], results: Any) -> None:
    """The client process: warm up, then run CHECK_TASKS loops and report counts and latencies."""
    results.put(asyncio.run(_clients(address, token, organizations)))


async def _clients(address: str, token: str, organizations: list[str]) -> dict[str, Any]:
    metadata = (("authorization", f"Bearer {token}"),)
    requests = [
        entitlements_pb2.CheckEntitlementRequest(organization_id=org, feature_code=code, requested=amount)
        for org in organizations
        for code, amount in CHECKS
    ]
    async with aio.insecure_channel(address) as channel:
        stub = entitlements_pb2_grpc.EntitlementServiceStub(channel)
        latencies: list[float] = []
        refused = 0
        measuring = False
        stop_at = time.perf_counter() + WARM_UP_SECONDS + SECONDS
        measure_from = time.perf_counter() + WARM_UP_SECONDS

        async def loop(offset: int) -> None:
            nonlocal refused, measuring
            index = offset
            while (now := time.perf_counter()) < stop_at:
                request = requests[index % len(requests)]
                index += CLIENT_TASKS
                answer = await stub.CheckEntitlement(request, metadata=metadata)
                if now >= measure_from:
                    latencies.append(time.perf_counter() - now)
                    refused += not answer.allowed

        await asyncio.gather(*(loop(i) for i in range(CLIENT_TASKS)))
    latencies.sort()
    return {
        "checks": len(latencies),
        "refused": refused,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


async def _measure(app: App, store: str) -> dict[str, Any]:
    clock = app.clock
    assert isinstance(clock, TestClock)
    organizations, token = await _populate(app, clock)
    server = create_server(app)
    await server.start()
    try:
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        client = context.Process(
            target=_load, args=(f"127.0.0.1:{server.port}", token, organizations, results), daemon=True
        )
        client.start()
        outcome: dict[str, Any] = await asyncio.to_thread(results.get)
        await asyncio.to_thread(client.join)
    finally:
        await server.stop(grace=0)
    assert outcome["refused"] == 0, "every check in the benchmark should be allowed"
    return {
        "store": store,
        "checks_per_s": round(outcome["checks"] / SECONDS),
        "p99_ms": round(outcome["p99_ms"], 2),
        "p50_ms": round(outcome["p50_ms"], 2),
        "organizations": ORGANIZATIONS,
        "client_tasks": CLIENT_TASKS,
        "seconds": SECONDS,
        "machine": machine(),
    }


async def main() -> None:
    rows = []
    async with open_in_memory_app(_settings("bench", None), clock=TestClock(START)) as app:
        rows.append(await _measure(app, "memory"))
    with tempfile.TemporaryDirectory() as data, EmbeddedMongo(Path(data) / "mongo") as mongo:
        async with open_app(_settings("bench_entitlements", mongo.uri), clock=TestClock(START)) as app:
            rows.append(await _measure(app, "mongodb-wire (secantusdb, on disk)"))
    write_results("entitlements", rows)
