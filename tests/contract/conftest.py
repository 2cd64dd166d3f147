"""Every contract test runs once per store implementation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from pymongo import AsyncMongoClient

from billing_grpc.eventstore import EventStore, Upcasters
from billing_grpc.eventstore.memory import InMemoryEventStore
from billing_grpc.eventstore.mongo import MongoEventStore
from projections.mongo_store import MongoReadModels
from projections.store import InMemoryReadModels, ReadModelStore

StoreFactory = Callable[..., Awaitable[EventStore]]


@dataclass
class Backend:
    """The store implementation under test: in memory, or MongoDB with a client and database."""

    kind: str
    client: AsyncMongoClient[dict[str, object]] | None
    database: str


@pytest.fixture(params=["memory", "mongo"])
async def backend(request: pytest.FixtureRequest, database_name: str) -> AsyncIterator[Backend]:
    """One run per implementation; the MongoDB run gets a fresh database."""
    if request.param == "memory":
        yield Backend("memory", None, database_name)
        return
    uri = request.getfixturevalue("mongo_uri")
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri, serverSelectionTimeoutMS=5000, tz_aware=True)
    try:
        yield Backend("mongo", client, database_name)
    finally:
        await client.drop_database(database_name)
        await client.close()


@pytest.fixture
async def open_store(backend: Backend) -> AsyncIterator[StoreFactory]:
    """A factory of event stores on one shared log; several may be open at once, like servers."""
    opened: list[EventStore] = []
    shared_memory = InMemoryEventStore()

    async def factory(upcasters: Upcasters | None = None) -> EventStore:
        store: EventStore
        if backend.client is None:
            store = shared_memory if upcasters is None else InMemoryEventStore(upcasters=upcasters)
        else:
            mongo = MongoEventStore(backend.client, backend.database, upcasters=upcasters or Upcasters())
            await mongo.start()
            store = mongo
        opened.append(store)
        return store

    yield factory
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_store: StoreFactory) -> EventStore:
    """One event store of the kind under test."""
    return await open_store()


@pytest.fixture
def read_models(backend: Backend) -> ReadModelStore:
    """A read-model store of the same kind as the event store."""
    if backend.client is None:
        return InMemoryReadModels()
    return MongoReadModels(backend.client, backend.database)
