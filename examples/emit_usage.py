"""Example: send usage to billing-grpc with the Python client, and report what became of it.

    python examples/emit_usage.py 127.0.0.1:50051 "$EMITTER_KEY" org_… api_calls 1000 [--at TIME]

Events are stamped with the server's business time, read once with `BillingService.GetClock`
(any role may call it; it changes nothing): a test clock's time stands still for the run, a real
clock's runs on from it. `--at 2026-01-20T12:00:00Z` stamps every event with that time instead.
Keys are `example-<n>`, so running it twice counts the events once (the second run: duplicates).

Prints each rejected event (the first ten) on stderr and a summary line on stdout. Exit status: 0 when every
event was accepted or a duplicate, 1 when any was rejected (not counted), 2 for bad arguments,
3 when it stopped on an error it cannot retry (a bad key, a missing role), printed with how many
events were left unacknowledged.

It is type-checked with the project (`make typecheck` runs mypy --strict on examples/).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import grpc
from grpc import aio

from billing.v1 import billing_pb2, usage_pb2
from billing_grpc.client import BillingClient, EmitterStats, RejectedEvent, UsageEmitterError

EXIT_REJECTED = 1
EXIT_STOPPED = 3
PRINTED_REJECTIONS = 10
# Reasons that mean the events' time does not suit the server's clock.
TIME_REASONS = frozenset({"timestamp_in_future", "period_closed", "no_active_subscription"})

Clock = Callable[[], datetime]


class Rejections:
    """Rejected events were not counted: a real emitter would log or park them. Prints the first few."""

    def __init__(self) -> None:
        self.seen = 0

    def __call__(self, rejected: RejectedEvent) -> None:
        self.seen += 1
        if self.seen <= PRINTED_REJECTIONS:
            event = rejected.event
            print(f"rejected {event.idempotency_key}: {rejected.reason} ({rejected.message})", file=sys.stderr)


async def server_clock(client: BillingClient) -> Clock:
    """The server's business time as a clock: a test clock stands still, a real one runs on."""
    try:
        answer = await client.billing.GetClock(billing_pb2.GetClockRequest(), timeout=30)
    except aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.UNIMPLEMENTED:
            raise
        print("the server has no GetClock: stamping events with this machine's clock (see --at)", file=sys.stderr)
        return lambda: datetime.now(UTC)
    now: datetime = answer.now.ToDatetime(tzinfo=UTC)
    if answer.test_clock:
        return lambda: now
    offset = now - datetime.now(UTC)
    return lambda: datetime.now(UTC) + offset


async def emit_usage(
    target: str,
    api_key: str,
    organization_id: str,
    meter_code: str,
    count: int,
    *,
    clock: Clock | None = None,
    on_rejected: Callable[[RejectedEvent], None] | None = None,
) -> EmitterStats:
    """Emit `count` events of one unit each at `clock`'s time (default: the server's clock)."""
    async with BillingClient.connect(target, api_key) as client:
        stamp = clock if clock is not None else await server_clock(client)
        emitter = client.usage_emitter(on_rejected=on_rejected or Rejections(), clock=stamp)
        try:
            async with emitter:
                for n in range(count):
                    await emitter.emit(meter_code, "1", organization_id=organization_id, idempotency_key=f"example-{n}")
        except UsageEmitterError as error:
            # Not retryable (a bad key, missing permission...): keep what was not acknowledged.
            unsent: list[usage_pb2.UsageEvent] = emitter.unacknowledged()
            print(f"stopped: {error}; {len(unsent)} events not acknowledged", file=sys.stderr)
            raise
        return emitter.stats


def summary(stats: EmitterStats) -> str:
    """One line: what became of the events, and how they travelled."""
    reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(stats.rejection_reasons.items()))
    return (
        f"accepted {stats.accepted}, duplicates {stats.duplicates}, rejected {stats.rejected}"
        f"{f' ({reasons})' if reasons else ''}; {stats.batches_sent} batches, {stats.reconnects} reconnects"
    )


def exit_status(stats: EmitterStats, at: datetime | None) -> int:
    """Print the summary (stdout) and what the rejections mean (stderr); 0 if nothing was rejected."""
    print(summary(stats))
    if not stats.rejected:
        return 0
    if TIME_REASONS & stats.rejection_reasons.keys():
        when = f"--at {at.isoformat()}" if at is not None else "the server's clock"
        print(
            f"{stats.rejected} events were not counted; the time they carried ({when}) may not suit the "
            "subscription or the server's clock: give --at a time in its open period, not ahead of the server",
            file=sys.stderr,
        )
    else:
        print(f"{stats.rejected} events were not counted", file=sys.stderr)
    return EXIT_REJECTED


def moment(text: str) -> datetime:
    """An ISO 8601 time with an offset (argparse type)."""
    refusal = f"not an ISO 8601 time with an offset (e.g. 2026-01-20T12:00:00Z): {text}"
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(refusal) from exc
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(refusal)
    return value.astimezone(UTC)


def parse(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="emit_usage.py",
        description="Send COUNT usage events of one unit each over StreamUsage and report what became of them.",
        epilog="Exit status: 0 all accepted or duplicates, 1 some rejected, 2 bad arguments, 3 the emitter stopped.",
    )
    parser.add_argument("target", help="host:port of the server")
    parser.add_argument("api_key", help="a key with the usage_emitter role for the organization")
    parser.add_argument("organization_id")
    parser.add_argument("meter_code")
    parser.add_argument("count", type=int)
    parser.add_argument("--at", type=moment, help="stamp every event with this time (default: the server's clock)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the example; the exit status."""
    options = parse(sys.argv[1:] if argv is None else argv)
    clock = None if options.at is None else (lambda: options.at)
    try:
        stats = asyncio.run(
            emit_usage(
                options.target,
                options.api_key,
                options.organization_id,
                options.meter_code,
                options.count,
                clock=clock,
            )
        )
    except UsageEmitterError:  # reported by emit_usage, with what was left unacknowledged
        return EXIT_STOPPED
    except aio.AioRpcError as error:  # reading the server's clock failed: nothing was sent
        print(f"stopped: {error.code().name}: {error.details()}; no events sent", file=sys.stderr)
        return EXIT_STOPPED
    return exit_status(stats, options.at)


if __name__ == "__main__":
    sys.exit(main())
