"""What a server must not share by accident: its listen port and its data folder.

gRPC binds with SO_REUSEPORT unless told otherwise, and the kernel then spreads the connections
of one port over every process bound to it: a second `serve` with another store answered some
calls as if it were the first. So a server binds its port exclusively (port sharing is only
`serve --workers N`) and checks the port before it starts anything. The embedded store's data
folder is held by one process at a time (WiredTiger's own lock); the process that starts the
store holds `<data dir>/billing-grpc.lock` first, with its pid and store address in it, so a
second command finds out up front, and says so in one line, instead of spawning stores that
exit at once until a timeout.

Each refusal is an `Unavailable` error: one line, and exit status 69 (EX_UNAVAILABLE of
sysexits.h) from the command line (`cli/exits.py`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

# sysexits.h: "a service is unavailable". Retrying once the holder has stopped succeeds.
EX_UNAVAILABLE = 69
LOCK_FILE = "billing-grpc.lock"
# Between two looks at a store lock that a stopping store still holds.
STORE_LOCK_POLL_SECONDS = 0.2


class Unavailable(RuntimeError):
    """Something the command needs is held by another process. The message is one line."""

    exit_code = EX_UNAVAILABLE


class PortInUse(Unavailable):
    """The listen address is bound by another process."""


class DataDirInUse(Unavailable):
    """The data folder (and its embedded store) belongs to another running process."""


def exit_status(command: Callable[[], int]) -> int:
    """Run `command`; an `Unavailable` refusal becomes one line on stderr and its exit status.

    For processes outside the command line's own handler (`cli/exits.py`), which prints the
    same line: `serve --workers` workers.
    """
    try:
        return command()
    except Unavailable as refusal:
        print(f"error: {refusal}", file=sys.stderr, flush=True)
        return refusal.exit_code


def split_address(address: str) -> tuple[str, int] | None:
    """(host, port) of a `host:port` or `[v6]:port` listen address; None for other gRPC forms."""
    host, separator, port = address.rpartition(":")
    if not separator or not port.isdigit() or "/" in address:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:  # unix:, ipv4:, dns: and other schemes: gRPC's business
        return None
    return host, int(port)


def check_port_free(address: str) -> None:
    """Refuse (`PortInUse`) when any address `address` resolves to is bound by someone else.

    Binds each resolved address (as gRPC would: SO_REUSEADDR, no SO_REUSEPORT) and lets go at
    once. A `localhost` port is refused when either of 127.0.0.1 and ::1 is taken: gRPC itself
    would serve on the other one only, with a warning. Port 0 and non-TCP forms are not checked.
    """
    parsed = split_address(address)
    if parsed is None or parsed[1] == 0:
        return
    host, port = parsed
    try:
        candidates = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise PortInUse(f"cannot listen on {address}: {error.strerror}") from None
    for family, kind, protocol, _, where in candidates:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(where)
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    raise PortInUse(
                        f"cannot listen on {address}: the port is in use by another process "
                        "(another billing-grpc serve?); stop it, or choose another with --listen or BILLING_LISTEN"
                    ) from None
                if error.errno == errno.EADDRNOTAVAIL:  # e.g. ::1 on a host without IPv6
                    continue
                raise PortInUse(f"cannot listen on {address}: {error.strerror}") from None


class DataDirLock:
    """`<data dir>/billing-grpc.lock`: held (flock) by the one process that runs the folder's store.

    The file says who holds it (pid, command, the store's address once it runs); the lock goes
    with the process, so a server killed with SIGKILL leaves nothing to clean up.
    """

    def __init__(self, data_dir: Path, command: str) -> None:
        # `command` describes the holder in a refusal: "billing-grpc serve".
        self.path = data_dir / LOCK_FILE
        self.command = command
        self._file: int | None = None

    def acquire(self) -> DataDirLock:
        """Take the lock or refuse with `DataDirInUse`, naming the holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise DataDirInUse(self._refusal()) from None
        self._file = descriptor
        self._write({"pid": os.getpid(), "command": self.command})
        return self

    def record_store(self, uri: str) -> None:
        """Note the running store's address, for a command that is refused to point at it."""
        self._write({"pid": os.getpid(), "command": self.command, "store_uri": uri})

    def release(self) -> None:
        """Let go (the file stays: an empty lock file held by nobody is free)."""
        descriptor, self._file = self._file, None
        if descriptor is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(descriptor, 0)
            os.close(descriptor)

    def holder(self) -> dict[str, object]:
        """What the lock file says about its holder (empty when unreadable)."""
        try:
            content = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}
        return content if isinstance(content, dict) else {}

    def _write(self, content: dict[str, object]) -> None:
        assert self._file is not None
        os.ftruncate(self._file, 0)
        os.pwrite(self._file, json.dumps(content).encode(), 0)

    def _refusal(self) -> str:
        holder = self.holder()
        who = str(holder.get("command", "another billing-grpc process"))
        if "pid" in holder:
            who += f" (pid {holder['pid']})"
        message = f"data directory {self.path.parent} is in use by {who}; stop it first, or set BILLING_DATA_DIR"
        if "store_uri" in holder:
            message += f" (or MONGO_URI={holder['store_uri']} to work on its store while it runs)"
        return message

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()


def store_lock_holder(storage: Path) -> int | None:
    """The pid holding WiredTiger's lock on the store folder `storage` (None: nobody does)."""
    try:
        descriptor = os.open(storage / "WiredTiger.lock", os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        # struct flock: l_type, l_whence, l_start, l_len, l_pid. F_GETLK answers with the holder
        # of a conflicting lock, or F_UNLCK; it takes no lock itself.
        query = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        kind, _, _, _, pid = struct.unpack("hhqqi", fcntl.fcntl(descriptor, fcntl.F_GETLK, query))
    finally:
        os.close(descriptor)
    return None if kind == fcntl.F_UNLCK else int(pid)


def wait_for_store_lock(storage: Path, deadline: float) -> None:
    """Wait (until the monotonic `deadline`) for a store still holding `storage` to let go.

    Called with the data folder's lock held, so the holder is no running billing-grpc: a store
    whose server was killed and whose supervisor is stopping it (seconds), or a foreign process.
    """
    holder = store_lock_holder(storage)
    if holder is None:
        return
    log.info("waiting for a previous store to release the data directory", extra={"pid": holder})
    while (holder := store_lock_holder(storage)) is not None:
        if time.monotonic() > deadline:
            raise DataDirInUse(f"the store in {storage} is locked by process {holder}; stop it first")
        time.sleep(STORE_LOCK_POLL_SECONDS)
