"""`billing-grpc serve` as a real process: embedded store, clean shutdown, data kept on disk."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pymongo import AsyncMongoClient

from billing.v1 import event_log_pb2, event_log_pb2_grpc
from billing_grpc.embedded import free_port
from billing_grpc.eventstore import NewEvent, StreamAppend
from billing_grpc.eventstore.mongo import MongoEventStore

pytestmark = pytest.mark.slow


@dataclass
class ServerProcess:
    process: asyncio.subprocess.Process
    address: str
    logs: list[dict[str, object]] = field(default_factory=list)
    output: list[str] = field(default_factory=list)

    async def admin_key(self) -> str:
        """The key printed at first start (it follows the SERVING state by a moment)."""
        for _ in range(100):
            keys = [line.strip() for line in self.output if line.strip().startswith("bgk_")]
            if keys:
                return keys[0]
            await asyncio.sleep(0.1)
        raise AssertionError(f"no admin key printed: {self.output}")

    def store_uri(self) -> str:
        return next(str(entry["uri"]) for entry in self.logs if entry.get("message") == "embedded store ready")


async def _collect_output(stream: asyncio.StreamReader, lines: list[str]) -> None:
    while line := await stream.readline():
        lines.append(line.decode())


async def _collect(stream: asyncio.StreamReader, logs: list[dict[str, object]]) -> None:
    while line := await stream.readline():
        try:
            logs.append(json.loads(line))
        except json.JSONDecodeError:
            logs.append({"message": line.decode(errors="replace").strip()})


@asynccontextmanager
async def serve(
    data_dir: Path,
    mongo_uri: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    address: str | None = None,
) -> AsyncIterator[ServerProcess]:
    """A `billing-grpc serve` process: on its embedded store under `data_dir`, or on `mongo_uri`.

    `address` (host:port) restarts a server where clients already point; a free port by default.
    """
    address = address or f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "BILLING_LISTEN": address,
        "BILLING_DATA_DIR": str(data_dir),
        "BILLING_SHUTDOWN_GRACE_SECONDS": "1",
        "BILLING_LOG_FORMAT": "json",
        **(extra_env or {}),
    }
    env.pop("MONGO_URI", None)
    if mongo_uri is not None:
        env["MONGO_URI"] = mongo_uri
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "billing_grpc.cli",
        "serve",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    running = ServerProcess(process, address)
    assert process.stderr is not None and process.stdout is not None
    collector = asyncio.gather(_collect(process.stderr, running.logs), _collect_output(process.stdout, running.output))
    try:
        await _wait_serving(address)
        yield running
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await collector


async def _wait_serving(address: str, timeout: float = 30) -> None:
    async with aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except aio.AioRpcError:
                pass
            assert asyncio.get_running_loop().time() < deadline, "server never became SERVING"
            await asyncio.sleep(0.2)


async def _port_closes(uri: str, timeout: float = 15) -> bool:
    host, port = uri.removeprefix("mongodb://").split("/")[0].split(":")
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex((host, int(port))) != 0:
                return True
        await asyncio.sleep(0.2)
    return False


def auth(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


async def test_sigterm_drains_stops_both_processes_and_the_next_start_finds_the_data(tmp_path: Path) -> None:
    async with serve(tmp_path) as first:
        uri = first.store_uri()
        key = await first.admin_key()
        admin = auth(key)
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri, tz_aware=True)
        store = MongoEventStore(client, "billing")
        await store.start()
        event = NewEvent(type="org.created", payload={"name": "Acme"}, occurred_at=datetime.now(UTC))
        await store.append(StreamAppend("org-1", 0, (event,)))
        await store.close()
        await client.close()

        async with aio.insecure_channel(first.address) as channel:
            follow = event_log_pb2_grpc.EventLogServiceStub(channel).ReadEvents(
                event_log_pb2.ReadEventsRequest(follow=True, stream_id="org-1"), metadata=admin
            )
            assert (await follow.read()).event.type == "org.created"  # a call in flight
            first.process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(first.process.wait(), 20) == 0
        assert await _port_closes(uri), "the embedded store outlived the server"
        assert any(entry.get("message") == "stopped" for entry in first.logs)
        assert not any(key in str(entry) for entry in first.logs), "the admin key leaked into the logs"

    async with serve(tmp_path) as second, aio.insecure_channel(second.address) as channel:
        assert not any(line.strip().startswith("bgk_") for line in second.output), "a second admin key was minted"
        stub = event_log_pb2_grpc.EventLogServiceStub(channel)
        request = event_log_pb2.ReadEventsRequest(stream_id="org-1")
        events = [r.event async for r in stub.ReadEvents(request, metadata=admin)]
        assert [(e.stream_id, e.type, e.event_id) for e in events] == [("org-1", "org.created", str(event.event_id))]

        second.process.kill()  # kill -9: the store must not be left behind as an orphan
        await second.process.wait()
        assert await _port_closes(second.store_uri())
