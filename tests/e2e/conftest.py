"""The real server on a free port, on the MongoDB-wire store, called through generated stubs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from grpc import aio

from billing_grpc.api.server import Server, create_server
from billing_grpc.bootstrap import App, open_app
from billing_grpc.settings import Settings


@dataclass
class Running:
    """A started server, its application and a channel to it."""

    app: App
    server: Server
    channel: aio.Channel


@pytest.fixture
async def running(mongo_uri: str, database_name: str) -> AsyncIterator[Running]:
    """A server on 127.0.0.1 and an OS-chosen port, backed by a fresh database."""
    settings = Settings(mongo_uri=mongo_uri, database=database_name, listen="127.0.0.1:0")
    async with open_app(settings) as app:
        server = create_server(app)
        await server.start()
        channel = aio.insecure_channel(f"127.0.0.1:{server.port}")
        try:
            yield Running(app, server, channel)
        finally:
            await channel.close()
            await server.stop(grace=0)
            client = app.store._client  # type: ignore[attr-defined]
            await client.drop_database(database_name)
