"""The auditor's commands: `replay --verify`, `export-events`, `import-events`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from billing_grpc.audit.export import TimeRange, event_line, import_lines, stored_events
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
        "Resume an interrupted export with --after-position <last position written>.",
    )
    export.add_argument("--organization", help="only this organization's events")
    export.add_argument("--stream", help="only this stream's events")
    export.add_argument("--type", action="append", default=[], dest="types", help="only this event type (repeatable)")
    export.add_argument("--from", dest="start", type=moment, help="occurred_at at or after (ISO 8601)")
    export.add_argument("--to", dest="end", type=moment, help="occurred_at before (ISO 8601)")
    export.add_argument("--after-position", type=int, default=0, help="start after this position (resume)")
    export.add_argument("--output", type=Path, help="file to append to (default: stdout)")
    imported = commands.add_parser(
        "import-events",
        help="load a JSON Lines export into an empty store",
        description="Write every event of an export (ids, positions, times and hashes unchanged) into an "
        "empty store; refuses a store that holds events. Read models are built by the next `serve`.",
    )
    imported.add_argument("file", type=Path, help="the JSON Lines export")


async def run(options: argparse.Namespace, settings: Settings) -> int:
    """Run one auditor command; return the exit status."""
    if options.command == "replay":
        return await replay_verify(settings, sys.stdout, sys.stderr)
    if options.command == "export-events":
        return await export_events(options, settings)
    return await import_events(options.file, settings)


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
    """Write the selected stored events as JSON Lines."""
    event_filter = EventFilter(
        stream_id=options.stream or None,
        types=frozenset(options.types),
        organization_ids=None if options.organization is None else frozenset({options.organization}),
    )
    window = TimeRange(options.start, options.end)
    target = sys.stdout if options.output is None else options.output.open("a", encoding="utf-8")
    # Events on stdout share the terminal with stderr: a progress line would tear them apart.
    progress = None if target is sys.stdout else ProgressLine(sys.stderr)
    written = 0
    try:
        async with open_audit_log(settings) as log:
            async for event in stored_events(log.store, options.after_position, event_filter, window):
                target.write(event_line(event))
                written += 1
                if progress is not None:
                    progress("export", 1)
    finally:
        if target is not sys.stdout:
            target.close()
    if progress is not None:
        progress.finish()
    print(f"exported {written} events", file=sys.stderr)
    return 0


async def import_events(path: Path, settings: Settings) -> int:
    """Load an export into an empty store."""
    async with open_audit_log(settings) as log:
        try:
            with path.open(encoding="utf-8") as lines:
                count = await import_lines(log.store, lines, upcasters())
        except ValueError as exc:
            print(f"import refused: {exc}", file=sys.stderr)
            return 1
    print(f"imported {count} events", file=sys.stderr)
    return 0
