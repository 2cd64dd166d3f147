"""The tour's usage: a month of events for one organization, sent through the client's UsageEmitter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TextIO

from billing.v1 import usage_pb2
from billing_grpc.cli.remote import CommandError, timestamp
from billing_grpc.client import BillingClient
from billing_grpc.demo import script
from billing_grpc.progress_bar import ProgressBar


@dataclass(frozen=True)
class Streamed:
    """What the server answered for a stream's batches."""

    events: int
    batches: int
    accepted: int
    duplicates: int


def month_events(
    key_prefix: str,
    organization_id: str,
    meters: Mapping[str, str],
    month: script.MonthOfUsage,
    start: datetime,
    now: datetime,
) -> list[usage_pb2.UsageEvent]:
    """API calls spread evenly from `start` to `now`, a storage reading each noon, in time order."""
    span = (now - start) // (month.api_call_events + 1)
    calls = [
        usage_pb2.UsageEvent(
            organization_id=organization_id,
            meter_code=meters["api_calls"],
            quantity=str(month.calls_per_event),
            timestamp=timestamp(start + span * (index + 1)),
            idempotency_key=f"{key_prefix}-calls-{index}",
        )
        for index in range(month.api_call_events)
    ]
    readings = [
        usage_pb2.UsageEvent(
            organization_id=organization_id,
            meter_code=meters["storage_gb"],
            quantity=str(gigabytes),
            timestamp=timestamp(start + timedelta(days=offset, hours=12)),
            idempotency_key=f"{key_prefix}-storage-{offset}",
        )
        for offset, gigabytes in enumerate(month.storage_readings())
    ]
    return sorted(calls + readings, key=lambda event: event.timestamp.seconds)


async def stream(client: BillingClient, events: Sequence[usage_pb2.UsageEvent], err: TextIO) -> Streamed:
    """Send `events` through the client library's UsageEmitter (batches on one StreamUsage stream,
    resent after a reconnect) and wait until all are acknowledged; any rejection stops the tour."""
    bar = ProgressBar(err, "streaming usage", len(events))
    async with client.usage_emitter(max_batch_size=script.BATCH_SIZE) as emitter:
        for sent, event in enumerate(events, start=1):
            await emitter.emit(
                event.meter_code,
                event.quantity,
                organization_id=event.organization_id,
                timestamp=event.timestamp.ToDatetime(tzinfo=UTC),
                idempotency_key=event.idempotency_key,
            )
            bar.update(sent, f"{sent}/{len(events)} events")
        await emitter.flush()
        stats = emitter.stats
    if stats.rejected:
        reasons = ", ".join(f"{n} {reason}" for reason, n in stats.rejection_reasons.items())
        raise CommandError(f"usage rejected: {reasons}")
    bar.finish()
    return Streamed(len(events), stats.batches_sent, stats.accepted, stats.duplicates)
