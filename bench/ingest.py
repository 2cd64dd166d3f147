"""Ingest benchmark: concurrent StreamUsage emitters against a real server, per store.

Emitters run in their own processes with pre-serialized batches (so the client is not what is
measured), keep a bounded window of batches in flight per stream, and record each batch's ack
latency. About 1% of events repeat an earlier idempotency key. For the MongoDB-wire store the
same number of one-document-per-event rows is also inserted straight into that store with the
driver (unordered insert_many), as the yardstick the server's rate is compared with.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import queue
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from grpc import aio
from pymongo import AsyncMongoClient

from bench.common import write_results
from bench.harness import Catalogue, server, set_up
from billing.v1 import usage_pb2
from billing_grpc.embedded import EmbeddedMongo

BATCH = 1000
WINDOW = 2  # batches in flight per stream
PROCESSES = 2
STREAMS_PER_PROCESS = 2
DUPLICATE_SHARE = 0.01
ORGANIZATIONS = 20
# Enough for a sustained rate on each store; BENCH_SCALE=0.1 gives a quick look.
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
EVENTS = {"memory": int(1_000_000 * SCALE), "mongodb": int(120_000 * SCALE)}
METHOD = "/billing.v1.UsageService/StreamUsage"


def _batches(catalogue: Catalogue, worker: int, events: int, now: datetime) -> list[bytes]:
    """Pre-serialized StreamUsageRequest messages: distinct keys plus ~1% repeats."""
    rng = random.Random(worker)
    sent: list[tuple[str, str]] = []  # (organization, key): a repeat must name both to be one
    batches = []
    for batch_id in range(events // BATCH):
        request = usage_pb2.StreamUsageRequest(batch_id=batch_id)
        for i in range(BATCH):
            if sent and rng.random() < DUPLICATE_SHARE:
                organization_id, key = rng.choice(sent)
            else:
                organization_id = catalogue.organization_ids[i % len(catalogue.organization_ids)]
                key = f"w{worker}-b{batch_id}-e{i}"
                sent.append((organization_id, key))
            event = request.events.add(
                organization_id=organization_id, meter_code=catalogue.meter_code, quantity="1", idempotency_key=key
            )
            event.timestamp.FromDatetime(now)
        batches.append(request.SerializeToString())
    return batches


async def _stream(address: str, key: str, batches: list[bytes], latencies: list[float], counts: dict[str, int]) -> None:
    async with aio.insecure_channel(address, options=[("grpc.max_send_message_length", 64 << 20)]) as channel:
        call = channel.stream_stream(
            METHOD, request_serializer=lambda b: b, response_deserializer=usage_pb2.StreamUsageResponse.FromString
        )(metadata=(("authorization", f"Bearer {key}"),))
        window = asyncio.Semaphore(WINDOW)
        sent: dict[int, float] = {}

        async def send() -> None:
            for index, payload in enumerate(batches):
                await window.acquire()
                sent[index] = time.perf_counter()
                await call.write(payload)
            await call.done_writing()

        writer = asyncio.create_task(send())
        async for ack in call:
            latencies.append(time.perf_counter() - sent.pop(ack.batch_id))
            counts["accepted"] += ack.accepted
            counts["duplicates"] += ack.duplicates
            counts["rejected"] += ack.rejected
            window.release()
        await writer


def _emitter(address: str, catalogue: Catalogue, worker: int, events: int, start: Any, results: Any) -> None:
    now = datetime.now(UTC)
    per_stream = events // STREAMS_PER_PROCESS
    prepared = [_batches(catalogue, worker * 10 + s, per_stream, now) for s in range(STREAMS_PER_PROCESS)]
    latencies: list[float] = []
    counts = {"accepted": 0, "duplicates": 0, "rejected": 0}
    start.wait()

    async def run() -> None:
        await asyncio.gather(*(_stream(address, catalogue.emitter_key, b, latencies, counts) for b in prepared))

    began = time.perf_counter()
    asyncio.run(run())
    results.put({"seconds": time.perf_counter() - began, "latencies": latencies, "counts": counts})


def _run(address: str, catalogue: Catalogue, events: int, rss: Any) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    per_process = events // PROCESSES
    workers = [
        context.Process(target=_emitter, args=(address, catalogue, w, per_process, start, results))
        for w in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    time.sleep(2 + events / 200_000)  # let the emitters build their batches before the clock starts
    samples = [rss()]
    began = time.perf_counter()
    start.set()
    outcomes = []
    while len(outcomes) < PROCESSES:
        with contextlib.suppress(queue.Empty):  # no result yet: take a memory sample and keep waiting
            outcomes.append(results.get(timeout=0.5))
        samples.append(rss())
    elapsed = time.perf_counter() - began
    for worker in workers:
        worker.join()
    latencies = sorted(latency for outcome in outcomes for latency in outcome["latencies"])
    cuts = statistics.quantiles(latencies, n=100)
    totals = {k: sum(o["counts"][k] for o in outcomes) for k in ("accepted", "duplicates", "rejected")}
    return {
        "events": sum(totals.values()),
        **totals,
        "seconds": round(elapsed, 2),
        "events_per_s": round(sum(totals.values()) / elapsed),
        "p50_ms": round(cuts[49] * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
        "rss_start_mb": round(samples[0], 1),
        "rss_end_mb": round(samples[-1], 1),
    }


async def _raw_insert_rate(uri: str, events: int) -> float:
    """One document per event, unordered insert_many in batches, straight into the store."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    collection = client["bench_raw"]["usage"]
    now = datetime.now(UTC)
    docs = [
        {"_id": f"raw-{i}", "organization_id": "org_x", "meter_code": "api_calls", "quantity": "1", "timestamp": now}
        for i in range(events)
    ]
    began = time.perf_counter()
    for offset in range(0, events, BATCH):
        await collection.insert_many(docs[offset : offset + BATCH], ordered=False)
    rate = events / (time.perf_counter() - began)
    await client.drop_database("bench_raw")
    await client.close()
    return rate


def measure(store: str) -> dict[str, Any]:
    """One row of the results table."""
    events = EVENTS[store]
    with tempfile.TemporaryDirectory() as storage:
        embedded = EmbeddedMongo(storage).start() if store == "mongodb" else None
        try:
            raw = asyncio.run(_raw_insert_rate(embedded.uri, events)) if embedded else None
            with server(store, embedded.uri if embedded else None) as running:
                catalogue = asyncio.run(set_up(running.address, ORGANIZATIONS))
                row = _run(running.address, catalogue, events, running.rss_mb)
                row["peak_rss_mb"] = round(running.peak_rss_mb(), 1)
        finally:
            if embedded:
                embedded.stop()
    label = "memory" if store == "memory" else "mongodb-wire (secantusdb, on disk)"
    return {
        "store": label,
        "events_per_s": row["events_per_s"],
        "p50_ms": row["p50_ms"],
        "p99_ms": row["p99_ms"],
        "peak_rss_mb": row["peak_rss_mb"],
        "raw_insert_per_s": round(raw) if raw else None,
        "events": row["events"],
        "accepted": row["accepted"],
        "duplicates": row["duplicates"],
        "rejected": row["rejected"],
        "rss_start_mb": row["rss_start_mb"],
        "rss_end_mb": row["rss_end_mb"],
    }


def main() -> None:
    """Measure both stores and write bench/results/ingest.json."""
    rows = [measure("memory"), measure("mongodb")]
    write_results("ingest", rows)
