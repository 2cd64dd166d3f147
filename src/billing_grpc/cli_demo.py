"""`billing-grpc demo`: the scripted tour, against a running server or one it starts (`--serve`)."""

from __future__ import annotations

import argparse
import time
from typing import TextIO

from billing_grpc.cli_arguments import add_connection_arguments
from billing_grpc.cli_remote import exit_status, open_client
from billing_grpc.demo.local_server import local_server
from billing_grpc.demo.tour import Tour, TourResult

# Where `--serve` starts the business: a calendar year's first instant.
DEFAULT_TEST_CLOCK = "2026-01-01T00:00:00Z"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `demo`."""
    demo = commands.add_parser(
        "demo",
        help="a scripted tour: three months of billing on the test clock",
        description="Against a running server on a test clock (BILLING_TEST_CLOCK), as a platform admin: "
        "create meters, a plan with a base fee and metered charges, an organization and its subscription; "
        "stream usage; advance the clock month by month through three months, one payment declined and "
        "retried; print every invoice as a table. Each run uses new names, so it can run again on the "
        "same server. With --serve it starts its own server first and stops it afterwards (`make demo`).",
    )
    add_connection_arguments(demo)
    demo.add_argument(
        "--serve",
        action="store_true",
        help="start a throw-away server (free port, embedded store in a temporary folder, test clock, "
        "its own admin key) instead of using --target/--api-key",
    )
    demo.add_argument(
        "--clock",
        default=DEFAULT_TEST_CLOCK,
        help=f"with --serve: the test clock's start, ISO 8601 UTC (default {DEFAULT_TEST_CLOCK})",
    )
    demo.set_defaults(run=run_demo)


async def run_demo(options: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Play the tour; a failure is one clear line on `err` and exit status 1."""
    started = time.monotonic()

    async def play() -> None:
        if options.serve:
            async with local_server(options.clock, err) as server:
                await tour(server.target, server.api_key, out, err)
        else:
            await tour(options.target, options.api_key, out, err)

    status = await exit_status(play(), err, "demo failed")
    if status == 0:
        print(f"\ndemo finished in {time.monotonic() - started:.1f} s", file=err)
    return status


async def tour(target: str, api_key: str | None, out: TextIO, err: TextIO) -> TourResult:
    """The tour against the server at `target`, as the holder of `api_key` (a platform admin)."""
    async with open_client(target, api_key) as client:
        return await Tour(client, out, err).run()
