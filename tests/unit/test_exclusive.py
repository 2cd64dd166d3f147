"""A server's port and data folder are its own: busy ones are refused in one line (issue 19)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr

from billing_grpc.api.server import create_server, server_options
from billing_grpc.bootstrap import open_in_memory_app
from billing_grpc.exclusive import (
    EX_UNAVAILABLE,
    DataDirInUse,
    DataDirLock,
    PortInUse,
    check_port_free,
    exit_status,
    split_address,
    store_lock_holder,
    wait_for_store_lock,
)
from billing_grpc.serving import WorkersRefused, check_workers, worker_settings
from billing_grpc.settings import Settings

SECRET = SecretStr("s" * 32)


@contextmanager
def listening(host: str = "127.0.0.1") -> Iterator[int]:
    """A plain TCP listener on a free port (SO_REUSEPORT, as gRPC's default binds)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_split_address_reads_host_port_and_leaves_other_grpc_forms_alone() -> None:
    assert split_address("127.0.0.1:50051") == ("127.0.0.1", 50051)
    assert split_address("[::1]:50051") == ("::1", 50051)
    assert split_address(":50051") == ("", 50051)
    assert split_address("unix:/tmp/billing.sock") is None
    assert split_address("dns:///localhost:50051") is None


def test_a_busy_port_is_refused_and_a_free_one_passes() -> None:
    with listening() as port:
        with pytest.raises(PortInUse, match=rf"cannot listen on 127.0.0.1:{port}: the port is in use"):
            check_port_free(f"127.0.0.1:{port}")
        # every address the name resolves to must be free: gRPC would serve on ::1 alone
        with pytest.raises(PortInUse):
            check_port_free(f"localhost:{port}")
        with pytest.raises(PortInUse):
            check_port_free(f"0.0.0.0:{port}")
    check_port_free(f"127.0.0.1:{port}")
    check_port_free("127.0.0.1:0")


async def test_a_second_grpc_server_cannot_bind_a_port_a_first_one_serves() -> None:
    async with open_in_memory_app(Settings(key_hash_secret=SECRET)) as app:
        first = create_server(app, "127.0.0.1:0")
        await first.grpc_server.start()
        try:
            with pytest.raises(PortInUse, match=f"cannot listen on 127.0.0.1:{first.port}"):
                create_server(app, f"127.0.0.1:{first.port}")
            # sharing is only the explicit opt-in of `serve --workers`, on both sides
            with pytest.raises(PortInUse):
                create_server(app, f"127.0.0.1:{first.port}", reuse_port=True)
        finally:
            await first.grpc_server.stop(0)


async def test_servers_that_opt_in_share_a_port() -> None:
    async with open_in_memory_app(Settings(key_hash_secret=SECRET)) as app:
        first = create_server(app, "127.0.0.1:0", reuse_port=True)
        await first.grpc_server.start()
        try:
            second = create_server(app, f"127.0.0.1:{first.port}", reuse_port=True)
            assert second.port == first.port
            await second.grpc_server.stop(0)
        finally:
            await first.grpc_server.stop(0)
    assert ("grpc.so_reuseport", 0) in server_options(Settings(key_hash_secret=SECRET))


def test_the_data_dir_lock_names_its_holder_and_is_free_again_after_release(tmp_path: Path) -> None:
    with DataDirLock(tmp_path, "billing-grpc serve") as held:
        held.record_store("mongodb://127.0.0.1:4242/?directConnection=true")
        with pytest.raises(DataDirInUse) as refused:
            DataDirLock(tmp_path, "another").acquire()
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"data directory {tmp_path} is in use by billing-grpc serve (pid {os.getpid()});")
    assert "MONGO_URI=mongodb://127.0.0.1:4242/?directConnection=true" in message
    with DataDirLock(tmp_path, "again"):
        pass


def test_the_data_dir_lock_held_by_another_process_names_its_pid(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from billing_grpc.exclusive import DataDirLock; "
        "lock = DataDirLock(Path(sys.argv[1]), 'billing-grpc serve').acquire(); print('held', flush=True); "
        "time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(DataDirInUse, match=rf"in use by billing-grpc serve \(pid {holder.pid}\)"):
            DataDirLock(tmp_path, "billing-grpc replay").acquire()
    finally:
        holder.kill()
        holder.wait()
    DataDirLock(tmp_path, "billing-grpc replay").acquire().release()  # the lock went with the process


def test_a_store_lock_is_seen_with_its_holder_and_waited_for_until_a_deadline(tmp_path: Path) -> None:
    assert store_lock_holder(tmp_path) is None  # no store ever ran here
    code = (
        "import fcntl, sys, time; f = open(sys.argv[1] + '/WiredTiger.lock', 'w'); "
        "fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        assert store_lock_holder(tmp_path) == holder.pid
        with pytest.raises(DataDirInUse, match=f"locked by process {holder.pid}"):
            wait_for_store_lock(tmp_path, time.monotonic())
    finally:
        holder.kill()
        holder.wait()
    assert store_lock_holder(tmp_path) is None
    wait_for_store_lock(tmp_path, time.monotonic())


def test_a_refusal_is_one_line_on_stderr_and_exit_status_69(capsys: pytest.CaptureFixture[str]) -> None:
    def refused() -> int:
        raise PortInUse("cannot listen on 127.0.0.1:1: the port is in use")

    assert exit_status(refused) == EX_UNAVAILABLE == 69
    assert capsys.readouterr().err == "error: cannot listen on 127.0.0.1:1: the port is in use\n"
    assert exit_status(lambda: 0) == 0


def test_workers_are_refused_what_one_process_holds() -> None:
    base = Settings(key_hash_secret=SECRET)
    check_workers(base)
    for update, reason in (
        ({"listen": "127.0.0.1:0"}, "fixed port"),
        ({"store": "memory"}, "shared store"),
        ({"test_clock": "now"}, "test clock"),
    ):
        with pytest.raises(WorkersRefused, match=reason):
            check_workers(base.model_copy(update=update))


def test_each_worker_gets_the_shared_store_and_its_own_metrics_port() -> None:
    base = Settings(key_hash_secret=SECRET, metrics_listen="127.0.0.1:9464")
    uri = "mongodb://127.0.0.1:4242/?directConnection=true"
    assert [worker_settings(base, i, uri).metrics_listen for i in range(3)] == [
        "127.0.0.1:9464",
        "127.0.0.1:9465",
        "127.0.0.1:9466",
    ]
    assert worker_settings(base, 1, uri).mongo_uri == uri
    any_port = base.model_copy(update={"metrics_listen": "[::1]:0"})
    assert worker_settings(any_port, 1, uri).metrics_listen == "[::1]:0"
