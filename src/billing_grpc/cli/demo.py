"""`billing-grpc demo`: the scripted tour, against a running server or one it starts (`--serve`)."""

from __future__ import annotations

import time
from collections.abc import Coroutine
from typing import Any, TextIO

import click

from billing_grpc.cli.console import Console
from billing_grpc.cli.options import connection_options
from billing_grpc.cli.remote import open_client
from billing_grpc.demo.local_server import local_server
from billing_grpc.demo.tour import Tour, TourResult

# Where `--serve` starts the business: a calendar year's first instant.
DEFAULT_TEST_CLOCK = "2026-01-01T00:00:00Z"


@click.command(
    "demo",
    short_help="A scripted tour: three months of billing on the test clock.",
    help="Against a running server on a test clock (BILLING_TEST_CLOCK), as a platform admin: create meters, "
    "a plan with a base fee and metered charges, an organization and its subscription; stream usage; advance "
    "the clock month by month through three months, one payment declined and retried; print every invoice as "
    "a table. Each run uses new names, so it can run again on the same server. With --serve it starts its own "
    "server first and stops it afterwards (`make demo`).",
)
@connection_options
@click.option(
    "--serve",
    is_flag=True,
    help="Start a throw-away server (free port, embedded store in a temporary folder, test clock, its own "
    "admin key) instead of using --target/--api-key.",
)
@click.option(
    "--clock",
    default=DEFAULT_TEST_CLOCK,
    show_default=True,
    help="With --serve: the test clock's start, ISO 8601 UTC.",
)
def demo_command(target: str, api_key: str | None, serve: bool, clock: str) -> Coroutine[Any, Any, None]:
    """Play the tour."""
    console = click.get_current_context().find_object(Console)
    assert console is not None
    console.failure_prefix = "demo failed"
    return run_demo(console, target, api_key, serve, clock)


async def run_demo(console: Console, target: str, api_key: str | None, serve: bool, clock: str) -> None:
    """Play the tour; a failure propagates (one clear line from `app.main`)."""
    started = time.monotonic()
    if serve:
        async with local_server(clock, console.err) as server:
            await tour(server.target, server.api_key, console.out, console.err)
    else:
        await tour(target, api_key, console.out, console.err)
    console.note(f"\ndemo finished in {time.monotonic() - started:.1f} s")


async def tour(target: str, api_key: str | None, out: TextIO, err: TextIO) -> TourResult:
    """The tour against the server at `target`, as the holder of `api_key` (a platform admin)."""
    async with open_client(target, api_key) as client:
        return await Tour(client, out, err).run()
