"""Loading an export back: only the whole log from position 1, verified before anything is written.

Which exports load (docs/auditors.md has the table): an unfiltered export, or the parts of one
exported with `--after-position` given together in order. A filtered export (`--organization`,
`--stream`, `--type`, `--from`/`--to` that left an event out) is a subset of the log: its hash
chain has gaps, so it cannot be verified, and read models built from it would be wrong (an
organization's usage without the plan that prices it). It is refused, as is a part without the
parts before it, overlapping parts and an altered event, with one line saying why and what to
export instead. The whole input is checked first (a first pass over the files), so a refusal
writes nothing, even one found at the last line of a large export.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from billing_grpc.audit.export import PAGE, import_batch, read_lines
from billing_grpc.eventstore import EventStore, RecordedEvent, Upcasters
from billing_grpc.eventstore.chain import ChainWalk

FILTERED = (
    "a filtered export (--organization, --stream, --type, --from/--to) is a subset of the log: its hash "
    "chain has gaps and it cannot rebuild the read models; to copy a store, export without filters"
)


class ImportRefused(ValueError):
    """The input is not a whole, intact log (or the store is not empty); nothing was written."""


@dataclass(frozen=True)
class Source:
    """One input of an import: a name for messages and a way to read its lines (each pass anew)."""

    name: str
    lines: Callable[[ExitStack], Iterable[str]]

    @classmethod
    def file(cls, path: Path) -> Source:
        """A JSON Lines file on disk."""
        return cls(str(path), lambda stack: stack.enter_context(path.open(encoding="utf-8")))

    @classmethod
    def text(cls, name: str, lines: Sequence[str]) -> Source:
        """Lines already in memory."""
        return cls(name, lambda _: lines)


def _events(sources: Sequence[Source]) -> Iterator[tuple[Source, int, RecordedEvent]]:
    for source in sources:
        with ExitStack() as stack:
            numbered = read_lines(source.lines(stack), source.name)
            yield from ((source, number, event) for number, event in numbered)


def check_export(sources: Sequence[Source]) -> int:
    """Raise ImportRefused unless the sources are the log from position 1, intact; return the event count."""
    walk, count, last = ChainWalk(), 0, None
    try:
        for source, number, event in _events(sources):
            where = f"{source.name} line {number}"
            if event.position != walk.position + 1:
                raise ImportRefused(_out_of_place(where, walk.position, event.position, source, last))
            if (reason := walk.step(event)) is not None:
                raise ImportRefused(
                    f"{where}: position {event.position}: {reason}: the export was altered, or its lines "
                    "come from different logs"
                )
            count, last = count + 1, source
    except ImportRefused:
        raise
    except ValueError as malformed:
        raise ImportRefused(str(malformed)) from malformed
    return count


def _out_of_place(where: str, previous: int, position: int, source: Source, last: Source | None) -> str:
    if previous == 0:
        return (
            f"{where}: the export starts at position {position}, not 1: it is either filtered, or the rest of "
            f"an export resumed with --after-position {position - 1}; give the parts together, in order "
            f"(import-events first.jsonl {source.name}), or export without filters"
        )
    if position <= previous:
        return (
            f"{where}: position {position} after position {previous}: the parts overlap or are out of order; "
            "give them in the order they were exported, each resumed after the last position of the one before"
        )
    if last is not None and last is not source:
        return (
            f"{where}: {source.name} starts at position {position} but {last.name} ends at {previous}: a part "
            f"is missing between them (export --after-position {previous})"
        )
    return f"{where}: position {position} follows position {previous}: {FILTERED}"


async def import_export(store: EventStore, sources: Sequence[Source], upcasters: Upcasters, batch: int = PAGE) -> int:
    """Check the sources, then write them into the empty `store` (ids, positions, hashes kept); the count.

    Usage claims are restored from the usage events, so a key counted before the export is
    still counted once after the import.
    """
    if await store.head_position() != 0:
        raise ImportRefused("the store is not empty: import only into a fresh database")
    check_export(sources)
    pending: list[RecordedEvent] = []
    count = 0
    for _, _, event in _events(sources):
        pending.append(event)
        if len(pending) == batch:
            await import_batch(store, pending, upcasters)
            count, pending = count + len(pending), []
    await import_batch(store, pending, upcasters)
    return count + len(pending)


async def import_files(store: EventStore, paths: Sequence[Path], upcasters: Upcasters) -> int:
    """`import_export` of JSON Lines files, read in the order given."""
    return await import_export(store, [Source.file(path) for path in paths], upcasters)


async def import_lines(store: EventStore, lines: Sequence[str], upcasters: Upcasters, batch: int = PAGE) -> int:
    """`import_export` of one export held in memory."""
    return await import_export(store, [Source.text("export", lines)], upcasters, batch)
