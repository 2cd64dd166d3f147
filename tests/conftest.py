"""Shared fixtures: one MongoDB-wire store per test session, a fresh database per test.

Set MONGO_URI to run everything against a real replica set instead of the embedded store.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from pymongo import AsyncMongoClient

from billing_grpc.embedded import IN_MEMORY, EmbeddedMongo

Document = dict[str, object]


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    """A MongoDB URI: MONGO_URI if set, else an ephemeral embedded store for the session."""
    if uri := os.environ.get("MONGO_URI"):
        yield uri
        return
    with EmbeddedMongo(IN_MEMORY) as server:
        yield server.uri


@pytest.fixture
def database_name() -> str:
    """A database no other test uses."""
    return f"test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def mongo_client(mongo_uri: str, database_name: str) -> AsyncIterator[AsyncMongoClient[Document]]:
    """A client for this test; its database is dropped afterwards."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongo_uri, serverSelectionTimeoutMS=5000, tz_aware=True)
    try:
        yield client
    finally:
        await client.drop_database(database_name)
        await client.close()
