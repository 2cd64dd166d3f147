"""The real server on a free port, on the MongoDB-wire store, called through generated stubs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from grpc import aio
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from billing_grpc.api.server import Server, create_server
from billing_grpc.bootstrap import App, open_app
from billing_grpc.domain.clock import TestClock
from billing_grpc.settings import Settings

TEST_KEY_HASH_SECRET = SecretStr("e2e-tests-key-hash-secret-0123456789abcdef")


def auth(token: str) -> tuple[tuple[str, str], ...]:
    """Call metadata carrying an API key."""
    return (("authorization", f"Bearer {token}"),)


@dataclass
class Running:
    """A started server, its application, a channel to it, and the platform admin's key."""

    app: App
    server: Server
    channel: aio.Channel
    admin_token: str
    clock: TestClock
    bootstrap_head: int

    @property
    def admin(self) -> tuple[tuple[str, str], ...]:
        """Call metadata authenticating as the platform admin."""
        return auth(self.admin_token)


async def start_running(mongo_uri: str, database: str, **settings: object) -> AsyncIterator[Running]:
    """Open the app on `database`, start the server on a free port, and clean up afterwards."""
    config = Settings(
        mongo_uri=mongo_uri,
        database=database,
        listen="127.0.0.1:0",
        key_hash_secret=TEST_KEY_HASH_SECRET,
        **settings,  # type: ignore[arg-type]
    )
    clock = TestClock(datetime(2026, 1, 15, 9, 0, tzinfo=UTC))
    try:
        async with open_app(config, clock=clock) as app:
            assert app.bootstrap is not None and app.bootstrap.token is not None
            head = await app.store.head_position()
            await app.projections.wait_until(head)
            server = create_server(app)
            await server.start()
            channel = aio.insecure_channel(f"127.0.0.1:{server.port}")
            try:
                yield Running(app, server, channel, app.bootstrap.token, clock, head)
            finally:
                await channel.close()
                await server.stop(grace=0)
    finally:
        # Only once the application has stopped: dropping a database under running projections
        # and an open writer left transactions behind that stalled later tests on the shared store.
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_uri)
        await client.drop_database(database)
        await client.close()


@pytest.fixture
async def running(mongo_uri: str, database_name: str) -> AsyncIterator[Running]:
    """A server on 127.0.0.1 and an OS-chosen port, backed by a fresh database."""
    async for started in start_running(mongo_uri, database_name):
        yield started
