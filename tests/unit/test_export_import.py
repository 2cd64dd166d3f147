"""The export file's rules on the in-memory store: an import checks everything before writing, and
`--output` is written whole or not at all."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from billing_grpc.audit.export import event_line, event_to_json
from billing_grpc.audit.importing import ImportRefused, Source, check_export, import_export, import_lines
from billing_grpc.audit.output import OutputExists, atomic_output
from billing_grpc.eventstore import NewEvent, RecordedEvent, StreamAppend, Upcasters
from billing_grpc.eventstore.memory import InMemoryEventStore

T0 = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


async def logged(count: int) -> list[RecordedEvent]:
    store = InMemoryEventStore()
    for n in range(count):
        await store.append(StreamAppend(f"s-{n}", 0, (NewEvent("thing.happened", {"n": n}, T0, organization_id="o"),)))
    return await store.read_stored(0, count)


async def test_a_gap_found_past_the_first_batch_refuses_the_whole_import_and_writes_nothing() -> None:
    events = await logged(6)
    lines = [event_line(e) for e in events[:4] + events[5:]]  # position 5 left out, as a filter would
    fresh = InMemoryEventStore()

    with pytest.raises(ImportRefused, match="export line 5: position 6 follows position 4: a filtered export"):
        await import_lines(fresh, lines, Upcasters(), batch=2)

    assert await fresh.head_position() == 0  # before: positions 1-4 were written, then the import failed


async def test_parts_import_together_in_order_and_name_the_part_that_is_missing() -> None:
    events = await logged(6)
    first, middle, last = ([event_line(e) for e in events[a:b]] for a, b in ((0, 2), (2, 4), (4, 6)))
    parts = [Source.text("first.jsonl", first), Source.text("last.jsonl", last)]

    with pytest.raises(ImportRefused, match=r"last\.jsonl starts at position 5 but first\.jsonl ends at 2"):
        check_export(parts)
    fresh = InMemoryEventStore()
    parts.insert(1, Source.text("middle.jsonl", middle))
    assert await import_export(fresh, parts, Upcasters(), batch=4) == 6
    assert await fresh.read_stored(0, 10) == events


async def test_an_edited_event_a_missing_hash_and_a_malformed_line_are_refused() -> None:
    events = await logged(3)
    edited = [event_line(events[0]), event_line(replace(events[1], payload={"n": 7})), event_line(events[2])]
    unhashed = [event_line(events[0]), event_line(replace(events[1], hash="")), event_line(events[2])]
    malformed = [event_line(events[0]), json.dumps({**event_to_json(events[1]), "position": "two"})]

    for lines, refusal in (
        (edited, "line 2: position 2: hash does not match"),
        (unhashed, "line 2: position 2: hash missing"),
        (malformed, "line 2: not an exported event"),
    ):
        with pytest.raises(ImportRefused, match=refusal):
            check_export([Source.text("export", lines)])


def test_an_interrupted_output_leaves_neither_a_partial_file_nor_a_temporary_one(tmp_path: Path) -> None:
    fresh, kept = tmp_path / "fresh.jsonl", tmp_path / "kept.jsonl"
    kept.write_text("earlier\n")

    for path, force in ((fresh, False), (kept, True)):
        with pytest.raises(KeyboardInterrupt), atomic_output(path, force=force) as file:
            file.write("half a line")
            raise KeyboardInterrupt  # Ctrl-C in the middle of the export

    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.jsonl"]
    assert kept.read_text() == "earlier\n"


def test_output_is_never_appended_to_and_a_file_created_meanwhile_is_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with atomic_output(path) as file:
        file.write("one\n")
    with pytest.raises(OutputExists, match="pass --force to replace it"), atomic_output(path):
        pass
    with atomic_output(path, force=True) as file:
        file.write("two\n")
    assert path.read_text() == "two\n"

    raced = tmp_path / "raced.jsonl"
    with pytest.raises(OutputExists), atomic_output(raced) as file:
        raced.write_text("another process's\n")  # takes the name after the first check
        file.write("ours\n")
    assert raced.read_text() == "another process's\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.jsonl", "raced.jsonl"]
