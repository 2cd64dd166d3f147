"""`billing-grpc clock`: the server's business time; moving a test clock; a billing run now."""

from __future__ import annotations

from datetime import datetime, timedelta

import click

from billing.v1 import billing_pb2
from billing_grpc.cli.client_command import CALL_TIMEOUT_SECONDS, client_command
from billing_grpc.cli.console import Console
from billing_grpc.cli.options import DURATION, MOMENT
from billing_grpc.cli.remote import moment_of, timestamp
from billing_grpc.client import BillingClient

# Moving a test clock by a year runs every billing cycle on the way: give it time.
ADVANCE_TIMEOUT_SECONDS = 600.0


def _report(report: billing_pb2.CycleReport) -> str:
    return (
        f"{report.periods_closed} periods closed, {report.invoices_finalized} invoices finalized, "
        f"{report.payments_attempted} payments attempted, {report.failures} failures"
    )


@click.group("clock", short_help="The server's clock: show, advance (test clock), run the billing cycle.")
def clock() -> None:
    """The server's business time: show it, move a test clock, run the billing cycle now."""


@clock.command(
    "show",
    short_help="Show the server's time.",
    help="Show the server's business time and whether it is a test clock (GetClock: no billing run).",
)
@client_command
async def show_clock(console: Console, client: BillingClient) -> None:
    """The server's clock."""
    answer = await client.billing.GetClock(billing_pb2.GetClockRequest(), timeout=CALL_TIMEOUT_SECONDS)
    if console.json:
        console.message(answer)
    else:
        kind = "test clock" if answer.test_clock else "wall clock"
        console.line(f"{moment_of(answer.now).isoformat()} ({kind})")


@clock.command(
    "advance",
    short_help="Move the test clock forward, billing on the way.",
    help="Move the server's test clock (BILLING_TEST_CLOCK) forward to --to or by --by, running the billing "
    "cycle at every moment something falls due on the way (platform admins). --by is not idempotent.",
)
@click.option("--to", "to", type=MOMENT, help="Move to this moment (ISO 8601).")
@click.option("--by", "by", type=DURATION, help="Move forward by this long: 90s, 15m, 12h, 30d, 2w.")
@client_command
async def advance_clock(console: Console, client: BillingClient, to: datetime | None, by: timedelta | None) -> None:
    """Move the test clock."""
    if (to is None) == (by is None):
        raise click.UsageError("give exactly one of --to and --by")
    request = billing_pb2.AdvanceClockRequest()
    if to is not None:
        request.to.CopyFrom(timestamp(to))
    else:
        assert by is not None
        request.by_seconds = int(by.total_seconds())
    moved = await client.billing.AdvanceClock(request, timeout=ADVANCE_TIMEOUT_SECONDS)
    if console.json:
        console.message(moved)
    else:
        console.line(f"now {moment_of(moved.now).isoformat()}: {_report(moved.report)}")


@clock.command(
    "run",
    short_help="Run the billing cycle now.",
    help="Run everything due now: close periods, finalize drafts, collect payments (RunBillingCycle, "
    "platform admins). Safe to repeat.",
)
@client_command
async def run_cycle(console: Console, client: BillingClient) -> None:
    """A billing run."""
    ran = await client.billing.RunBillingCycle(billing_pb2.RunBillingCycleRequest(), timeout=ADVANCE_TIMEOUT_SECONDS)
    if console.json:
        console.message(ran)
    else:
        console.line(f"ran at {moment_of(ran.now).isoformat()}: {_report(ran.report)}")
