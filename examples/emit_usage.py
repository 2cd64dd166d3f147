"""Example: send usage to billing-grpc with the Python client, and report what became of it.

    python examples/emit_usage.py 127.0.0.1:50051 "$EMITTER_KEY" org_… api_calls 1000

It is type-checked with the project (`make typecheck` runs mypy --strict on examples/).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import datetime

from billing.v1 import usage_pb2
from billing_grpc.client import BillingClient, EmitterStats, RejectedEvent, UsageEmitterError


def report_rejection(rejected: RejectedEvent) -> None:
    """Rejected events were not counted: a real emitter would log or park them."""
    print(f"rejected {rejected.event.idempotency_key}: {rejected.reason} ({rejected.message})", file=sys.stderr)


async def emit_usage(
    target: str,
    api_key: str,
    organization_id: str,
    meter_code: str,
    count: int,
    *,
    clock: Callable[[], datetime] | None = None,
) -> EmitterStats:
    """Emit `count` events of one unit each (keys `example-<n>`: running it twice counts them once)."""
    async with BillingClient.connect(target, api_key) as client:
        options = {"clock": clock} if clock is not None else {}
        emitter = client.usage_emitter(on_rejected=report_rejection, **options)
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


def main() -> None:
    """Parse the command line and run the example."""
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    target, api_key, organization_id, meter_code, count = sys.argv[1:]
    stats = asyncio.run(emit_usage(target, api_key, organization_id, meter_code, int(count)))
    print(
        f"accepted {stats.accepted}, duplicates {stats.duplicates}, rejected {stats.rejected} "
        f"{dict(stats.rejection_reasons)}; {stats.batches_sent} batches, {stats.reconnects} reconnects"
    )


if __name__ == "__main__":
    main()
