"""The per-transaction usage read model on every store: only flagged series, time order, rebuilds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from billing_grpc.domain.usage import UsageRecord, UsageRecorded, micros, stamp
from billing_grpc.eventstore import EventStore, NewEvent, StreamAppend
from projections.runner import ProjectionRunner
from projections.store import ReadModelStore
from projections.usage import USAGE_TOTALS, USAGE_TRANSACTIONS, UsageProjection, transactions_in_time_order

T0 = datetime(2026, 3, 1, tzinfo=UTC)
START, END = stamp(T0), stamp(datetime(2026, 4, 1, tzinfo=UTC))


def record(key: str, quantity: str, hours: int, meter: str = "payments") -> UsageRecord:
    at = T0 + timedelta(hours=hours)
    return UsageRecord("sub_1", meter, START, END, key, quantity, micros(at), {}, None, meter == "payments")


async def record_batch(store: EventStore, name: str, *records: UsageRecord) -> None:
    payload = UsageRecorded.of("org_1", records).payload()
    event = NewEvent(type=UsageRecorded.TYPE, payload=payload, occurred_at=T0, schema_version=2)
    await store.append(StreamAppend(f"usage-org_1-{name}", 0, (event,)))


async def test_transactions_are_kept_for_flagged_series_only_and_read_in_time_order(
    store: EventStore, read_models: ReadModelStore
) -> None:
    # Batch 1 arrives out of order and carries an unflagged meter; batch 2 ties with batch 1 at
    # hour 5 (the earlier log position goes first) and brings a late event dated before them all.
    await record_batch(store, "1", record("b", "20", 5), record("a", "10", 1), record("c", "7", 2, meter="calls"))
    await record_batch(store, "2", record("d", "30", 5), record("late", "40", 0))
    runner = ProjectionRunner(store, read_models, [UsageProjection()])
    await runner.catch_up()

    assert await transactions_in_time_order(read_models, "sub_1", START, "payments") == tuple(
        Decimal(q) for q in ("40", "10", "20", "30")
    )
    assert await transactions_in_time_order(read_models, "sub_1", START, "calls") == ()
    assert {doc["meter_code"] for doc in await read_models.find(USAGE_TRANSACTIONS, {})} == {"payments"}
    [totals] = await read_models.find(USAGE_TOTALS, {"meter_code": "payments"})
    assert (totals["event_count"], totals["sum"]) == (4, "100")

    live = sorted(await read_models.find(USAGE_TRANSACTIONS, {}), key=lambda doc: doc["_id"])
    await runner.rebuild(UsageProjection())
    assert sorted(await read_models.find(USAGE_TRANSACTIONS, {}), key=lambda doc: doc["_id"]) == live
