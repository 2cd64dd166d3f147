"""The auditor's commands, on the store directly: `replay --verify`, `export-events`, `import-events`."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import click

from billing_grpc.audit.export import TimeRange, stored_events, write_events
from billing_grpc.audit.importing import ImportRefused, import_files
from billing_grpc.audit.output import OutputRefused, atomic_output, refuse_existing
from billing_grpc.audit.progress import ProgressLine
from billing_grpc.audit.verification import VerificationReport, verify
from billing_grpc.bootstrap import open_audit_log, upcasters
from billing_grpc.cli.console import Console
from billing_grpc.cli.exits import Exit
from billing_grpc.cli.options import MOMENT
from billing_grpc.cli.remote import CANT_CREATE, DATA, CommandError
from billing_grpc.cli.serve import server_settings
from billing_grpc.eventstore import EventFilter
from billing_grpc.settings import Settings

# Differences printed per projection; the report counts all of them.
PRINTED_DIFFERENCES = 5


def _console() -> Console:
    console = click.get_current_context().find_object(Console)
    assert console is not None
    return console


@click.command(
    "replay",
    short_help="Replay the log; with --verify, check read models and the hash chain.",
    help="Rebuild every projection from position 0 into scratch collections, compare them document by "
    "document with the live read models (each at its live checkpoint), check the hash chain of the log, "
    "drop the scratch collections. Exit 0 if everything matches, 1 if not. Connects like `serve` "
    "(MONGO_URI, or the embedded store under BILLING_DATA_DIR).",
)
@click.option("--verify", is_flag=True, help="compare and check (required)")
def replay_command(verify: bool) -> Coroutine[Any, Any, int]:
    """Verify every read model and the chain."""
    if not verify:
        raise click.UsageError("--verify is required (the only mode of replay)")
    console = _console()
    return replay_verify(server_settings(), console.out, console.err)


async def replay_verify(settings: Settings, out: TextIO, err: TextIO) -> int:
    """Verify every read model and the chain; print the report; 0 if all is well."""
    async with open_audit_log(settings) as log:
        progress = ProgressLine(err)
        async with log.scratch_read_models() as scratch:
            report = await verify(log.store, log.read_models, scratch, log.projections, progress=progress)
        progress.finish()
    print_report(report, out)
    return Exit.OK if report.ok else Exit.MISMATCH


def print_report(report: VerificationReport, out: TextIO) -> None:
    """The verification's findings, readable."""
    chain = report.chain
    if chain.unhashed_prefix:
        print(f"chain: positions 1-{chain.unhashed_prefix} predate the hash chain (no hashes)", file=out)
    if chain.intact:
        print(f"chain: intact, {chain.checked} events checked (head {chain.head})", file=out)
    else:
        print(f"chain: BROKEN at position {chain.broken_at}: {chain.reason}", file=out)
    for check in report.projections:
        if check.error:
            print(f"{check.projection}: NOT VERIFIED: {check.error}", file=out)
        elif check.matches:
            print(f"{check.projection}: ok, {check.documents} documents at position {check.position}", file=out)
        else:
            print(f"{check.projection}: {check.difference_count} DIFFERENCES at position {check.position}", file=out)
            for difference in check.differences[:PRINTED_DIFFERENCES]:
                print(f"  {difference.kind}: {difference.collection} {difference.key}", file=out)
    rate = report.events_replayed / max(report.seconds, 1e-9)
    verdict = "OK" if report.ok else "MISMATCH"
    print(f"{verdict}: {report.events_replayed} events replayed in {report.seconds:.2f} s ({rate:,.0f}/s)", file=out)


@click.command(
    "export-events",
    short_help="Write stored events as JSON Lines.",
    help="Write stored events (not upcast, with their hashes) as JSON Lines in global order. An unfiltered "
    "export (or its parts, each resumed with --after-position <last position of the one before>) can be "
    "imported; a filtered one is for reading: import-events refuses it. --output is written atomically (no "
    "partial file) and never appended to: an existing file is refused (exit 73) unless --force replaces it.",
)
@click.option("--organization", help="only this organization's events")
@click.option("--stream", help="only this stream's events")
@click.option("--type", "types", multiple=True, help="only this event type (repeatable)")
@click.option("--from", "start", type=MOMENT, help="occurred_at at or after (ISO 8601)")
@click.option("--to", "end", type=MOMENT, help="occurred_at before (ISO 8601)")
@click.option("--after-position", type=int, default=0, help="start after this position (the next part)")
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="file to write, whole or not at all (default: stdout)",
)
@click.option("--force", is_flag=True, help="replace --output if it exists")
def export_command(
    organization: str | None,
    stream: str | None,
    types: tuple[str, ...],
    start: datetime | None,
    end: datetime | None,
    after_position: int,
    output: Path | None,
    force: bool,
) -> Coroutine[Any, Any, int]:
    """Export events."""
    event_filter = EventFilter(
        stream_id=stream or None,
        types=frozenset(types),
        organization_ids=None if organization is None else frozenset({organization}),
    )
    window = TimeRange(start, end)
    return export_events(server_settings(), _console(), event_filter, window, after_position, output, force)


async def export_events(
    settings: Settings,
    console: Console,
    event_filter: EventFilter,
    window: TimeRange,
    after: int,
    output: Path | None,
    force: bool = False,
) -> int:
    """Write the selected stored events as JSON Lines, to stdout or atomically to `output`."""
    try:
        if output is not None:
            refuse_existing(output, force=force)  # before the store is opened
        sink: AbstractContextManager[TextIO] = (
            nullcontext(console.out) if output is None else atomic_output(output, force=force)
        )
        with sink as target:
            # Events on stdout share the terminal with stderr: a progress line would tear them apart.
            progress = None if output is None else ProgressLine(console.err)
            async with open_audit_log(settings) as log:
                events = stored_events(log.store, after, event_filter, window)
                exported = await write_events(events, target, after, None if progress is None else _step(progress))
            target.flush()
    except OutputRefused as refused:
        raise CommandError(str(refused), CANT_CREATE) from refused
    if progress is not None:
        progress.finish()
    console.note(exported.summary())
    return Exit.OK


def _step(progress: ProgressLine) -> Callable[[int], None]:
    return lambda events: progress("export", events)


@click.command(
    "import-events",
    short_help="Load a JSON Lines export into an empty store.",
    help="Write every event of an export (ids, positions, times and hashes unchanged) into an empty store; "
    "refuses a store that holds events. The files must be the log from position 1 without a gap (an "
    "unfiltered export, or its parts in order), its hash chain intact: anything else (a filtered export) is "
    "refused (exit 65) before anything is written. Read models are built by the next `serve`.",
)
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(path_type=Path),
    help="the JSON Lines export, or its parts in order",
)
def import_command(files: tuple[Path, ...]) -> Coroutine[Any, Any, int]:
    """Import an export (or its parts, in order)."""
    return import_events(list(files), server_settings(), _console())


async def import_events(paths: list[Path], settings: Settings, console: Console) -> int:
    """Load an export into an empty store; the files are opened first, so a missing one starts no store."""
    for path in paths:
        with path.open(encoding="utf-8"):
            pass
    async with open_audit_log(settings) as log:
        try:
            count = await import_files(log.store, paths, upcasters())
        except ImportRefused as refused:
            raise CommandError(f"import refused: {refused}", DATA) from refused
    console.note(f"imported {count} events")
    return Exit.OK


COMMANDS = (replay_command, export_command, import_command)
