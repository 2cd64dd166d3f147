"""`billing-grpc events list`: the event log through the server (ReadEvents), optionally followed."""

from __future__ import annotations

from datetime import datetime

import click

from billing.v1 import event_log_pb2
from billing_grpc.cli.client_command import client_command
from billing_grpc.cli.console import Console
from billing_grpc.cli.options import MOMENT
from billing_grpc.cli.remote import timestamp
from billing_grpc.cli.tables import when
from billing_grpc.client import BillingClient


@click.group("events", short_help="The event log: list (and follow).")
def events() -> None:
    """The event log, read through the server (auditors and platform admins)."""


@events.command(
    "list",
    short_help="Print events in log order.",
    help="Print recorded events in global order, one per line as they arrive (--json: one RecordedEvent "
    "object per line). With --follow, wait for new ones until interrupted. `export-events` reads the store "
    "directly instead.",
)
@click.option("--after", "after_position", type=click.IntRange(min=0), default=0, help="Start after this position.")
@click.option("--stream", "stream_id", default="", help="Only this stream's events.")
@click.option("--type", "types", multiple=True, help="Only this event type (repeatable).")
@click.option("--org", "organization_id", default="", help="Only this organization's events.")
@click.option("--from", "occurred_from", type=MOMENT, help="occurred_at at or after (ISO 8601).")
@click.option("--to", "occurred_to", type=MOMENT, help="occurred_at before (ISO 8601).")
@click.option("--limit", type=click.IntRange(min=0), default=0, help="At most this many (0: no limit).")
@click.option("--follow", is_flag=True, help="Keep waiting for new events.")
@client_command
async def list_events(
    console: Console,
    client: BillingClient,
    after_position: int,
    stream_id: str,
    types: tuple[str, ...],
    organization_id: str,
    occurred_from: datetime | None,
    occurred_to: datetime | None,
    limit: int,
    follow: bool,
) -> None:
    """Stream events."""
    request = event_log_pb2.ReadEventsRequest(
        after_position=after_position,
        stream_id=stream_id,
        event_types=list(types),
        organization_id=organization_id,
        limit=limit,
        follow=follow,
    )
    if occurred_from is not None:
        request.occurred_from.CopyFrom(timestamp(occurred_from))
    if occurred_to is not None:
        request.occurred_to.CopyFrom(timestamp(occurred_to))
    async for answer in client.events.ReadEvents(request):
        event = answer.event
        if console.json:
            console.message(event)
        else:
            console.line(f"{event.position:>8}  {when(event, 'occurred_at')}  {event.type:<32} {event.stream_id}")
