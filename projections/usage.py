"""The usage read model: running totals per subscription period and meter, for every aggregation.

One document per (subscription, period, meter) keeps what each aggregation needs: the event
count, the exact sum, the maximum, the latest value (by usage timestamp, ties to the later event)
and the number of distinct values; the distinct values themselves are one small document each,
so counting them stays cheap however many there are. Numbers are canonical decimal strings.

A series marked `per_transaction` (its meter is priced per transaction, Lago's percentage rule)
also keeps its events one by one, for pricing in time order: one `usage_transactions` document
per series and batch, holding the batch's log position and the series' timestamp and quantity
columns as they were recorded. Other meters get nothing more, so their ingest cost is unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow, localcontext
from typing import Any

from billing_grpc.domain.money import format_decimal
from billing_grpc.domain.usage import UsageRecorded, from_micros, stamp
from billing_grpc.eventstore import RecordedEvent
from projections.model import Index, ReadModelReader, View

USAGE_TOTALS = "usage_totals"
USAGE_UNIQUE_VALUES = "usage_unique_values"
USAGE_TRANSACTIONS = "usage_transactions"
# Sums stay exact however large they grow: rounding would be an error, never a silent result.
_EXACT = Context(prec=200, traps=[InvalidOperation, Overflow, Inexact])


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
        # Pricing reads a (segment of a) period's transactions of one meter.
        USAGE_TRANSACTIONS: [Index((("subscription_id", 1), ("period_start", 1), ("meter_code", 1)))],
    }

    async def prefetch(self, events: Sequence[RecordedEvent], view: View) -> None:
        """Read every document a batch of events touches in two queries, not two per event."""
        series = [(key, s) for event in events for key, s in _keyed(event.payload["series"])]
        await view.prefetch(USAGE_TOTALS, [key for key, _ in series])
        await view.prefetch(
            USAGE_UNIQUE_VALUES, [f"{key}|{value}" for key, s in series for value in s.get("unique_values", ())]
        )

    async def apply(self, event: RecordedEvent, view: View) -> None:
        """Fold one batch of accepted usage events into the totals, a whole series at a time."""
        # The payload is read as stored (version 2, series of columns): validating it into the
        # domain class would copy every column, and it was validated when it was decided.
        organization_id: str = event.payload["organization_id"]
        keyed = _keyed(event.payload["series"])
        await self.prefetch([event], view)  # a no-op when the runner prefetched the whole batch
        for key, series in keyed:
            totals = await view.get(USAGE_TOTALS, key) or _empty(organization_id, series, event.position)
            _add(totals, series, event.position)
            for value in series.get("unique_values", ()):
                value_key = f"{key}|{value}"
                if await view.get(USAGE_UNIQUE_VALUES, value_key) is None:
                    view.put(USAGE_UNIQUE_VALUES, value_key, {"totals": key})
                    totals["unique_count"] += 1
            view.put(USAGE_TOTALS, key, totals)
            if series.get("per_transaction"):
                view.put(USAGE_TRANSACTIONS, f"{key}|{event.position}", _transactions(series, event.position))


def _keyed(series: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(totals_key(s["subscription_id"], s["period_start"], s["meter_code"]), s) for s in series]


def _transactions(series: Mapping[str, Any], position: int) -> dict[str, Any]:
    return {
        "subscription_id": series["subscription_id"],
        "meter_code": series["meter_code"],
        "period_start": series["period_start"],
        "position": position,
        "timestamps": series["timestamps"],
        "quantities": series["quantities"],
    }


async def transactions_in_time_order(
    read_models: ReadModelReader, subscription_id: str, period_start: str, meter_code: str
) -> tuple[Decimal, ...]:
    """A (segment of a) period's transaction amounts of one meter, in the order pricing takes them.

    By usage timestamp; events with the same timestamp by log position, and within one batch in
    the order they arrived: a late event with an earlier timestamp takes its place in time.
    """
    query = {"subscription_id": subscription_id, "period_start": period_start, "meter_code": meter_code}
    keyed = [
        (timestamp, doc["position"], index, quantity)
        for doc in await read_models.find(USAGE_TRANSACTIONS, query)
        for index, (timestamp, quantity) in enumerate(zip(doc["timestamps"], doc["quantities"], strict=True))
    ]
    keyed.sort()
    return tuple(Decimal(quantity) for *_, quantity in keyed)


def _empty(organization_id: str, series: Mapping[str, Any], position: int) -> dict[str, Any]:
    return {
        "organization_id": organization_id,
        "subscription_id": series["subscription_id"],
        "meter_code": series["meter_code"],
        "period_start": series["period_start"],
        "period_end": series["period_end"],
        "event_count": 0,
        "sum": "0",
        "max": None,
        "latest": None,
        "latest_timestamp": None,
        "unique_count": 0,
        "first_position": position,
        "last_position": position,
    }


def _add(totals: dict[str, Any], series: Mapping[str, Any], position: int) -> None:
    """Fold a series into its totals: Decimal work per distinct quantity, not per event."""
    quantities: list[str] = series["quantities"]
    timestamps: list[int] = series["timestamps"]
    # Canonical strings: equal quantities are equal strings, so counting them is exact.
    counts = Counter(quantities)
    values = {text: Decimal(text) for text in counts}
    with localcontext(_EXACT):
        added = sum((values[text] * n for text, n in counts.items()), Decimal(totals["sum"]))
    totals["event_count"] += len(quantities)
    totals["sum"] = format_decimal(added)
    top = max(counts, key=values.__getitem__)
    if totals["max"] is None or values[top] > Decimal(totals["max"]):
        totals["max"] = top
    # The latest by usage timestamp; a tie goes to the later event, in the series and across batches.
    newest = max(timestamps)
    at = len(timestamps) - 1 - timestamps[::-1].index(newest)
    newest_stamp = stamp(from_micros(newest))
    if totals["latest_timestamp"] is None or newest_stamp >= totals["latest_timestamp"]:
        totals["latest"], totals["latest_timestamp"] = quantities[at], newest_stamp
    totals["last_position"] = position
