"""`examples/emit_usage.py` as a process against the real server on a test clock.

The server's clock stands at 2026-01-15 10:00 while this machine's runs on: stamped with the wall
clock, every event was rejected `timestamp_in_future` and the example still exited 0. It now
follows the server's clock (GetClock), takes `--at`, and exits 1 with a report when any event is
rejected.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

from billing_grpc.client import BillingClient
from tests.e2e.conftest import Running
from tests.e2e.test_client_emitter import Metered, subscribe

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "emit_usage.py"


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


async def example(metered: Metered, *args: str, key: str | None = None) -> Ran:
    """Run the example against the server with the emitter's key (or `key`)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        f"127.0.0.1:{metered.running.server.port}",
        metered.emitter_key if key is None else key,
        metered.organization_id,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


async def counted(metered: Metered) -> int:
    async with BillingClient.connect(f"127.0.0.1:{metered.running.server.port}", metered.running.admin_token) as admin:
        return await metered.counted(admin)


async def test_the_example_follows_the_servers_test_clock_and_counts_a_rerun_once(running: Running) -> None:
    metered = await subscribe(running)

    first = await example(metered, "api_calls", "40")
    again = await example(metered, "api_calls", "40")

    assert first.code == 0, first.stderr
    assert first.stdout.startswith("accepted 40, duplicates 0, rejected 0;")
    assert again.code == 0 and again.stdout.startswith("accepted 0, duplicates 40, rejected 0;")
    assert await counted(metered) == 40


async def test_rejected_events_are_reported_and_exit_1(running: Running) -> None:
    metered = await subscribe(running)

    # 14 hours ahead of the server's clock (2026-01-15 10:00): more than the 5 minutes allowed.
    ahead = await example(metered, "api_calls", "25", "--at", "2026-01-16T00:00:00Z")
    unknown = await example(metered, "no_such_meter", "3", "--at", "2026-01-15T10:00:00Z")

    assert ahead.code == 1
    assert ahead.stdout.startswith("accepted 0, duplicates 0, rejected 25 (timestamp_in_future: 25);")
    printed = [line for line in ahead.stderr.splitlines() if line.startswith("rejected example-")]
    assert len(printed) == 10 and printed[0].startswith("rejected example-0: timestamp_in_future")
    assert "25 events were not counted" in ahead.stderr and "--at 2026-01-16T00:00:00+00:00" in ahead.stderr
    assert unknown.code == 1 and "rejected 3 (unknown_meter: 3)" in unknown.stdout
    assert await counted(metered) == 0


async def test_an_event_time_given_with_at_is_used_and_bad_arguments_or_a_bad_key_exit_non_zero(
    running: Running,
) -> None:
    metered = await subscribe(running)

    at = await example(metered, "api_calls", "5", "--at", "2026-01-15T09:30:00+00:00")
    no_offset = await example(metered, "api_calls", "5", "--at", "2026-01-15T09:30:00")
    bad_key = await example(metered, "api_calls", "5", key="bgk_0000000000000000_" + "x" * 43)

    assert at.code == 0 and at.stdout.startswith("accepted 5,")
    assert no_offset.code == 2 and "not an ISO 8601 time with an offset" in no_offset.stderr
    assert bad_key.code == 3 and "stopped: " in bad_key.stderr and "UNAUTHENTICATED" in bad_key.stderr
    assert await counted(metered) == 5
