"""A tiny supervisor that keeps the embedded store from outliving the server that started it.

The server runs `python -m billing_grpc.embedded_supervisor <store command…>`. The supervisor
starts the store and stops it (SIGTERM, then SIGKILL after a grace period) when the server asks
(SIGTERM) or when the server is gone, even if it was killed with SIGKILL: it notices that its
parent changed. A SIGTERM alone is not enough, because the store's own graceful shutdown can
hang when its clients vanished mid-session.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import FrameType

GRACE_SECONDS = 10.0
POLL_SECONDS = 0.2


def supervise(command: list[str], grace: float = GRACE_SECONDS) -> int:
    """Run `command` until it exits, we are told to stop, or our parent dies; return its exit code."""
    parent = os.getppid()
    stop_requested = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle, in order
    child = subprocess.Popen(command)
    while child.poll() is None and not stop_requested and os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(grace)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return child.returncode


if __name__ == "__main__":
    raise SystemExit(supervise(sys.argv[1:]))
