"""The event store on MongoDB, through PyMongo's native asyncio API.

Layout: one `events` collection whose `_id` is the global position, and one counter document.
Every commit increments the counter and inserts its events in one multi-document transaction,
so concurrent committers (in this process or others) conflict on the counter and serialise:
positions therefore increase in commit order and a tailing reader never skips an event.

Within a process every append goes through one writer task that commits many callers' batches
in a single transaction (group commit). Transactions on one counter document do not scale with
concurrent writers, but one writer with big transactions does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any
from uuid import UUID

from bson.codec_options import CodecOptions
from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from billing_grpc.domain.clock import Clock, SystemClock
from billing_grpc.domain.errors import BillingError, ConcurrencyConflict
from billing_grpc.eventstore.chain import GENESIS_HASH, chained
from billing_grpc.eventstore.envelope import (
    EVERYTHING,
    EventFilter,
    RecordedEvent,
    StreamAppend,
    to_log_precision,
)
from billing_grpc.eventstore.errors import StoreUnavailable
from billing_grpc.eventstore.mongo_documents import (
    CLAIMS,
    COUNTERS,
    EVENTS,
    POSITION_COUNTER,
    Document,
    decode,
    encode,
    ensure_collections,
    type_field,
)
from billing_grpc.eventstore.planning import Accepted, Row, check_import, decide, event_ids, streams_needing_versions
from billing_grpc.eventstore.port import DEFAULT_PAGE
from billing_grpc.eventstore.upcasting import NO_UPCASTERS, Upcasters

log = logging.getLogger(__name__)

# How long a commit keeps retrying write conflicts with other processes before giving up.
CONFLICT_RETRY_SECONDS = 10.0
# How many positions one light query of a several-types read walks at a time.
READ_WINDOW = 2000
# The widest window of positions one read query spans while matches are sparse.
MAX_READ_WINDOW = 64_000
# How often a batch that broke a unique index is decided again on fresh state.
STRICT_ATTEMPTS = 5


@dataclass
class _Pending:
    """One caller's atomic batch waiting for the writer."""

    batch: tuple[StreamAppend, ...]
    claims: tuple[str, ...] = ()
    expect: Mapping[str, int] = field(default_factory=dict)
    future: asyncio.Future[list[RecordedEvent]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def size(self) -> int:
        return sum(len(append.events) for append in self.batch)


class MongoEventStore:
    """The event store contract on MongoDB (a replica set, or the embedded MongoDB-wire store)."""

    def __init__(
        self,
        client: AsyncMongoClient[Document],
        database: str,
        *,
        clock: Clock | None = None,
        upcasters: Upcasters = NO_UPCASTERS,
        max_group_events: int = 5000,
        max_queued_batches: int = 1024,
    ) -> None:
        self._client = client
        db: AsyncDatabase[Document] = client.get_database(
            database,
            codec_options=CodecOptions(tz_aware=True, tzinfo=UTC),
            # Acknowledged money and usage must survive a failover: majority writes, and
            # readers only see what a majority holds, so nothing they saw can roll back.
            write_concern=WriteConcern("majority"),
            read_concern=ReadConcern("majority"),
        )
        self._db = db
        self._events: AsyncCollection[Document] = db[EVENTS]
        self._counters: AsyncCollection[Document] = db[COUNTERS]
        # Claimed unique keys, one document each with only the `_id` index: as cheap as a write gets.
        self._claims: AsyncCollection[Document] = db[CLAIMS]
        self._clock = clock or SystemClock()
        self._upcasters = upcasters
        self._max_group_events = max_group_events
        # Bounded, so a slow store slows appenders down instead of buffering without limit.
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue(maxsize=max_queued_batches)
        self._writer: asyncio.Task[None] | None = None
        self._known_head = 0
        self._appended = asyncio.Event()

    async def start(self) -> None:
        """Create the collections and indexes every query path needs and start the writer task."""
        await ensure_collections(self._db, [EVENTS, COUNTERS, CLAIMS])
        await self._events.create_index(
            [("stream_id", ASCENDING), ("stream_version", ASCENDING)], unique=True, name="stream_version"
        )
        await self._events.create_index("event_id", unique=True, name="event_id")
        # Ordered reads go through `position` (a copy of `_id`), never an `_id` range: see _read_after.
        await self._events.create_index("position", name="position")
        await self._events.create_index([("type", ASCENDING), ("position", ASCENDING)], name="type_by_position")
        await self._events.create_index(
            [("organization_id", ASCENDING), ("position", ASCENDING)], name="organization_by_position"
        )
        if self._writer is None:
            self._writer = asyncio.create_task(self._run_writer(), name="eventstore-writer")

    async def close(self) -> None:
        """Commit what is queued, then stop the writer."""
        if self._writer is None:
            return
        await self._queue.put(None)
        await self._writer
        self._writer = None

    async def append(
        self, *batch: StreamAppend, claims: Sequence[str] = (), expect: Mapping[str, int] | None = None
    ) -> list[RecordedEvent]:
        """Append to one or more streams atomically (see EventStore.append)."""
        if self._writer is None:
            raise RuntimeError("MongoEventStore.start() was not awaited")
        pending = _Pending(tuple(batch), tuple(claims), dict(expect or {}))
        await self._queue.put(pending)
        return await pending.future

    async def claimed(self, keys: Sequence[str]) -> set[str]:
        """Which of these keys are claimed."""
        if not keys:
            return set()
        async with _unavailable_on_connection_loss():
            docs = await self._claims.find({"_id": {"$in": list(keys)}}, {"_id": 1}).to_list()
        return {doc["_id"] for doc in docs}

    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        """Every event of a stream after `after_version`."""
        query = {"stream_id": stream_id, "stream_version": {"$gt": after_version}}
        async with _unavailable_on_connection_loss():
            docs = await self._events.find(query).sort("stream_version", ASCENDING).to_list()
        return [self._decode(doc) for doc in docs]

    async def read_all(
        self, after_position: int = 0, event_filter: EventFilter = EVERYTHING, limit: int = DEFAULT_PAGE
    ) -> list[RecordedEvent]:
        """Up to `limit` events after `after_position` that pass the filter."""
        async with _unavailable_on_connection_loss():
            docs = await self._read_after(after_position, event_filter, limit)
        return [self._decode(doc) for doc in docs]

    async def _read_after(self, after: int, event_filter: EventFilter, limit: int) -> list[Document]:
        """The documents of `read_all`, each query served by an index on any server.

        Ranges on `_id`, and `$in` combined with a range, were measured as collection scans on
        secantusdb (cost growing with the log), while equality-plus-range on a secondary index
        and `_id` point lookups stay flat. So each type, or each organization, is one equality
        plus a `position` range, and the parts are merged; near the head, several types are read
        with one light query (`_id`, `type`) over the few positions left and fetched by `_id`.

        Every query is a bounded window of positions, sorted here: secantusdb answers a
        `sort(position).limit(n)` after a range by fetching and sorting everything after the
        start (measured: 0.7 s for a page at position 5,000 of 10,000, a bounded window of the
        same size 0.07 s), which made a replay from position 0 quadratic in the log's length.
        Windows widen while matches are sparse; the first `limit` matches of the windows read
        are the first `limit` after `after`.
        """
        types = sorted(event_filter.types)
        organizations = None if event_filter.organization_ids is None else sorted(event_filter.organization_ids)
        rest: Document = {} if event_filter.stream_id is None else {"stream_id": event_filter.stream_id}
        head, _ = await self.heads(frozenset())
        if len(types) > 1 and head - after <= READ_WINDOW:
            return await self._read_types_near_head(after, head, types, organizations, rest, limit)
        if types:
            if organizations is not None:
                rest["organization_id"] = {"$in": organizations}
            parts = [{"type": t, **rest} for t in types]
        elif organizations is not None:
            parts = [{"organization_id": o, **rest} for o in organizations]
        else:
            parts = [rest]
        found: list[Document] = []
        window = limit
        while after < head and len(found) < limit:
            end = min(after + window, head)
            for part in parts:
                found += await self._events.find({**part, "position": {"$gt": after, "$lte": end}}).to_list()
            after = end
            window = min(window * 2, MAX_READ_WINDOW)
        found.sort(key=lambda doc: int(doc["_id"]))
        return found[:limit]

    async def _read_types_near_head(
        self, after: int, head: int, types: list[str], organizations: list[str] | None, rest: Document, limit: int
    ) -> list[Document]:
        """Several types among the last few positions: one light query instead of one per type."""
        wanted = set(types)
        query = {**rest, "position": {"$gt": after, "$lte": head}}
        seen = await self._events.find(query, {"type": 1, "organization_id": 1}).to_list()
        ids = sorted(
            int(doc["_id"])
            for doc in seen
            if doc["type"] in wanted and (organizations is None or doc.get("organization_id") in organizations)
        )[:limit]
        if not ids:
            return []
        docs = await self._events.find({"_id": {"$in": ids}}).to_list()
        docs.sort(key=lambda doc: int(doc["_id"]))
        return docs

    async def head_position(self) -> int:
        """The position of the last committed event."""
        # The counter document moves in the same transaction as the inserts, so it is the head.
        # A point lookup: sorting the log by position is a collection scan on some servers.
        head, _ = await self.heads(frozenset())
        return head

    async def heads(self, types: frozenset[str]) -> tuple[int, dict[str, int]]:
        """The head and the last position of each type, from one read of the counter document."""
        async with _unavailable_on_connection_loss():
            doc = await self._counters.find_one({"_id": POSITION_COUNTER}) or {}
        head = int(doc.get("value", 0))
        self._known_head = max(self._known_head, head)
        latest = doc.get("types", {})
        return head, {t: int(latest.get(type_field(t), 0)) for t in types}

    async def wait_for_append(self, after_position: int, timeout: float) -> None:
        """Return at once if this process committed past `after_position`, else wait for a commit."""
        if self._known_head > after_position:
            return
        # asyncio.timeout, not wait_for: a task cancelled inside wait_for on 3.11 was seen to hang
        # in "cancelling" at shutdown, waiting for an inner task that never finished.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._appended.wait()

    # -- the writer -------------------------------------------------------------------------

    async def _run_writer(self) -> None:
        while True:
            first = await self._queue.get()
            if first is None:
                return
            group, events = [first], first.size
            stop = False
            while events < self._max_group_events and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stop = True
                    break
                group.append(item)
                events += item.size
            try:
                await self._commit_group(group)
            except Exception as exc:  # the writer must outlive any one failure
                log.exception("event store commit failed")
                _fail(group, exc)
            if stop:
                return

    async def _commit_group(self, group: Sequence[_Pending], *, strict: int = 0) -> None:
        """Decide every batch of the group against the stored state, then commit the accepted.

        A unique-index violation aborts the whole transaction; the batches are then retried one
        by one, strictly (reading every stream's version, `strict` more times at most), so a
        batch that lost a race with another writer fails alone, with the version it lost to.
        """
        waiting = [p for p in group if not p.future.done()]  # callers may have given up
        if not waiting:
            return
        batches = [p.batch for p in waiting]
        ids = [i for batch in batches for i in event_ids(batch)]
        expectations = [p.expect for p in waiting]
        appended = {a.stream_id for b in batches for a in b} if strict else set()
        streams = appended | streams_needing_versions(batches, expectations)
        try:
            recorded = await self._recorded(ids)
            versions = await self._versions(streams)
            read_versions = dict(versions)  # decide() advances `versions`; validation needs what was read
            # Callers check their claims before appending (usage ingestion does), so the common
            # path leaves collisions to the unique index; the strict retry names the losers.
            taken = await self.claimed([key for p in waiting for key in p.claims]) if strict else set()
        except ConnectionFailure as exc:
            _fail(waiting, StoreUnavailable(str(exc)))
            return
        accepted: list[tuple[_Pending, list[Row]]] = []
        for pending in waiting:
            try:
                decision = decide(pending.batch, versions, recorded, pending.claims, taken, pending.expect)
            except (BillingError, ValueError) as exc:
                pending.future.set_exception(exc)
                continue
            if isinstance(decision, Accepted):
                accepted.append((pending, decision.rows))
            else:
                pending.future.set_result(decision.events)
        if not accepted:
            return
        try:
            claims = [key for pending, _ in accepted for key in pending.claims]
            # Only-expected streams are not protected by the unique index: re-read them in the
            # transaction, which sees exactly the state the commit applies to.
            validate = {name: read_versions.get(name, 0) for pending, _ in accepted for name in pending.expect}
            committed = await self._commit_rows([rows for _, rows in accepted], claims, validate)
        except _DecideAgain:
            if strict == 1:
                raise ConcurrencyConflict("append_raced", "another writer appended the same stream") from None
            for pending, _ in accepted:
                try:
                    await self._commit_group([pending], strict=strict - 1 if strict else STRICT_ATTEMPTS)
                except Exception as exc:
                    _fail([pending], exc)
            return
        except ConnectionFailure as exc:
            _fail([p for p, _ in accepted], StoreUnavailable(str(exc)))
            return
        for (pending, _), events in zip(accepted, committed, strict=True):
            if not pending.future.done():
                pending.future.set_result(events)

    async def _commit_rows(
        self, groups: Sequence[Sequence[Row]], claims: Sequence[str], validate: Mapping[str, int]
    ) -> list[list[RecordedEvent]]:
        """Give the rows positions and insert them (and the claims) in one transaction; retry conflicts."""
        total = sum(len(rows) for rows in groups)
        deadline = asyncio.get_running_loop().time() + CONFLICT_RETRY_SECONDS
        attempt = 0
        while True:
            try:
                return await self._try_commit_rows(groups, total, claims, validate)
            except PyMongoError as exc:
                if _is_duplicate_key(exc):
                    raise _DecideAgain() from exc
                if not exc.has_error_label("TransientTransactionError"):
                    raise
                if asyncio.get_running_loop().time() > deadline:
                    raise ConcurrencyConflict("write_conflict", "the log is too contended; retry") from exc
                attempt += 1
                await asyncio.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))

    async def _try_commit_rows(
        self, groups: Sequence[Sequence[Row]], total: int, claims: Sequence[str], validate: Mapping[str, int]
    ) -> list[list[RecordedEvent]]:
        recorded_at = to_log_precision(self._clock.now())
        async with self._client.start_session() as session, await session.start_transaction():
            if claims:
                await self._claims.insert_many([{"_id": key} for key in claims], ordered=True, session=session)
            counter = await self._counters.find_one_and_update(
                {"_id": POSITION_COUNTER},
                {"$inc": {"value": total}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            assert counter is not None  # upsert with ReturnDocument.AFTER always returns it
            # `$inc` leaves `last_hash` alone, so this is the hash of the event before ours; the
            # counter is written by every commit, so no other commit can chain on it meanwhile.
            previous_hash = str(counter.get("last_hash", GENESIS_HASH))
            # Every transaction writes the counter, so a transaction whose snapshot is older than
            # another's commit aborts with a write conflict: what it reads here is still current
            # when it commits. Read before inserting, so the group's own rows are not counted.
            if validate and await self._versions(validate, session) != {k: v for k, v in validate.items() if v}:
                raise _DecideAgain()  # decided on versions that moved: decide again, strictly
            position = int(counter["value"]) - total
            results: list[list[RecordedEvent]] = []
            for rows in groups:
                results.append(
                    chained(previous_hash, [row.record(position + i, recorded_at) for i, row in enumerate(rows, 1)])
                )
                previous_hash = results[-1][-1].hash
                position += len(rows)
            docs = [encode(event) for events in results for event in events]
            await self._events.insert_many(docs, ordered=True, session=session)
            latest = {f"types.{type_field(doc['type'])}": doc["_id"] for doc in docs}
            await self._counters.update_one(
                {"_id": POSITION_COUNTER}, {"$max": latest, "$set": {"last_hash": previous_hash}}, session=session
            )
        self._known_head = max(self._known_head, position)
        self._appended.set()
        self._appended = asyncio.Event()
        return [[self._upcasters.apply(event) for event in events] for events in results]

    async def read_stored(
        self, after_position: int = 0, limit: int = DEFAULT_PAGE, event_filter: EventFilter = EVERYTHING
    ) -> list[RecordedEvent]:
        """Like `read_all`, exactly as stored: not upcast, with hashes."""
        async with _unavailable_on_connection_loss():
            docs = await self._read_after(after_position, event_filter, limit)
        return [decode(doc) for doc in docs]

    async def import_events(self, events: Sequence[RecordedEvent], claims: Sequence[str] = ()) -> None:
        """Write recorded events as they are (ids, positions, times, hashes) and their claims."""
        if not events:
            return
        async with self._client.start_session() as session, await session.start_transaction():
            if claims:
                await self._claims.insert_many([{"_id": key} for key in claims], ordered=True, session=session)
            counter = await self._counters.find_one({"_id": POSITION_COUNTER}, session=session) or {}
            check_import(int(counter.get("value", 0)), events)
            await self._events.insert_many([encode(e) for e in events], ordered=True, session=session)
            latest = {f"types.{type_field(e.type)}": e.position for e in events}
            changes: Document = {"$set": {"value": events[-1].position}, "$max": latest}
            if events[-1].hash:
                changes["$set"]["last_hash"] = events[-1].hash
            await self._counters.update_one({"_id": POSITION_COUNTER}, changes, upsert=True, session=session)
        self._known_head = max(self._known_head, events[-1].position)

    async def _recorded(self, ids: Iterable[UUID]) -> dict[UUID, RecordedEvent]:
        keys = [str(i) for i in ids]
        docs = await self._events.find({"event_id": {"$in": keys}}).to_list()
        return {event.event_id: event for event in map(self._decode, docs)}

    async def _versions(self, streams: Iterable[str], session: AsyncClientSession | None = None) -> dict[str, int]:
        wanted = sorted(streams)
        if not wanted:
            return {}
        cursor = await self._events.aggregate(
            [
                {"$match": {"stream_id": {"$in": wanted}}},
                {"$group": {"_id": "$stream_id", "version": {"$max": "$stream_version"}}},
            ],
            session=session,
        )
        return {doc["_id"]: int(doc["version"]) async for doc in cursor}

    def _decode(self, doc: Document) -> RecordedEvent:
        return self._upcasters.apply(decode(doc))


class _DecideAgain(Exception):
    """The commit broke a unique index (a stream version or an event id was taken meanwhile), or a
    stream the decision expected moved: either way the group must be decided again."""


def _is_duplicate_key(exc: PyMongoError) -> bool:
    if isinstance(exc, DuplicateKeyError):
        return True
    if isinstance(exc, BulkWriteError):
        return any(error.get("code") == 11000 for error in exc.details.get("writeErrors", []))
    return False


def _fail(group: Iterable[_Pending], exc: BaseException) -> None:
    for pending in group:
        if not pending.future.done():
            pending.future.set_exception(exc)


@contextlib.asynccontextmanager
async def _unavailable_on_connection_loss() -> Any:
    try:
        yield
    except ConnectionFailure as exc:
        raise StoreUnavailable(str(exc)) from exc
