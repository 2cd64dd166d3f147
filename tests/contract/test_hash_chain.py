"""Tamper evidence on every store: each event's hash covers its content and its predecessor's hash."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from billing_grpc.application.usage import claim_key
from billing_grpc.audit.export import event_line
from billing_grpc.audit.importing import import_lines
from billing_grpc.bootstrap import upcasters
from billing_grpc.domain.usage import UsageRecord, UsageRecorded
from billing_grpc.eventstore import EventFilter, EventStore, NewEvent, StreamAppend, Upcasters
from billing_grpc.eventstore.chain import GENESIS_HASH, verify_chain
from billing_grpc.eventstore.memory import InMemoryEventStore
from billing_grpc.eventstore.mongo import MongoEventStore
from tests.contract.conftest import Backend, StoreFactory

T0 = datetime(2026, 3, 1, 8, 30, 0, 250000, tzinfo=UTC)


def fact(kind: str = "thing.happened", **payload: object) -> NewEvent:
    return NewEvent(type=kind, payload=dict(payload), occurred_at=T0, organization_id="org_1")


def independent_hash(previous: str, line: dict[str, object]) -> str:
    """The documented formula, written from docs/auditors.md's description and not from our code."""
    envelope = {key: line[key] for key in line if key != "hash"}
    canonical = json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(bytes.fromhex(previous) + canonical.encode()).hexdigest()


async def test_every_event_chains_on_the_previous_one_across_commits_and_instances(open_store: StoreFactory) -> None:
    first, second = await open_store(), await open_store()  # two instances on one log, like two servers
    await first.append(StreamAppend("a-1", 0, (fact(n=1), fact(n=2))))
    await second.append(StreamAppend("b-1", 0, (fact(amount_minor=2**62, text="né"),)))
    await first.append(StreamAppend("a-1", 2, (fact(items=[{"z": 1, "a": None}], ok=True),)))

    stored = await first.read_stored(0, 10)

    assert [e.position for e in stored] == [1, 2, 3, 4]
    previous = GENESIS_HASH
    for event in stored:
        line = json.loads(event_line(event))
        assert event.hash == independent_hash(previous, line)
        previous = event.hash
    report = await verify_chain(first)
    assert report.intact and report.checked == 4 and report.unhashed_prefix == 0


async def test_recorded_events_carry_their_hash_on_every_read_path(store: EventStore) -> None:
    appended = await store.append(StreamAppend("a-1", 0, (fact(),)))
    stored = await store.read_stored()

    assert len(appended[0].hash) == 64
    assert (await store.read_all())[0].hash == (await store.read_stream("a-1"))[0].hash == stored[0].hash
    assert stored[0].hash == appended[0].hash


async def test_read_stored_filters_like_read_all(store: EventStore) -> None:
    await store.append(StreamAppend("a-1", 0, (fact("x.done"), fact("y.done"))), StreamAppend("b-1", 0, (fact(),)))

    by_type = await store.read_stored(0, 10, EventFilter(types=frozenset({"y.done"})))
    by_stream = await store.read_stored(1, 10, EventFilter(stream_id="a-1"))

    assert [e.position for e in by_type] == [2]
    assert [e.position for e in by_stream] == [2]


async def test_an_export_imports_into_an_empty_store_unchanged_and_the_chain_holds(
    store: EventStore, backend: Backend, database_name: str
) -> None:
    await store.append(StreamAppend("a-1", 0, (fact(n=1), fact(n=2))))
    await store.append(StreamAppend("b-1", 0, (fact(n=3),)))
    lines = [event_line(e) for e in await store.read_stored(0, 10)]
    fresh = await _fresh_store(backend, database_name + "_copy")
    try:
        assert await import_lines(fresh, lines, Upcasters()) == 3

        assert await fresh.read_stored(0, 10) == await store.read_stored(0, 10)
        assert await fresh.head_position() == 3
        assert (await verify_chain(fresh)).intact
        # The copy goes on chaining from the imported head.
        await fresh.append(StreamAppend("b-1", 1, (fact(n=4),)))
        assert (await verify_chain(fresh)).checked == 4
        with pytest.raises(ValueError, match="not empty"):
            await import_lines(fresh, lines, Upcasters())
    finally:
        await fresh.close()
        if backend.client is not None:
            await backend.client.drop_database(database_name + "_copy")


async def test_an_import_must_continue_the_log_without_gaps(store: EventStore) -> None:
    await store.append(StreamAppend("a-1", 0, (fact(n=1), fact(n=2))))
    events = await store.read_stored(0, 10)

    with pytest.raises(ValueError, match="expected position 3"):
        await store.import_events(events[1:])
    assert await store.head_position() == 2


async def _fresh_store(backend: Backend, database: str) -> EventStore:
    if backend.client is None:
        return InMemoryEventStore()
    mongo = MongoEventStore(backend.client, database)
    await mongo.start()
    return mongo


async def test_sparse_types_far_behind_the_head_are_read_in_order_and_in_pages(store: EventStore) -> None:
    """Reads that start far from the head walk windows of positions; none may be skipped or reordered."""
    noise = tuple(fact("noise.made") for _ in range(2_500))
    await store.append(StreamAppend("a-1", 0, (fact("x.done", n=1),)))
    await store.append(StreamAppend("noise-1", 0, noise[:1_300]))
    await store.append(StreamAppend("b-1", 0, (fact("y.done", n=2), fact("x.done", n=3))))
    await store.append(StreamAppend("noise-1", 1_300, noise[1_300:]))
    await store.append(StreamAppend("a-1", 1, (fact("y.done", n=4),)))
    wanted = EventFilter(types=frozenset({"x.done", "y.done"}))

    everything = await store.read_all(0, wanted, 10)
    paged = [*(await store.read_all(0, wanted, 2)), *(await store.read_all(1_303, wanted, 2))]
    stored = await store.read_stored(0, 10, EventFilter(types=frozenset({"y.done"})))

    assert [e.payload["n"] for e in everything] == [1, 2, 3, 4]
    assert [e.position for e in everything] == [1, 1_302, 1_303, 2_504]
    assert [e.payload["n"] for e in paged] == [1, 2, 4]
    assert [e.position for e in stored] == [1_302, 2_504]


async def test_an_import_restores_the_usage_claims_of_the_imported_usage_events(
    store: EventStore, backend: Backend, database_name: str
) -> None:
    record = UsageRecord("sub_1", "api_calls", "p0", "p1", "key-1", "3", 0, {}, None)
    usage = NewEvent(
        type=UsageRecorded.TYPE,
        payload=UsageRecorded.of("org_1", [record]).payload(),
        occurred_at=T0,
        schema_version=UsageRecorded.VERSION,
        organization_id="org_1",
    )
    await store.append(StreamAppend("usage-1", 0, (usage,)), claims=[claim_key("org_1", "key-1")])
    lines = [event_line(e) for e in await store.read_stored(0, 10)]
    fresh = await _fresh_store(backend, database_name + "_claims")
    try:
        await import_lines(fresh, lines, upcasters())
        assert await fresh.claimed([claim_key("org_1", "key-1"), claim_key("org_1", "key-2")]) == {
            claim_key("org_1", "key-1")
        }
    finally:
        await fresh.close()
        if backend.client is not None:
            await backend.client.drop_database(database_name + "_claims")
