"""The event store contract (ARCHITECTURE.md §3), proven on every store implementation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from billing_grpc.eventstore import (
    ClaimConflict,
    EventFilter,
    EventIdConflict,
    EventMetadata,
    EventStore,
    NewEvent,
    RecordedEvent,
    StreamAppend,
    Upcasters,
    WrongExpectedVersion,
    subscribe,
)
from tests.contract.conftest import StoreFactory

T0 = datetime(2026, 1, 31, 12, 0, 0, 123456, tzinfo=UTC)


def event(kind: str = "thing.happened", **payload: object) -> NewEvent:
    return NewEvent(type=kind, payload=dict(payload), occurred_at=T0)


def append(stream: str, expected: int | None, *events: NewEvent) -> StreamAppend:
    return StreamAppend(stream, expected, events or (event(),))


async def test_a_new_stream_starts_at_version_one_and_keeps_everything(store: EventStore) -> None:
    metadata = EventMetadata(correlation_id="corr-1", causation_id="cmd-1", actor="user:alice")
    first = NewEvent(
        type="invoice.issued",
        payload={"amount_minor": 2**62, "currency": "USD", "lines": [{"text": "Größe ✓"}], "paid": False, "n": None},
        occurred_at=T0,
        metadata=metadata,
    )
    recorded = await store.append(append("invoice-1", 0, first, event("invoice.finalized")))

    assert [(e.stream_id, e.stream_version, e.position) for e in recorded] == [
        ("invoice-1", 1, 1),
        ("invoice-1", 2, 2),
    ]
    read = await store.read_stream("invoice-1")
    assert read == recorded
    assert read[0].payload == first.payload
    assert read[0].metadata == metadata
    assert read[0].event_id == first.event_id
    assert read[0].occurred_at == T0.replace(microsecond=123000)  # the log keeps milliseconds
    assert read[0].recorded_at.tzinfo is not None
    assert await store.head_position() == 2


async def test_expected_version_must_match_or_nothing_is_written(store: EventStore) -> None:
    await store.append(append("s", 0, event(), event()))

    for wrong in (0, 1, 3):
        with pytest.raises(WrongExpectedVersion) as raised:
            await store.append(append("s", wrong))
        assert raised.value.actual == 2
    assert await store.head_position() == 2

    recorded = await store.append(append("s", 2))
    assert recorded[0].stream_version == 3
    anywhere = await store.append(append("s", None))
    assert anywhere[0].stream_version == 4


async def test_an_append_to_several_streams_is_all_or_nothing(store: EventStore) -> None:
    await store.append(append("b", 0))

    with pytest.raises(WrongExpectedVersion):
        await store.append(append("a", 0), append("b", 0))
    assert await store.read_stream("a") == []
    assert await store.head_position() == 1

    both = await store.append(append("a", 0), append("b", 1))
    assert [(e.stream_id, e.stream_version, e.position) for e in both] == [("a", 1, 2), ("b", 2, 3)]


async def test_appending_the_same_event_ids_again_records_them_once(store: EventStore) -> None:
    batch = append("s", 0, event(), event())
    first = await store.append(batch)

    retried = await store.append(batch)  # e.g. the client never saw the first answer

    assert retried == first
    assert await store.head_position() == 2
    with pytest.raises(EventIdConflict):  # one old id among new ones is a bug, not a retry
        await store.append(append("s", 2, batch.events[0], event()))
    assert await store.head_position() == 2


async def test_read_all_is_in_position_order_with_filters_and_limit(store: EventStore) -> None:
    await store.append(append("a", 0, event("x.one"), event("x.two")))
    await store.append(append("b", 0, event("x.one")))
    await store.append(append("a", 2, event("x.three")))

    everything = await store.read_all()
    assert [e.position for e in everything] == [1, 2, 3, 4]
    assert [e.position for e in await store.read_all(after_position=2)] == [3, 4]
    assert [e.position for e in await store.read_all(limit=3)] == [1, 2, 3]
    only_a = await store.read_all(event_filter=EventFilter(stream_id="a"))
    assert [(e.stream_id, e.stream_version) for e in only_a] == [("a", 1), ("a", 2), ("a", 3)]
    ones = await store.read_all(event_filter=EventFilter(types=frozenset({"x.one", "x.three"})))
    assert [e.type for e in ones] == ["x.one", "x.one", "x.three"]
    assert await store.read_all(after_position=4) == []


async def test_filters_by_several_types_or_tenants_merge_in_position_order_up_to_the_limit(
    store: EventStore,
) -> None:
    kinds = ["a.x", "b.x", "c.x"]
    for i in range(12):  # interleaved: positions 1..12, types a b c a b c …, tenants t0 t1 t0 …
        tenant = f"t{i % 2}"
        await store.append(
            StreamAppend(f"s{i}", 0, (NewEvent(kinds[i % 3], {}, occurred_at=T0, organization_id=tenant),))
        )

    two_types = EventFilter(types=frozenset({"a.x", "c.x"}))
    assert [e.position for e in await store.read_all(0, two_types, limit=5)] == [1, 3, 4, 6, 7]
    assert [e.position for e in await store.read_all(6, two_types, limit=5)] == [7, 9, 10, 12]
    tenants = EventFilter(organization_ids=frozenset({"t0", "t1"}))
    assert [e.position for e in await store.read_all(3, tenants, limit=4)] == [4, 5, 6, 7]
    one_tenant_two_types = EventFilter(types=frozenset({"a.x", "b.x"}), organization_ids=frozenset({"t1"}))
    assert [e.position for e in await store.read_all(0, one_tenant_two_types)] == [2, 4, 8, 10]
    assert await store.read_all(0, EventFilter(organization_ids=frozenset())) == []


async def test_subscribe_catches_up_then_follows_live(store: EventStore) -> None:
    await store.append(append("s", 0, event(), event(), event()))
    seen: list[int] = []

    async def follow() -> None:
        async for recorded in subscribe(store, 0, poll_interval=0.05):
            seen.append(recorded.position)
            if len(seen) == 5:
                return

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0.1)
    await store.append(append("s", 3, event(), event()))
    await asyncio.wait_for(follower, 5)

    assert seen == [1, 2, 3, 4, 5]


async def test_subscribe_with_a_filter_skips_other_events_and_resumes_from_a_position(store: EventStore) -> None:
    await store.append(append("s", 0, event("a.x"), event("b.x"), event("a.x")))
    seen: list[int] = []

    async def follow() -> None:
        async for recorded in subscribe(store, 1, EventFilter(types=frozenset({"a.x"})), poll_interval=0.05):
            seen.append(recorded.position)
            if len(seen) == 2:
                return

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0.1)
    await store.append(append("s", 3, event("b.x"), event("a.x")))
    await asyncio.wait_for(follower, 5)

    assert seen == [3, 5]


def rename_period(payload: dict[str, object]) -> dict[str, object]:
    renamed = dict(payload)
    renamed["interval"] = renamed.pop("period")
    return renamed


async def test_old_schema_versions_are_upcast_when_read(open_store: StoreFactory) -> None:
    upcasters = Upcasters()
    upcasters.register("plan.created", 1, lambda p: {**p, "interval_count": 1})
    upcasters.register("plan.created", 2, rename_period)
    store = await open_store(upcasters)
    old = NewEvent(type="plan.created", payload={"period": "month"}, occurred_at=T0, schema_version=1)

    appended = await store.append(append("plan-1", 0, old))

    expected = {"interval": "month", "interval_count": 1}
    assert (appended[0].schema_version, appended[0].payload) == (3, expected)
    for read in (await store.read_stream("plan-1"), await store.read_all()):
        assert (read[0].schema_version, read[0].payload) == (3, expected)


async def test_concurrent_appenders_are_seen_once_in_order_by_a_tailing_reader(open_store: StoreFactory) -> None:
    """8 appenders (over two store instances, like two servers) race on shared streams."""
    writers = [await open_store(), await open_store()]
    reader_store = writers[0]
    appenders, rounds, streams = 8, 25, 6
    total = appenders * rounds * 2
    committed: list[int] = []
    seen: list[int] = []

    async def appender(number: int) -> None:
        store = writers[number % len(writers)]
        for round_number in range(rounds):
            stream = f"shared-{(number + round_number) % streams}"
            while True:  # optimistic concurrency: re-read the version and try again
                version = len(await store.read_stream(stream))
                try:
                    recorded = await store.append(
                        append(stream, version, event(n=number)),
                        append(f"own-{number}-{round_number}", 0, event(n=number)),
                    )
                    break
                except WrongExpectedVersion:
                    await asyncio.sleep(0)
            committed.extend(e.position for e in recorded)

    async def reader() -> None:
        async for recorded in subscribe(reader_store, 0, poll_interval=0.02):
            seen.append(recorded.position)
            if len(seen) == total:
                return

    tail = asyncio.create_task(reader())
    await asyncio.gather(*(appender(n) for n in range(appenders)))
    await asyncio.wait_for(tail, 30)

    assert len(committed) == total
    assert seen == list(range(1, total + 1))  # once each, in order, none skipped, no gaps
    assert sorted(committed) == seen
    for stream in range(streams):
        versions = [e.stream_version for e in await reader_store.read_stream(f"shared-{stream}")]
        assert versions == list(range(1, len(versions) + 1))


async def test_times_are_utc_and_new_events_refuse_naive_times() -> None:
    with pytest.raises(ValueError):
        NewEvent(type="t", payload={}, occurred_at=datetime(2026, 1, 1))
    local = datetime(2026, 1, 1, 1, 0, tzinfo=UTC).astimezone(tz=__import__("datetime").timezone(timedelta(hours=1)))
    assert NewEvent(type="t", payload={}, occurred_at=local).occurred_at.tzinfo == UTC


def test_event_ids_default_to_fresh_uuids() -> None:
    assert event().event_id != event().event_id
    assert isinstance(event().event_id, type(uuid4()))


async def test_claimed_keys_are_recorded_with_the_events_and_never_twice(store: EventStore) -> None:
    first = await store.append(append("usage-1", 0), claims=["org_a:k1", "org_a:k2"])
    assert await store.claimed(["org_a:k1", "org_a:k2", "org_a:k3"]) == {"org_a:k1", "org_a:k2"}

    with pytest.raises(ClaimConflict) as raised:
        await store.append(append("usage-2", 0), claims=["org_a:k3", "org_a:k2"])
    assert raised.value.keys == {"org_a:k2"}
    assert await store.head_position() == 1
    assert await store.claimed(["org_a:k3"]) == set()

    retried = await store.append(append("usage-1", 0, *first_events(first)), claims=["org_a:k1", "org_a:k2"])
    assert retried == first  # a retry of the same events is answered, not refused


def first_events(recorded: list[RecordedEvent]) -> tuple[NewEvent, ...]:
    return tuple(
        NewEvent(type=e.type, payload=e.payload, occurred_at=e.occurred_at, event_id=e.event_id) for e in recorded
    )


async def test_concurrent_appends_claiming_one_key_let_exactly_one_win(open_store: StoreFactory) -> None:
    stores = [await open_store(), await open_store()]

    results = await asyncio.gather(
        *(stores[i % 2].append(append(f"usage-{i}", 0), claims=["shared", f"own-{i}"]) for i in range(10)),
        return_exceptions=True,
    )

    assert sum(1 for r in results if isinstance(r, list)) == 1
    assert all(isinstance(r, ClaimConflict) for r in results if not isinstance(r, list))
    assert await stores[0].head_position() == 1
    assert len(await stores[1].claimed([f"own-{i}" for i in range(10)])) == 1


async def test_the_latest_position_of_some_types_is_known_without_reading(store: EventStore) -> None:
    assert await store.heads(frozenset({"a.x"})) == (0, {"a.x": 0})
    await store.append(append("s", 0, event("a.x"), event("b.x")))
    await store.append(append("s", 2, event("c.x")))

    assert await store.heads(frozenset({"a.x"})) == (3, {"a.x": 1})
    assert await store.heads(frozenset({"a.x", "b.x"})) == (3, {"a.x": 1, "b.x": 2})
    assert await store.heads(frozenset({"c.x", "zzz"})) == (3, {"c.x": 3, "zzz": 0})
    assert await store.heads(frozenset()) == (3, {})


async def test_an_expected_stream_must_be_at_its_version_or_nothing_is_written(store: EventStore) -> None:
    await store.append(append("period-gate", 0))

    await store.append(append("usage-1", 0), expect={"period-gate": 1, "never-written": 0})
    with pytest.raises(WrongExpectedVersion) as raised:
        await store.append(append("usage-2", 0), expect={"period-gate": 0})
    assert (raised.value.stream_id, raised.value.actual) == ("period-gate", 1)
    with pytest.raises(WrongExpectedVersion):
        await store.append(append("usage-3", 0), expect={"never-written": 1})

    assert await store.head_position() == 2
    assert await store.read_stream("usage-2") == []


async def test_an_append_expecting_a_stream_never_commits_after_that_stream_moved(open_store: StoreFactory) -> None:
    # Usage for a period expects the subscription's version; the period's seal moves it. Whatever
    # the interleaving across two instances, no usage that expected the old version may land after the seal.
    stores = [await open_store(), await open_store()]
    landed_in_all_rounds = 0
    for round_ in range(6):
        gate = f"gate-{round_}"
        await stores[0].append(append(gate, 0))

        async def usage(i: int, gate: str = gate) -> list[RecordedEvent] | BaseException:
            await asyncio.sleep(0.001 * (i % 6))
            try:
                return await stores[i % 2].append(append(f"usage-{gate}-{i}", 0), expect={gate: 1})
            except WrongExpectedVersion as refused:
                return refused

        async def seal(gate: str = gate) -> list[RecordedEvent]:
            await asyncio.sleep(0.003)
            return await stores[1].append(append(gate, 1))

        *usages, sealed = await asyncio.gather(*(usage(i) for i in range(30)), seal())

        landed = [r[0].position for r in usages if isinstance(r, list)]
        assert all(position < sealed[0].position for position in landed)
        assert all(isinstance(r, list | WrongExpectedVersion) for r in usages)
        landed_in_all_rounds += len(landed) + 2
    assert await stores[0].head_position() == landed_in_all_rounds


async def test_claimed_answers_for_many_keys_wherever_the_claimed_ones_are(store: EventStore) -> None:
    keys = [f"org_a:k{i}" for i in range(700)]
    taken = {keys[0], keys[251], keys[699]}
    await store.append(append("usage-1", 0), claims=sorted(taken))

    assert await store.claimed(keys) == taken


async def test_a_page_of_several_types_is_the_first_of_their_merge(store: EventStore) -> None:
    kinds = ["x.one", "x.two", "x.one", "x.three", "x.two", "x.one", "x.two"]
    await store.append(append("a", 0, *(event(kind) for kind in kinds)))
    wanted = EventFilter(types=frozenset({"x.one", "x.two"}))

    page = await store.read_all(after_position=1, event_filter=wanted, limit=4)

    assert [(e.position, e.type) for e in page] == [(2, "x.two"), (3, "x.one"), (5, "x.two"), (6, "x.one")]
