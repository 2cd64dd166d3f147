"""Every form of `export-events` either round-trips through `import-events` into a fresh store or is
refused by it with one line and nothing written; `--output` is written whole or not at all.

The forms (docs/auditors.md has the table): everything; parts resumed with `--after-position`
(imported together, in order); filtered by `--organization`, `--stream`, `--type`, `--from`,
`--to` (refused: a subset of the log). Real `billing-grpc` processes on the MongoDB-wire store.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient

from tests.e2e.conftest import start_running
from tests.e2e.test_audit import billed_after_a_plan_change
from tests.e2e.test_billing import Customer, at
from tests.integration.test_audit_cli import cli

pytestmark = pytest.mark.slow

REFUSED = 65  # EX_DATAERR: import-events refuses the input (docs/cli.md)


@pytest.fixture
async def customer(mongo_uri: str, database_name: str) -> AsyncIterator[Customer]:
    """A running deployment billed for a month after a plan change: its customer."""
    async for running in start_running(mongo_uri, database_name):
        customer, _ = await billed_after_a_plan_change(running)
        yield customer


@pytest.fixture
async def copy(mongo_uri: str, database_name: str) -> AsyncIterator[str]:
    """The name of an empty database to import into, dropped afterwards."""
    name = database_name + "_copy"
    yield name
    client = AsyncMongoClient[dict[str, Any]](mongo_uri)
    await client.drop_database(name)
    await client.close()


async def events_in(mongo_uri: str, database: str) -> int:
    client = AsyncMongoClient[dict[str, Any]](mongo_uri)
    try:
        return await client[database]["events"].count_documents({})
    finally:
        await client.close()


def names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def positions(path: Path) -> list[int]:
    return [json.loads(line)["position"] for line in path.read_text().splitlines()]


async def test_an_export_in_parts_imports_when_the_parts_are_given_together_in_order(
    customer: Customer, mongo_uri: str, database_name: str, copy: str, tmp_path: Path
) -> None:
    running = customer.running
    first, rest = tmp_path / "first.jsonl", tmp_path / "rest.jsonl"
    exported = await cli(mongo_uri, database_name, "export-events", "--output", str(first))
    last = positions(first)[-1]
    assert exported.code == 0 and f"resume with --after-position {last}" in exported.stderr
    await customer.advance_to(at(3, 15, 10, 30))  # the log goes on: another period billed
    head = await running.app.store.head_position()
    assert head > last
    resumed = await cli(mongo_uri, database_name, "export-events", "--after-position", str(last), "--output", str(rest))
    assert resumed.code == 0 and positions(rest) == list(range(last + 1, head + 1))

    alone = await cli(mongo_uri, copy, "import-events", str(rest))
    assert alone.code == REFUSED
    assert f"starts at position {last + 1}, not 1" in alone.stderr and f"--after-position {last}" in alone.stderr
    backwards = await cli(mongo_uri, copy, "import-events", str(rest), str(first))
    assert backwards.code == REFUSED and "starts at position" in backwards.stderr
    twice = await cli(mongo_uri, copy, "import-events", str(first), str(first))
    assert twice.code == REFUSED and "overlap or are out of order" in twice.stderr
    assert await events_in(mongo_uri, copy) == 0  # every refusal wrote nothing

    imported = await cli(mongo_uri, copy, "import-events", str(first), str(rest))
    assert imported.code == 0, imported.stderr
    assert f"imported {head} events" in imported.stderr
    verified = await cli(mongo_uri, copy, "replay", "--verify")
    assert verified.code == 0, verified.stdout
    assert f"chain: intact, {head} events checked" in verified.stdout


@pytest.mark.parametrize(
    "selection",
    [
        ("--organization", "<organization>"),
        ("--stream", "<stream>"),
        ("--type", "usage.recorded"),
        ("--from", "2026-01-20T00:00:00Z"),
    ],
    ids=lambda selection: selection[0],
)
async def test_a_filtered_export_is_refused_by_import_with_one_line_and_nothing_written(
    selection: tuple[str, str], customer: Customer, mongo_uri: str, database_name: str, copy: str, tmp_path: Path
) -> None:
    option, value = selection
    value = {"<organization>": customer.organization_id, "<stream>": f"subscription-{customer.subscription_id}"}.get(
        value, value
    )
    subset = tmp_path / "subset.jsonl"
    exported = await cli(mongo_uri, database_name, "export-events", option, value, "--output", str(subset))
    assert exported.code == 0, exported.stderr
    assert "with gaps: filtered, a subset of the log for reading; import-events refuses it" in exported.stderr
    head = await customer.running.app.store.head_position()
    assert 0 < len(positions(subset)) < head  # a real subset: something in, something left out

    refused = await cli(mongo_uri, copy, "import-events", str(subset))

    assert refused.code == REFUSED
    [line] = refused.stderr.strip().splitlines()[-1:]
    assert line.startswith(f"error: import refused: {subset} line ")
    assert "export without filters" in line
    assert await events_in(mongo_uri, copy) == 0


async def test_an_export_up_to_a_time_is_the_log_up_to_a_position_and_imports(
    customer: Customer, mongo_uri: str, database_name: str, copy: str, tmp_path: Path
) -> None:
    # Business time only moves forward here, so everything before Jan 20 is a prefix of the log:
    # the store as it stood then. (Were an earlier event left out, it would be refused as filtered.)
    early = tmp_path / "early.jsonl"
    exported = await cli(
        mongo_uri, database_name, "export-events", "--to", "2026-01-20T00:00:00Z", "--output", str(early)
    )
    assert exported.code == 0, exported.stderr
    kept = positions(early)
    assert kept == list(range(1, len(kept) + 1)) and len(kept) < await customer.running.app.store.head_position()
    assert f"resume with --after-position {len(kept)}" in exported.stderr

    assert (await cli(mongo_uri, copy, "import-events", str(early))).code == 0
    verified = await cli(mongo_uri, copy, "replay", "--verify")
    assert verified.code == 0, verified.stdout
    assert f"chain: intact, {len(kept)} events checked" in verified.stdout


async def test_an_altered_export_is_refused_naming_the_position(
    customer: Customer, mongo_uri: str, database_name: str, copy: str, tmp_path: Path
) -> None:
    exported = tmp_path / "log.jsonl"
    assert (await cli(mongo_uri, database_name, "export-events", "--output", str(exported))).code == 0
    lines = exported.read_text().splitlines(keepends=True)
    number, usage = next((n, line) for n, line in enumerate(lines, 1) if '"usage.recorded"' in line)
    lines[number - 1] = usage.replace('"700"', '"7"')  # one quantity made smaller
    assert lines[number - 1] != usage
    exported.write_text("".join(lines))

    refused = await cli(mongo_uri, copy, "import-events", str(exported))

    assert refused.code == REFUSED
    position = json.loads(usage)["position"]
    assert f"line {number}: position {position}: hash does not match" in refused.stderr
    assert await events_in(mongo_uri, copy) == 0


async def test_output_refuses_an_existing_file_without_force_and_replaces_it_with_force(
    customer: Customer, mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    target = tmp_path / "log.jsonl"
    target.write_text("an earlier export\n")

    refused = await cli(mongo_uri, database_name, "export-events", "--output", str(target))
    assert refused.code == os.EX_CANTCREAT == 73
    assert f"error: {target} exists: an export never appends; pass --force to replace it" in refused.stderr
    assert target.read_text() == "an earlier export\n"

    replaced = await cli(mongo_uri, database_name, "export-events", "--output", str(target), "--force")
    assert replaced.code == 0, replaced.stderr
    head = await customer.running.app.store.head_position()
    assert positions(target) == list(range(1, head + 1))  # replaced, not appended to
    assert names(tmp_path) == ["log.jsonl"]
    nowhere = await cli(mongo_uri, database_name, "export-events", "--output", str(tmp_path / "no" / "log.jsonl"))
    assert nowhere.code == 73 and "cannot create" in nowhere.stderr


async def test_an_export_that_fails_half_way_leaves_no_partial_file(
    customer: Customer, mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    # The last event gets a value JSON cannot encode: the export writes every event before it, then fails.
    client = AsyncMongoClient[dict[str, Any]](mongo_uri)
    try:
        events = client[database_name]["events"]
        head = await customer.running.app.store.head_position()
        await events.update_one({"_id": head}, {"$set": {"payload.unencodable": ObjectId()}})
    finally:
        await client.close()
    fresh, kept = tmp_path / "fresh.jsonl", tmp_path / "kept.jsonl"
    kept.write_text("an earlier export\n")

    failed = await cli(mongo_uri, database_name, "export-events", "--output", str(fresh))
    failed_over = await cli(mongo_uri, database_name, "export-events", "--output", str(kept), "--force")

    assert failed.code == failed_over.code == 70  # EX_SOFTWARE: the store holds what no export can encode
    assert "ObjectId is not JSON serializable" in failed.stderr
    assert names(tmp_path) == ["kept.jsonl"]  # no partial file, no temporary one
    assert kept.read_text() == "an earlier export\n"
