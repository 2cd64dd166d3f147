"""The embedded MongoDB-wire store: `secantusdb` (GPL-2.0) run as a separate child process.

Used when no MONGO_URI is configured, so `make run` and `make test` need nothing installed
by hand. It speaks the MongoDB wire protocol and advertises itself as a one-node replica
set, so transactions work. Production points MONGO_URI at a real replica set instead.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from billing_grpc.exclusive import wait_for_store_lock

log = logging.getLogger(__name__)

IN_MEMORY = ":memory:"
# Between a store that exited at start and the next try.
RESPAWN_DELAY = 0.5


class StoreExited(RuntimeError):
    """The store process ended before it answered."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _executable() -> str:
    """The secantusd-py launcher installed next to this interpreter."""
    beside = Path(sys.executable).parent / "secantusd-py"
    found = str(beside) if beside.exists() else shutil.which("secantusd-py")
    if not found:
        raise RuntimeError("secantusd-py not found: install the `secantusdb` package or set MONGO_URI")
    return found


class EmbeddedMongo:
    """Start, wait for and stop one secantusdb process. Usable as a context manager."""

    def __init__(
        self,
        storage_path: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_file: Path | None = None,
    ) -> None:
        self.storage_path = str(storage_path)
        self.host = host
        self.port = port or free_port(host)
        self._log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """The connection string for this server."""
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"

    def start(self, timeout: float = 30.0) -> EmbeddedMongo:
        """Spawn the server and return once it answers a ping.

        After a crash (kill -9) of the server, the supervisor needs a few seconds to stop the old
        store, which holds the data folder until then, and a restart must not fail for that: the
        start waits (until `timeout`) for WiredTiger's lock to be free, and a store that still
        exits at once is spawned again.
        """
        deadline = time.monotonic() + timeout
        if self.storage_path != IN_MEMORY:
            # Not spawned into a store that exits at once while the lock is taken.
            wait_for_store_lock(Path(self.storage_path), deadline)
        while True:
            try:
                self._spawn()
                self._wait_ready(deadline)
                return self
            except StoreExited as exited:
                if time.monotonic() + RESPAWN_DELAY > deadline:
                    raise RuntimeError(str(exited)) from None
                log.warning("embedded store exited at start; starting it again", extra={"error": str(exited)})
                time.sleep(RESPAWN_DELAY)

    def _spawn(self) -> None:
        if self.storage_path != IN_MEMORY:
            Path(self.storage_path).mkdir(parents=True, exist_ok=True)
        # Through the supervisor, so the store stops even if this process is killed outright.
        command = [
            sys.executable,
            "-m",
            "billing_grpc.embedded_supervisor",
            _executable(),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--storage-path",
            self.storage_path,
            "--log-level",
            "WARNING",
        ]
        log.info("starting embedded store", extra={"port": self.port, "storage": self.storage_path})
        # Its own session: a Ctrl-C in the terminal reaches only the server, which drains its
        # calls first and then stops the store in order.
        with contextlib.ExitStack() as files:
            output = files.enter_context(open(self._log_file, "ab")) if self._log_file else subprocess.DEVNULL
            self._process = subprocess.Popen(command, stdout=output, stderr=output, start_new_session=True)

    def _wait_ready(self, deadline: float) -> None:
        client: MongoClient[dict[str, object]]
        with MongoClient(self.uri, serverSelectionTimeoutMS=250) as client:
            while True:
                if self._process is not None and self._process.poll() is not None:
                    raise StoreExited(f"embedded store exited with code {self._process.returncode}")
                try:
                    client.admin.command("ping")
                    return
                except PyMongoError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError("embedded store not ready in time") from None
                    time.sleep(0.1)

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the store to stop (SIGTERM, so WiredTiger closes cleanly); the supervisor escalates."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("embedded store did not stop in %.0fs; killing it", timeout)
            process.kill()
            process.wait()

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._process.pid if self._process else None

    def __enter__(self) -> EmbeddedMongo:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
