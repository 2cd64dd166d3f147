"""The usage read model: running totals per subscription period and meter, for every aggregation.

One document per (subscription, period, meter) keeps what each aggregation needs: the event
count, the exact sum, the maximum, the latest value (by usage timestamp, ties to the later event)
and the number of distinct values; the distinct values themselves are one small document each,
so counting them stays cheap however many there are. Numbers are canonical decimal strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from billing_grpc.domain.events import decode_event
from billing_grpc.domain.money import format_decimal
from billing_grpc.domain.usage import UsageRecorded
from billing_grpc.eventstore import RecordedEvent
from projections.model import Index, View

USAGE_TOTALS = "usage_totals"
USAGE_UNIQUE_VALUES = "usage_unique_values"


def totals_key(subscription_id: str, period_start: str, meter_code: str) -> str:
    """The document id of one subscription period's totals for one meter."""
    return f"{subscription_id}|{period_start}|{meter_code}"


class UsageProjection:
    """Aggregates every accepted usage event into its period's totals."""

    name = "usage"
    handles = frozenset({UsageRecorded.TYPE})
    collections: Mapping[str, Sequence[Index]] = {
        USAGE_TOTALS: [Index((("subscription_id", 1), ("period_start", 1)))],
        USAGE_UNIQUE_VALUES: [],
    }

    async def apply(self, event: RecordedEvent, view: View) -> None:
        """Fold one batch of accepted usage events into the totals."""
        recorded = decode_event(event.type, event.payload)
        assert isinstance(recorded, UsageRecorded)
        keys = [totals_key(r["subscription_id"], r["period_start"], r["meter_code"]) for r in recorded.records]
        await view.prefetch(USAGE_TOTALS, keys)
        await view.prefetch(
            USAGE_UNIQUE_VALUES,
            [f"{k}|{r['unique_value']}" for k, r in zip(keys, recorded.records, strict=True) if "unique_value" in r],
        )
        for record in recorded.records:
            key = totals_key(record["subscription_id"], record["period_start"], record["meter_code"])
            totals = await view.get(USAGE_TOTALS, key) or _empty(recorded.organization_id, record, event.position)
            _add(totals, record, event.position)
            if "unique_value" in record:
                value_key = f"{key}|{record['unique_value']}"
                if await view.get(USAGE_UNIQUE_VALUES, value_key) is None:
                    view.put(USAGE_UNIQUE_VALUES, value_key, {"totals": key})
                    totals["unique_count"] += 1
            view.put(USAGE_TOTALS, key, totals)


def _empty(organization_id: str, record: Mapping[str, Any], position: int) -> dict[str, Any]:
    return {
        "organization_id": organization_id,
        "subscription_id": record["subscription_id"],
        "meter_code": record["meter_code"],
        "period_start": record["period_start"],
        "period_end": record["period_end"],
        "event_count": 0,
        "sum": "0",
        "max": None,
        "latest": None,
        "latest_timestamp": None,
        "unique_count": 0,
        "first_position": position,
        "last_position": position,
    }


def _add(totals: dict[str, Any], record: Mapping[str, Any], position: int) -> None:
    quantity = Decimal(record["quantity"])
    totals["event_count"] += 1
    totals["sum"] = format_decimal(Decimal(totals["sum"]) + quantity)
    if totals["max"] is None or quantity > Decimal(totals["max"]):
        totals["max"] = record["quantity"]
    # ISO timestamps in UTC compare correctly as text; a tie goes to the later event.
    if totals["latest_timestamp"] is None or record["timestamp"] >= totals["latest_timestamp"]:
        totals["latest"], totals["latest_timestamp"] = record["quantity"], record["timestamp"]
    totals["last_position"] = position
