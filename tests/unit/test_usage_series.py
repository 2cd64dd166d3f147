"""The usage fact stores its events as series of columns; the projection folds whole series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from billing_grpc.domain.usage import UsageRecord, UsageRecorded, micros, series_from_records, stamp
from billing_grpc.eventstore import EventMetadata, RecordedEvent
from projections.model import View
from projections.store import InMemoryReadModels
from projections.usage import USAGE_TOTALS, UsageProjection, totals_key

T0 = datetime(2026, 3, 1, tzinfo=UTC)
START, END = stamp(T0), stamp(datetime(2026, 4, 1, tzinfo=UTC))


def record(key: str, quantity: str, at: datetime, meter: str = "calls", **properties: str) -> UsageRecord:
    unique = properties.get("user") if meter == "users" else None
    return UsageRecord("sub_1", meter, START, END, key, quantity, micros(at), properties, unique)


def event(payload: dict[str, Any], position: int) -> RecordedEvent:
    return RecordedEvent(
        uuid4(), f"usage-{position}", 1, position, UsageRecorded.TYPE, 2, payload, EventMetadata(), T0, T0, "org_1"
    )


async def fold(*payloads: dict[str, Any]) -> dict[str, dict[str, Any]]:
    read_models = InMemoryReadModels()
    for position, payload in enumerate(payloads, 1):
        view = View(read_models)
        await UsageProjection().apply(event(payload, position), view)
        await read_models.commit("usage", view.writes(), position - 1, position)
    return {doc["_id"]: doc for doc in await read_models.find(USAGE_TOTALS, {})}


def test_records_are_grouped_into_series_in_arrival_order_with_aligned_columns() -> None:
    records = [
        record("a", "1", T0),
        record("b", "2", T0, "users", user="ada"),
        record("c", "3", T0 + timedelta(seconds=1), region="eu"),
        record("d", "4", T0, "users", user="bob"),
    ]

    payload = UsageRecorded.of("org_1", records).payload()

    calls, users = payload["series"]
    assert (calls["meter_code"], calls["idempotency_keys"], calls["quantities"]) == ("calls", ["a", "c"], ["1", "3"])
    assert calls["timestamps"] == [micros(T0), micros(T0) + 1_000_000]
    assert calls["properties"] == [[1, {"region": "eu"}]] and "unique_values" not in calls
    assert (users["idempotency_keys"], users["unique_values"]) == (["b", "d"], ["ada", "bob"])


def test_version_1_payloads_upcast_to_the_same_series() -> None:
    records = [record("a", "1.5", T0), record("b", "2", T0 + timedelta(microseconds=7), region="eu")]
    v1 = {
        "organization_id": "org_1",
        "records": [
            {
                "idempotency_key": r.idempotency_key,
                "meter_code": r.meter_code,
                "quantity": r.quantity,
                "timestamp": stamp(T0 + timedelta(microseconds=r.timestamp - micros(T0))),
                "properties": dict(r.properties),
                "subscription_id": r.subscription_id,
                "period_start": r.period_start,
                "period_end": r.period_end,
            }
            for r in records
        ],
    }

    assert series_from_records(v1) == UsageRecorded.of("org_1", records).payload()


async def test_folding_a_batch_equals_folding_its_events_one_by_one() -> None:
    big = "999999999999999999.999999999999"  # 30 significant digits: beyond the default context
    later = T0 + timedelta(hours=1)
    records = [
        record("a", big, T0),
        record("b", "-2.5", later),
        record("c", big, T0),
        record("d", "7", later),  # ties with b on time: the later event is the latest
        record("e", "1", T0 + timedelta(minutes=5), "users", user="ada"),
        record("f", "1", T0, "users", user="ada"),
        record("g", "1", T0, "users", user="bob"),
    ]

    together = await fold(UsageRecorded.of("org_1", records).payload())
    apart = await fold(*(UsageRecorded.of("org_1", [r]).payload() for r in records))

    strip = {"first_position", "last_position"}
    assert {k: {f: v for f, v in d.items() if f not in strip} for k, d in together.items()} == {
        k: {f: v for f, v in d.items() if f not in strip} for k, d in apart.items()
    }
    calls = together[totals_key("sub_1", START, "calls")]
    assert calls["sum"] == "2000000000000000004.499999999998"
    assert (calls["event_count"], calls["max"], calls["latest"]) == (4, big, "7")
    assert calls["latest_timestamp"] == stamp(later)
    users = together[totals_key("sub_1", START, "users")]
    assert (users["unique_count"], users["event_count"], users["latest"]) == (2, 3, "1")
