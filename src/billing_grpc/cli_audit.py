"""The auditor's commands: `replay --verify`, `export-events`, `import-events`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TextIO

from billing_grpc.audit.export import TimeRange, stored_events, write_events
from billing_grpc.audit.importing import ImportRefused, import_files
from billing_grpc.audit.output import OutputExists, atomic_output, refuse_existing
from billing_grpc.audit.progress import ProgressLine
from billing_grpc.audit.verification import VerificationReport, verify
from billing_grpc.bootstrap import open_audit_log, upcasters
from billing_grpc.cli_arguments import moment
from billing_grpc.eventstore import EventFilter
from billing_grpc.settings import Settings

# Differences printed per projection; the report counts all of them.
PRINTED_DIFFERENCES = 5


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the auditor's subcommands."""
    replay = commands.add_parser(
        "replay",
        help="replay the log; with --verify, check read models and the hash chain",
        description="Rebuild every projection from position 0 into scratch collections, compare them "
        "document by document with the live read models (each at its live checkpoint), check the "
        "hash chain of the log, drop the scratch collections. Exit 0 if everything matches, 1 if not. "
        "Connects like `serve` (MONGO_URI, or the embedded store under BILLING_DATA_DIR).",
    )
    replay.add_argument("--verify", action="store_true", required=True, help="compare and check (required)")
    export = commands.add_parser(
        "export-events",
        help="write stored events as JSON Lines",
        description="Write stored events (not upcast, with their hashes) as JSON Lines in global order. "
        "An unfiltered export (or its parts, each resumed with --after-position <last position of the one "
        "before>) can be imported; a filtered one is for reading: import-events refuses it. --output is "
        "written atomically (no partial file) and never appended to: an existing file is refused "
        f"(exit {os.EX_CANTCREAT}) unless --force replaces it.",
    )
    export.add_argument("--organization", help="only this organization's events")
    export.add_argument("--stream", help="only this stream's events")
    export.add_argument("--type", action="append", default=[], dest="types", help="only this event type (repeatable)")
    export.add_argument("--from", dest="start", type=moment, help="occurred_at at or after (ISO 8601)")
    export.add_argument("--to", dest="end", type=moment, help="occurred_at before (ISO 8601)")
    export.add_argument("--after-position", type=int, default=0, help="start after this position (resume)")
    export.add_argument("--output", type=Path, help="file to write, whole or not at all (default: stdout)")
    export.add_argument("--force", action="store_true", help="replace --output if it exists")
    imported = commands.add_parser(
        "import-events",
        help="load a JSON Lines export into an empty store",
        description="Write every event of an export (ids, positions, times and hashes unchanged) into an "
        "empty store; refuses a store that holds events. The files must be the log from position 1 without "
        "a gap (an unfiltered export, or its parts in order), its hash chain intact: anything else (a "
        "filtered export) is refused, exit 1, before anything is written. Read models are built by the "
        "next `serve`.",
    )
    imported.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="the JSON Lines export, or its parts in order"
    )


async def run(options: argparse.Namespace, settings: Settings) -> int:
    """Run one auditor command; return the exit status."""
    if options.command == "replay":
        return await replay_verify(settings, sys.stdout, sys.stderr)
    if options.command == "export-events":
        return await export_events(options, settings)
    return await import_events(options.files, settings)


async def replay_verify(settings: Settings, out: TextIO, err: TextIO) -> int:
    """Verify every read model and the chain; print the report; 0 if all is well."""
    async with open_audit_log(settings) as log:
        progress = ProgressLine(err)
        async with log.scratch_read_models() as scratch:
            report = await verify(log.store, log.read_models, scratch, log.projections, progress=progress)
        progress.finish()
    print_report(report, out)
    return 0 if report.ok else 1


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


async def export_events(options: argparse.Namespace, settings: Settings) -> int:
    """Write the selected stored events as JSON Lines, to stdout or atomically to --output."""
    event_filter = EventFilter(
        stream_id=options.stream or None,
        types=frozenset(options.types),
        organization_ids=None if options.organization is None else frozenset({options.organization}),
    )
    window = TimeRange(options.start, options.end)
    try:
        if options.output is not None:
            refuse_existing(options.output, force=options.force)  # before the store is opened
        sink: AbstractContextManager[TextIO] = (
            nullcontext(sys.stdout) if options.output is None else atomic_output(options.output, force=options.force)
        )
        with sink as target:
            # Events on stdout share the terminal with stderr: a progress line would tear them apart.
            progress = None if options.output is None else ProgressLine(sys.stderr)
            async with open_audit_log(settings) as log:
                events = stored_events(log.store, options.after_position, event_filter, window)
                counted = None if progress is None else _step(progress)
                exported = await write_events(events, target, options.after_position, counted)
    except OutputExists as exists:
        print(f"export refused: {exists}", file=sys.stderr)
        return os.EX_CANTCREAT
    if progress is not None:
        progress.finish()
    print(exported.summary(), file=sys.stderr)
    return 0


def _step(progress: ProgressLine) -> Callable[[int], None]:
    return lambda events: progress("export", events)


async def import_events(paths: list[Path], settings: Settings) -> int:
    """Load an export (or its parts, in order) into an empty store; exit 1 with one line if refused."""
    async with open_audit_log(settings) as log:
        try:
            count = await import_files(log.store, paths, upcasters())
        except ImportRefused as refused:
            print(f"import refused: {refused}", file=sys.stderr)
            return 1
    print(f"imported {count} events", file=sys.stderr)
    return 0
