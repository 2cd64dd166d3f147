"""A throw-away server for `billing-grpc demo --serve` (`make demo`).

`billing-grpc serve` as a child process on a free port, with the embedded store in a temporary
data folder, a test clock and a bootstrap admin key minted here, so the tour knows its key. It
is stopped with SIGTERM (a clean shutdown, like Ctrl-C) and its folder removed afterwards.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from billing_grpc.application.credentials import KeyHasher
from billing_grpc.cli.remote import CommandError
from billing_grpc.embedded import free_port

# The embedded store starts in ~2 s and the server catches up its projections; on a busy
# machine that has taken ten times as long.
START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 30.0
# Lines of the server's log shown when it fails to start.
LOG_TAIL_LINES = 20


@dataclass(frozen=True)
class LocalServer:
    """A started server: where it listens and its platform admin's key."""

    target: str
    api_key: str
    data_dir: Path


def demo_admin_key() -> str:
    """A fresh, well-formed `bgk_…` key for the server to register as its first admin's."""
    # Minting needs a hashing secret; the hash is the server's business, only the token is kept.
    return KeyHasher(secrets.token_bytes(32)).mint().token


@asynccontextmanager
async def local_server(test_clock: str, err: TextIO) -> AsyncIterator[LocalServer]:
    """Start the server, wait until it reports SERVING, and stop it when the block ends."""
    with tempfile.TemporaryDirectory(prefix="billing-demo-") as folder:
        data_dir = Path(folder)
        target = f"127.0.0.1:{free_port()}"
        api_key = demo_admin_key()
        env = {
            **os.environ,
            "BILLING_LISTEN": target,
            "BILLING_DATA_DIR": str(data_dir),
            "BILLING_TEST_CLOCK": test_clock,
            "BILLING_BOOTSTRAP_ADMIN_KEY": api_key,
            # The tour moves the clock and bills through AdvanceClock; no cron runs in between.
            "BILLING_SCHEDULER": "false",
            "BILLING_SHUTDOWN_GRACE_SECONDS": "1",
            "BILLING_LOG_FORMAT": "text",
        }
        env.pop("MONGO_URI", None)
        env.pop("BILLING_STORE", None)
        log_path = data_dir / "server.log"
        print(f"starting a demo server on {target} (test clock {test_clock}, data in {data_dir})", file=err)
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "billing_grpc.cli",
                "serve",
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        try:
            await _wait_serving(target, process, log_path)
            yield LocalServer(target, api_key, data_dir)
        finally:
            await _stop(process)


async def _wait_serving(target: str, process: asyncio.subprocess.Process, log_path: Path) -> None:
    """Return once the server's health is SERVING; fail with its log if it exits or takes too long."""
    async with aio.insecure_channel(target) as channel:
        serving = asyncio.ensure_future(_health_serving(channel))
        exited = asyncio.ensure_future(process.wait())
        done, _ = await asyncio.wait({serving, exited}, timeout=START_TIMEOUT_SECONDS, return_when="FIRST_COMPLETED")
        for task in (serving, exited):
            if task not in done:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
        if serving in done:
            serving.result()
            return
    why = f"exited with status {process.returncode}" if exited in done else "did not start in time"
    raise CommandError(f"the demo server {why}; its log ends:\n" + _tail(log_path))


def _tail(log_path: Path) -> str:
    """The last lines of the server's log (read once, when it failed)."""
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])


async def _health_serving(channel: aio.Channel) -> None:
    """Watch the health service until it reports SERVING (waiting for the port to open first)."""
    watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), wait_for_ready=True)
    async for answer in watch:
        if answer.status == health_pb2.HealthCheckResponse.SERVING:
            watch.cancel()
            return
    raise CommandError("the demo server's health stream ended before it was SERVING")


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM (a clean shutdown that stops the embedded store too), then SIGKILL if it hangs."""
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
