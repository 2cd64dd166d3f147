"""Append throughput of the event store under concurrent appenders (group commit at work).

Each appender appends batches of events to its own streams, with optimistic concurrency,
the way command handlers do. Reported: events/s and per-append latency p50/p99.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient

from bench.common import write_results
from billing_grpc.embedded import EmbeddedMongo
from billing_grpc.eventstore import EventStore, NewEvent, StreamAppend
from billing_grpc.eventstore.memory import InMemoryEventStore
from billing_grpc.eventstore.mongo import MongoEventStore

APPENDERS = 16
APPENDS_PER_APPENDER = 150
EVENTS_PER_APPEND = 10
NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def run(store: EventStore) -> dict[str, Any]:
    latencies: list[float] = []

    async def appender(number: int) -> None:
        for i in range(APPENDS_PER_APPENDER):
            events = tuple(
                NewEvent(type="usage.recorded", payload={"quantity": "1", "meter": "api_calls"}, occurred_at=NOW)
                for _ in range(EVENTS_PER_APPEND)
            )
            started = time.perf_counter()
            await store.append(StreamAppend(f"bench-{number}-{i % 10}", None, events))
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(appender(n) for n in range(APPENDERS)))
    seconds = time.perf_counter() - started
    total = APPENDERS * APPENDS_PER_APPENDER * EVENTS_PER_APPEND
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "events": total,
        "seconds": round(seconds, 2),
        "events_per_s": round(total / seconds),
        "append_p50_ms": round(cuts[49] * 1000, 2),
        "append_p99_ms": round(cuts[98] * 1000, 2),
    }


async def main() -> None:
    rows = [{"store": "memory", **await run(InMemoryEventStore())}]
    with EmbeddedMongo(":memory:") as server:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(server.uri, tz_aware=True)
        store = MongoEventStore(client, "bench")
        await store.start()
        rows.append({"store": "mongodb-wire (secantusdb, in memory)", **await run(store)})
        await store.close()
        await client.close()
    write_results("eventstore", rows)
