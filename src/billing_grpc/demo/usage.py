"""The tour's usage: a month of events for one organization, sent over one StreamUsage stream."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TextIO

import grpc

from billing.v1 import usage_pb2, usage_pb2_grpc
from billing_grpc.cli_remote import CommandError, Metadata, timestamp
from billing_grpc.demo import script
from billing_grpc.progress_bar import ProgressBar

ACCEPTED = usage_pb2.UsageResult.OUTCOME_ACCEPTED
DUPLICATE = usage_pb2.UsageResult.OUTCOME_DUPLICATE


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


async def stream(
    stub: usage_pb2_grpc.UsageServiceStub,
    metadata: Metadata,
    events: Sequence[usage_pb2.UsageEvent],
    err: TextIO,
    timeout: float,
) -> Streamed:
    """Send `events` in batches over one stream, each acknowledged before the next; any rejection stops it."""
    batches = [events[i : i + script.BATCH_SIZE] for i in range(0, len(events), script.BATCH_SIZE)]
    bar = ProgressBar(err, "streaming usage", len(events))
    accepted = duplicates = sent = 0
    call = stub.StreamUsage(metadata=metadata, timeout=timeout)
    for batch_id, batch in enumerate(batches, start=1):
        await call.write(usage_pb2.StreamUsageRequest(batch_id=batch_id, events=batch))
        ack = await call.read()
        if not isinstance(ack, usage_pb2.StreamUsageResponse):
            raise CommandError(f"the usage stream ended before batch {batch_id} was acknowledged")
        for result in ack.results:
            if result.outcome not in (ACCEPTED, DUPLICATE):
                raise CommandError(f"usage rejected: {result.reason}: {result.message}")
        accepted += ack.accepted
        duplicates += ack.duplicates
        sent += len(batch)
        bar.update(sent, f"batch {batch_id}/{len(batches)}")
    await call.done_writing()
    if (code := await call.code()) != grpc.StatusCode.OK:
        raise CommandError(f"the usage stream ended {code.name}: {await call.details()}")
    bar.finish()
    return Streamed(len(events), len(batches), accepted, duplicates)
