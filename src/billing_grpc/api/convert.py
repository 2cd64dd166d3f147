"""Conversions between protobuf messages and domain values that several servicers share."""

from __future__ import annotations

import json
from datetime import datetime

from google.protobuf import timestamp_pb2

from billing.v1 import event_log_pb2
from billing_grpc.eventstore import RecordedEvent


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    """A protobuf Timestamp for an aware datetime."""
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(moment)
    return message


def recorded_event(event: RecordedEvent) -> event_log_pb2.RecordedEvent:
    """The wire form of a recorded event."""
    return event_log_pb2.RecordedEvent(
        event_id=str(event.event_id),
        stream_id=event.stream_id,
        stream_version=event.stream_version,
        position=event.position,
        type=event.type,
        schema_version=event.schema_version,
        payload_json=json.dumps(event.payload, separators=(",", ":"), sort_keys=True),
        metadata=event_log_pb2.EventMetadata(
            correlation_id=event.metadata.correlation_id,
            causation_id=event.metadata.causation_id,
            actor=event.metadata.actor,
        ),
        occurred_at=timestamp(event.occurred_at),
        recorded_at=timestamp(event.recorded_at),
    )
