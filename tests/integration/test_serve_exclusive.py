"""A port and a data folder belong to one `billing-grpc serve`; `--workers N` shares a port on purpose.

Issue 19: a second `serve` on a busy port bound too (gRPC's default SO_REUSEPORT) and took a
share of the first one's connections, answering them from another store; `replay --verify` on a
folder a server held printed 27 restart warnings and a traceback. Both are now refused up front,
in one line, with exit status 69 (EX_UNAVAILABLE).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from grpc import aio

from billing.v1 import organizations_pb2, organizations_pb2_grpc
from billing_grpc.embedded import free_port
from tests.integration.test_serve_process import ServerProcess, _collect, _collect_output, _port_closes, auth, serve
from tests.prometheus_scrape import scrape

pytestmark = pytest.mark.slow

EX_UNAVAILABLE = 69
CALLS = 16


@dataclass
class Finished:
    code: int
    stdout: str
    stderr: str


async def billing_grpc(*args: str, env: Mapping[str, str], timeout: float = 60) -> Finished:
    """Run `billing-grpc <args>` to its end (a refused command ends at once)."""
    environment = {key: value for key, value in os.environ.items() if key != "MONGO_URI"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "billing_grpc.cli",
        *args,
        env={**environment, "BILLING_LOG_FORMAT": "json", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        out, err = await process.communicate()
        raise AssertionError(f"`billing-grpc {' '.join(args)}` did not end: {err.decode()[-2000:]}") from None
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode())


async def list_organizations(address: str, key: str) -> int:
    """One authenticated call on a fresh connection (the kernel picks the listener per connection)."""
    async with aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
        stub = organizations_pb2_grpc.OrganizationServiceStub(channel)
        answer = await stub.ListOrganizations(organizations_pb2.ListOrganizationsRequest(), metadata=auth(key))
        return len(answer.organizations)


async def test_a_second_serve_on_a_busy_port_exits_69_in_one_line_and_the_first_answers_every_call(
    tmp_path: Path,
) -> None:
    async with serve(tmp_path / "first") as first:
        key = await first.admin_key()
        second = await billing_grpc(
            "serve", env={"BILLING_LISTEN": first.address, "BILLING_DATA_DIR": str(tmp_path / "second")}
        )
        assert second.code == EX_UNAVAILABLE
        assert second.stderr.splitlines() == [
            f"error: cannot listen on {first.address}: the port is in use by another process "
            "(another billing-grpc serve?); stop it, or choose another with --listen or BILLING_LISTEN"
        ]
        assert not (tmp_path / "second" / "mongo").exists(), "the refused server started a store"
        # every connection reaches the first server, which knows its key
        assert await asyncio.gather(*(list_organizations(first.address, key) for _ in range(CALLS))) == [0] * CALLS


async def test_replay_and_a_second_serve_on_a_held_data_dir_say_so_in_one_line_with_the_pid(tmp_path: Path) -> None:
    async with serve(tmp_path) as first:
        uri = first.store_uri()
        refusal = _refusal(tmp_path, first.process.pid, uri)
        for args, listen in ((("replay", "--verify"), first.address), (("serve",), f"127.0.0.1:{free_port()}")):
            refused = await billing_grpc(*args, env={"BILLING_DATA_DIR": str(tmp_path), "BILLING_LISTEN": listen})
            assert (refused.code, refused.stderr.splitlines(), refused.stdout) == (EX_UNAVAILABLE, [refusal], "")
        # the way the message points: verify the running server's store through its address
        verified = await billing_grpc("replay", "--verify", env={"MONGO_URI": uri})
        assert verified.code == 0, verified.stdout + verified.stderr
        assert "OK:" in verified.stdout


def _refusal(data_dir: Path, pid: int, uri: str) -> str:
    return (
        f"error: data directory {data_dir.resolve()} is in use by billing-grpc serve (pid {pid}); "
        f"stop it first, or set BILLING_DATA_DIR (or MONGO_URI={uri} to work on its store while it runs)"
    )


def _parent_of(pid: int) -> int | None:
    """The parent pid of a running process (None once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return None
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))


def _consecutive_free_ports(count: int) -> int:
    """The first of `count` consecutive ports nobody listens on now."""
    while True:
        first = free_port()
        if first + count <= 65535 and all(_free(first + n) for n in range(1, count)):
            return first


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def test_workers_share_one_port_both_answer_on_one_store_and_stop_on_sigterm(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    metrics = _consecutive_free_ports(2)
    env = {
        **os.environ,
        "BILLING_LISTEN": address,
        "BILLING_DATA_DIR": str(tmp_path),
        "BILLING_METRICS_LISTEN": f"127.0.0.1:{metrics}",
        "BILLING_SHUTDOWN_GRACE_SECONDS": "1",
        "BILLING_LOG_FORMAT": "json",
    }
    env.pop("MONGO_URI", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "billing_grpc.cli",
        "serve",
        "--workers",
        "2",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    parent = ServerProcess(process, address)
    assert process.stderr is not None and process.stdout is not None
    collector = asyncio.gather(_collect(process.stderr, parent.logs), _collect_output(process.stdout, parent.output))
    try:
        pids = await _worker_pids(parent)
        assert len(set(pids)) == 2 and process.pid not in pids
        assert [_parent_of(pid) for pid in pids] == [process.pid] * 2
        uri = parent.store_uri()  # one embedded store, started by the parent
        key = await parent.admin_key()
        assert sum(line.strip().startswith("bgk_") for line in parent.output) == 1, "one admin for the deployment"

        # fresh connections are spread over both workers; each knows the key (one store)
        counts = await asyncio.gather(*(list_organizations(address, key) for _ in range(CALLS)))
        assert counts == [0] * CALLS
        served = [await _calls_served(metrics + n) for n in range(2)]
        assert sum(served) == CALLS
        assert all(count > 0 for count in served), f"one worker took every connection: {served}"

        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 60) == 0
        assert [_parent_of(pid) for pid in pids] == [None, None], "a worker outlived the parent"
        assert await _port_closes(uri), "the embedded store outlived the workers"
        assert sum(entry.get("message") == "stopped" for entry in parent.logs) == 2
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await collector


async def _worker_pids(parent: ServerProcess, workers: int = 2) -> list[int]:
    """The pids the workers print once they listen."""
    pattern = re.compile(r"billing-grpc listening on \S+ \(worker (\d) of (\d), pid (\d+)\)")
    for _ in range(600):
        found = {m.group(1): int(m.group(3)) for line in parent.output if (m := pattern.match(line.strip()))}
        if len(found) == workers:
            return [found[str(n + 1)] for n in range(workers)]
        assert parent.process.returncode is None, f"serve --workers exited: {parent.logs[-5:]}"
        await asyncio.sleep(0.1)
    raise AssertionError(f"workers never listened: {parent.output} {parent.logs[-5:]}")


async def _calls_served(metrics_port: int) -> int:
    """ListOrganizations calls this worker answered OK, from its own /metrics."""
    samples = await scrape(metrics_port)
    return int(
        sum(
            value
            for (name, labels), value in samples.items()
            if name == "billing_rpc_requests_total"
            and ("method", "/billing.v1.OrganizationService/ListOrganizations") in labels
        )
    )
