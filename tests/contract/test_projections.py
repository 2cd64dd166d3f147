"""The projection engine on every store: checkpoints, restarts, live following, rebuilds."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest
from pymongo import AsyncMongoClient

from billing_grpc.eventstore import EventStore, NewEvent, RecordedEvent, StreamAppend
from billing_grpc.eventstore.mongo import MongoEventStore
from projections.model import Index, View
from projections.mongo_store import MongoReadModels
from projections.runner import ProjectionRunner
from projections.store import CheckpointMoved, ReadModelStore

T0 = datetime(2026, 3, 1, tzinfo=UTC)


class TallyProjection:
    """Counts `tally.added` amounts per stream, and forgets a stream on `tally.cleared`."""

    name = "tally"
    handles = frozenset({"tally.added", "tally.cleared"})
    collections: Mapping[str, Sequence[Index]] = {"tallies": [Index((("total", -1),))]}

    async def apply(self, event: RecordedEvent, view: View) -> None:
        if event.type == "tally.cleared":
            view.delete("tallies", event.stream_id)
            return
        current = await view.get("tallies", event.stream_id) or {"total": 0, "events": 0}
        view.put(
            "tallies",
            event.stream_id,
            {
                "total": current["total"] + event.payload["amount"],
                "events": current["events"] + 1,
                "last_position": event.position,
            },
        )


async def add(store: EventStore, stream: str, *amounts: int, kind: str = "tally.added") -> list[RecordedEvent]:
    events = tuple(NewEvent(type=kind, payload={"amount": a}, occurred_at=T0) for a in amounts)
    return await store.append(StreamAppend(stream, None, events))


async def tallies(read_models: ReadModelStore) -> dict[str, int]:
    return {doc["_id"]: doc["total"] for doc in await read_models.find("tallies", {})}


async def test_catch_up_applies_every_handled_event_and_records_the_checkpoint(
    store: EventStore, read_models: ReadModelStore
) -> None:
    await add(store, "a", 1, 2, 3)
    await add(store, "b", 10)
    await store.append(StreamAppend("noise", None, (NewEvent(type="other.thing", payload={}, occurred_at=T0),)))
    runner = ProjectionRunner(store, read_models, [TallyProjection()], batch_size=2)

    head = await runner.catch_up()

    assert await tallies(read_models) == {"a": 6, "b": 10}
    assert await read_models.checkpoint("tally") == 4  # the last handled event; 5 was not ours
    assert head == 5
    assert await runner.wait_until(head, timeout=0.1)


async def test_a_restarted_runner_resumes_without_applying_anything_twice(
    store: EventStore, read_models: ReadModelStore
) -> None:
    await add(store, "a", 1, 2)
    await ProjectionRunner(store, read_models, [TallyProjection()]).catch_up()
    await add(store, "a", 4)

    await ProjectionRunner(store, read_models, [TallyProjection()]).catch_up()  # "after a restart"

    assert await tallies(read_models) == {"a": 7}
    doc = await read_models.get("tallies", "a")
    assert doc is not None and doc["events"] == 3


async def test_a_running_runner_follows_live_appends(store: EventStore, read_models: ReadModelStore) -> None:
    runner = ProjectionRunner(store, read_models, [TallyProjection()], poll_interval=0.05)
    await runner.start()
    try:
        recorded = await add(store, "live", 5, 6)
        assert await runner.wait_until(recorded[-1].position, timeout=5)
        assert await tallies(read_models) == {"live": 11}
        recorded = await add(store, "live", 0, kind="tally.cleared")
        assert await runner.wait_until(recorded[-1].position, timeout=5)
        assert await tallies(read_models) == {}
    finally:
        await runner.stop()


async def test_rebuild_from_zero_reproduces_the_live_read_model(store: EventStore, read_models: ReadModelStore) -> None:
    for stream in ("a", "b", "c"):
        await add(store, stream, 1, 2, 3)
    await add(store, "b", 0, kind="tally.cleared")
    runner = ProjectionRunner(store, read_models, [TallyProjection()])
    await runner.catch_up()
    live = await read_models.find("tallies", {})
    await read_models.commit("tally", {"tallies": {"a": {"_id": "a", "total": -999}}}, 10, 10)  # corrupt it

    await runner.rebuild(TallyProjection())

    assert await read_models.find("tallies", {}) == live
    assert await read_models.checkpoint("tally") == 10


async def test_a_batch_commits_only_from_the_checkpoint_it_started_at(read_models: ReadModelStore) -> None:
    await read_models.commit("tally", {"tallies": {"x": {"_id": "x", "total": 1}}}, 0, 3)

    with pytest.raises(CheckpointMoved):  # a second runner that also started from 0
        await read_models.commit("tally", {"tallies": {"x": {"_id": "x", "total": 2}}}, 0, 3)

    assert await read_models.get("tallies", "x") == {"_id": "x", "total": 1}
    assert await read_models.checkpoint("tally") == 3


async def test_read_models_answer_range_queries_sorted_and_paged(read_models: ReadModelStore) -> None:
    docs = {str(i): {"_id": str(i), "total": i, "kind": "even" if i % 2 == 0 else "odd"} for i in range(10)}
    await read_models.commit("tally", {"tallies": docs}, 0, 1)

    found = await read_models.find("tallies", {"kind": "even", "total": {"$gte": 4}}, sort=[("total", -1)])
    assert [d["total"] for d in found] == [8, 6, 4]
    page = await read_models.find("tallies", {}, sort=[("total", 1)], skip=2, limit=3)
    assert [d["total"] for d in page] == [2, 3, 4]
    assert [d["total"] for d in await read_models.find("tallies", {"total": {"$in": [1, 9]}})] == [1, 9]


async def test_read_models_return_only_the_fields_asked_for(read_models: ReadModelStore) -> None:
    docs = {str(i): {"_id": str(i), "total": i, "kind": "even" if i % 2 == 0 else "odd"} for i in range(4)}
    await read_models.commit("tally", {"tallies": docs}, 0, 1)

    ids = await read_models.find("tallies", {"kind": "odd"}, sort=[("total", -1)], fields=())
    assert ids == [{"_id": "3"}, {"_id": "1"}]
    totals = await read_models.find("tallies", {"total": {"$lte": 1}}, fields=("total",))
    assert totals == [{"_id": "0", "total": 0}, {"_id": "1", "total": 1}]
    assert (await read_models.get("tallies", "3")) == docs["3"]  # the stored document is whole


async def test_two_runners_racing_on_one_projection_never_double_count(
    store: EventStore, read_models: ReadModelStore
) -> None:
    await add(store, "a", *range(1, 101))
    runners = [ProjectionRunner(store, read_models, [TallyProjection()], batch_size=7) for _ in range(2)]

    results = await asyncio.gather(*(r.catch_up() for r in runners), return_exceptions=True)

    assert all(r == 100 or isinstance(r, CheckpointMoved) for r in results), results
    await ProjectionRunner(store, read_models, [TallyProjection()]).catch_up()
    assert await tallies(read_models) == {"a": sum(range(1, 101))}


async def test_a_view_prefetches_in_one_query_and_its_own_writes_win(read_models: ReadModelStore) -> None:
    docs = {k: {"_id": k, "total": n} for n, k in enumerate(["a", "b", "c"])}
    await read_models.commit("tally", {"tallies": docs}, 0, 1)
    view = View(read_models)

    await view.prefetch("tallies", ["a", "c", "missing"])
    view.put("tallies", "c", {"total": 99})

    assert await view.get("tallies", "a") == {"_id": "a", "total": 0}
    assert await view.get("tallies", "c") == {"_id": "c", "total": 99}
    assert await view.get("tallies", "missing") is None
    assert await view.get("tallies", "b") == {"_id": "b", "total": 1}  # not prefetched: read on demand
    assert view.read[("tallies", "missing")] is None


async def test_starting_creates_every_collection_so_no_transaction_has_to(
    mongo_client: AsyncMongoClient[dict[str, object]], database_name: str
) -> None:
    # Only MongoDB has collections to create: a first insert inside a transaction stalled secantusdb.
    store = MongoEventStore(mongo_client, database_name)
    await store.start()
    runner = ProjectionRunner(store, MongoReadModels(mongo_client, database_name), [TallyProjection()])
    await runner.start()
    await runner.stop()
    await store.close()

    names = set(await mongo_client[database_name].list_collection_names())

    assert {"events", "event_counters", "claims", "rm_checkpoints", "rm_tallies"} <= names


async def test_a_follower_commits_past_other_types_without_being_refused(
    store: EventStore, read_models: ReadModelStore
) -> None:
    refused = []
    commit = read_models.commit

    async def counting(*args: object, **kwargs: object) -> None:
        try:
            await commit(*args, **kwargs)  # type: ignore[arg-type]
        except CheckpointMoved:
            refused.append(args)
            raise

    read_models.commit = counting  # type: ignore[method-assign]
    runner = ProjectionRunner(store, read_models, [TallyProjection()], poll_interval=0.05)
    await runner.start()
    try:
        assert await runner.wait_until((await add(store, "a", 1))[-1].position, timeout=5)
        assert await runner.wait_until((await add(store, "other", 7, kind="other.happened"))[-1].position, timeout=5)
        assert await runner.wait_until((await add(store, "a", 2))[-1].position, timeout=5)
    finally:
        await runner.stop()

    assert refused == []
    assert await tallies(read_models) == {"a": 3}
    assert await read_models.checkpoint("tally") == await store.head_position()
