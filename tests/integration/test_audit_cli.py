"""The auditor's commands as real processes: `replay --verify`, `export-events`, `import-events`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from billing_grpc.application.context import system_context
from billing_grpc.application.usage import Outcome
from billing_grpc.audit.verification import compare, dump
from billing_grpc.bootstrap import all_projections, open_app
from billing_grpc.domain.usage import UsageInput
from billing_grpc.settings import Settings
from projections.mongo_store import MongoReadModels
from tests.e2e.conftest import TEST_KEY_HASH_SECRET, Running, start_running
from tests.e2e.test_audit import billed_after_a_plan_change

pytestmark = pytest.mark.slow


@dataclass
class Finished:
    code: int
    stdout: str
    stderr: str


async def cli(mongo_uri: str, database: str, *args: str) -> Finished:
    """Run `billing-grpc <args>` against this database and wait for it."""
    env = {**os.environ, "MONGO_URI": mongo_uri, "BILLING_DATABASE": database, "BILLING_LOG_FORMAT": "text"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "billing_grpc.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode())


@pytest.fixture
async def billed(mongo_uri: str, database_name: str) -> Any:
    """A running deployment with a finalized invoice after a plan change, and its invoice id."""
    async for running in start_running(mongo_uri, database_name):
        _, invoice_id = await billed_after_a_plan_change(running)
        yield running, invoice_id


async def test_replay_verify_passes_then_names_a_corrupted_read_model_and_an_edited_event(
    billed: tuple[Running, str], mongo_uri: str, database_name: str
) -> None:
    # The deployment keeps running (projections following) while the CLI verifies its database.
    clean = await cli(mongo_uri, database_name, "replay", "--verify")
    assert clean.code == 0, clean.stdout + clean.stderr
    assert "chain: intact" in clean.stdout and clean.stdout.rstrip().splitlines()[-1].startswith("OK:")
    assert "events/s" in clean.stderr  # the progress line

    database = AsyncMongoClient[dict[str, Any]](mongo_uri)[database_name]
    await database["rm_balances"].update_many({}, {"$inc": {"paid_minor": 100}})
    corrupted = await cli(mongo_uri, database_name, "replay", "--verify")
    assert corrupted.code == 1
    assert "balances: 1 DIFFERENCES" in corrupted.stdout
    assert "  differs: balances " in corrupted.stdout
    assert "chain: intact" in corrupted.stdout

    usage = await database["events"].find_one({"type": "usage.recorded"})
    assert usage is not None
    await database["events"].update_one({"_id": usage["_id"]}, {"$set": {"payload.series.0.quantities.0": "1"}})
    edited = await cli(mongo_uri, database_name, "replay", "--verify")
    assert edited.code == 1
    assert f"chain: BROKEN at position {usage['_id']}" in edited.stdout
    assert not [n for n in await database.list_collection_names() if n.startswith("verify_")]


async def test_export_then_import_into_a_fresh_store_reproduces_the_read_models(
    billed: tuple[Running, str], mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    running, _ = billed
    exported = tmp_path / "log.jsonl"
    head = await running.app.store.head_position()
    # In two parts, the second resuming after the last position the first wrote.
    first = await cli(mongo_uri, database_name, "export-events", "--output", str(exported))
    assert first.code == 0, first.stderr
    lines = exported.read_text().splitlines()
    assert [json.loads(line)["position"] for line in lines] == list(range(1, head + 1))
    middle = head // 2
    early = tmp_path / "early.jsonl"
    part = await cli(mongo_uri, database_name, "export-events", "--to", "2026-01-20T00:00:00Z", "--output", str(early))
    assert part.code == 0
    assert all(json.loads(line)["occurred_at"] < "2026-01-20" for line in early.read_text().splitlines())
    halves = tmp_path / "resumed.jsonl"
    for after in (0, middle):
        args = ["export-events", "--after-position", str(after), "--output", str(halves), "--force"]
        if after == 0:
            args += ["--type", "never.happened"]  # nothing: proves the filter, then the real half replaces it
        assert (await cli(mongo_uri, database_name, *args)).code == 0
    assert halves.read_text().splitlines() == lines[middle:]
    usage_only = await cli(mongo_uri, database_name, "export-events", "--type", "usage.recorded")
    assert {json.loads(line)["type"] for line in usage_only.stdout.splitlines()} == {"usage.recorded"}

    copy = database_name + "_copy"
    try:
        imported = await cli(mongo_uri, copy, "import-events", str(exported))
        assert imported.code == 0, imported.stderr
        again = await cli(mongo_uri, copy, "import-events", str(exported))
        assert again.code == 65 and again.stderr.startswith("error: import refused: ") and "not empty" in again.stderr
        settings = Settings(mongo_uri=mongo_uri, database=copy, key_hash_secret=TEST_KEY_HASH_SECRET, scheduler=False)
        async with open_app(settings, clock=running.clock) as restored:
            assert await restored.store.head_position() == head  # the copy appended nothing of its own
            assert await restored.projections.wait_until(head, timeout=30)
            client = AsyncMongoClient[dict[str, Any]](mongo_uri, tz_aware=True)
            filled = set()
            for projection in all_projections():
                collections = sorted(projection.collections)
                original = await dump(MongoReadModels(client, database_name), collections)
                rebuilt = await dump(MongoReadModels(client, copy), collections)
                assert compare(original, rebuilt) == [], projection.name
                if any(original.values()):
                    filled.add(projection.name)
            # Not a comparison of empty collections (the billed world has no features, hence none of those).
            assert {"organizations", "subscriptions", "usage", "invoices", "payments", "balances"} <= filled
            # Usage counted before the export is still counted once: its claims came along.
            organization_id = next(json.loads(line)["organization_id"] for line in lines if '"usage.recorded"' in line)
            resent = UsageInput(organization_id, "api_calls", "700", running.clock.now(), "a", {})
            [result] = await restored.usage.ingest(system_context(), [resent])
            assert result.outcome == Outcome.DUPLICATE
            assert await restored.store.head_position() == head
        verified = await cli(mongo_uri, copy, "replay", "--verify")
        assert verified.code == 0, verified.stdout
    finally:
        client = AsyncMongoClient[dict[str, Any]](mongo_uri)
        await client.drop_database(copy)
        await client.close()


async def test_the_commands_explain_themselves_and_refuse_bad_arguments(mongo_uri: str, database_name: str) -> None:
    helped = await cli(mongo_uri, database_name, "--help")
    assert helped.code == 0
    assert all(name in helped.stdout for name in ("serve", "replay", "export-events", "import-events"))
    bad_time = await cli(mongo_uri, database_name, "export-events", "--from", "yesterday")
    assert bad_time.code == 64 and "not an ISO 8601 time" in bad_time.stderr
    no_verify = await cli(mongo_uri, database_name, "replay")
    assert no_verify.code == 64 and "--verify" in no_verify.stderr


async def test_an_export_piped_into_a_reader_that_stops_early_ends_quietly(
    billed: tuple[Running, str], mongo_uri: str, database_name: str
) -> None:
    # `billing-grpc export-events | head -0`: the reader is gone before the first event is written.
    # It was a BrokenPipeError traceback; now nothing is said, and the status is SIGPIPE's.
    env = {**os.environ, "MONGO_URI": mongo_uri, "BILLING_DATABASE": database_name, "BILLING_LOG_FORMAT": "text"}
    read, write = os.pipe()
    os.close(read)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "billing_grpc.cli", "export-events",
            env=env, stdout=write, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
    finally:
        os.close(write)
    _, err = await process.communicate()
    assert (process.returncode, err.decode()) == (141, "")
