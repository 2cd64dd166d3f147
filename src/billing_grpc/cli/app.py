"""The root command, every group under it, and the one place a run becomes an exit status."""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TextIO

import click

from billing_grpc import __version__
from billing_grpc.cli import (
    audit,
    clock,
    demo,
    events,
    features,
    invoices,
    keys,
    meters,
    orgs,
    payments,
    plans,
    subscriptions,
)
from billing_grpc.cli import serve as serve_group
from billing_grpc.cli.console import Console
from billing_grpc.cli.exits import Exit, classify

PROG = "billing-grpc"


@click.group(
    name=PROG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    help="Subscription and usage billing over gRPC. `serve` runs the server; `replay`, `export-events` and "
    "`import-events` work on its store directly; the other commands are clients of a running server "
    "(--target, --api-key or BILLING_TARGET, BILLING_API_KEY). Exit statuses follow sysexits: see docs/cli.md.",
)
@click.version_option(__version__, "--version", prog_name=PROG, message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="On a failure, print the traceback after the one-line message.")
@click.pass_obj
def root(console: Console, debug: bool) -> None:
    """The root: global flags only."""
    console.debug = debug


for command in (
    serve_group.serve_command,
    *audit.COMMANDS,
    demo.demo_command,
    keys.keys,
    orgs.orgs,
    plans.plans,
    meters.meters,
    features.features,
    subscriptions.subscriptions,
    invoices.invoices,
    payments.payments,
    clock.clock,
    events.events,
):
    root.add_command(command)


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Parse `argv`, run the command to its end, return its exit status (the console script's main)."""
    console = Console(out or sys.stdout, err or sys.stderr)
    try:
        result = _start(argv, console)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        return _finished(console, result)
    except BaseException as error:
        return _failed(console, error)


async def main_async(argv: list[str], out: TextIO, err: TextIO) -> int:
    """`main` inside a running event loop (tests run client commands in their own loop)."""
    console = Console(out, err)
    try:
        result = _start(argv, console)
        if inspect.iscoroutine(result):
            result = await result
        return _finished(console, result)
    except BaseException as error:
        if isinstance(error, asyncio.CancelledError):
            raise
        return _failed(console, error)


def _start(argv: list[str] | None, console: Console) -> Any:
    """Parse and call the command's callback: its exit status, or the coroutine that does the work."""
    return root.main(args=argv, prog_name=PROG, standalone_mode=False, obj=console)


def _finished(console: Console, result: object) -> int:
    # A closed pipe shows at the last flush at the latest: here, not in the interpreter's exit.
    console.out.flush()
    return int(result) if isinstance(result, int) else Exit.OK


def _failed(console: Console, error: BaseException) -> int:
    """Say what went wrong in one line (a line per bad field for configuration); the exit status."""
    if isinstance(error, SystemExit):  # shell completion answers and exits by itself
        raise error
    if isinstance(error, BrokenPipeError) or (isinstance(error, OSError) and error.errno == 32):
        _quiet_stdout(console)
        return Exit.BROKEN_PIPE
    if isinstance(error, click.exceptions.Abort | KeyboardInterrupt):
        console.err.write("interrupted\n")
        return Exit.INTERRUPTED
    if isinstance(error, click.ClickException):
        error.show(file=console.err)
        return Exit.USAGE if isinstance(error, click.UsageError) else Exit.NO_INPUT
    status, lines = classify(error)
    _write(console, lambda stream: [print(f"{console.failure_prefix}: {line}", file=stream) for line in lines])
    if console.debug:
        traceback.print_exception(error, file=console.err)
    return status


def _write(console: Console, write: Callable[[TextIO], object]) -> None:
    try:
        write(console.err)
        console.err.flush()
    except BrokenPipeError:  # stderr is gone too: nothing left to tell
        pass


def _quiet_stdout(console: Console) -> None:
    """Point stdout at /dev/null, so the interpreter's final flush finds no broken pipe to report."""
    if console.out is not sys.stdout:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
