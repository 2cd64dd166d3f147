"""`make demo`'s command as a real process: it starts its own server, plays the tour, cleans up."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_serve_runs_the_tour_on_its_own_server_and_leaves_nothing_behind() -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"MONGO_URI", "BILLING_API_KEY", "BILLING_TARGET"}}
    finished = subprocess.run(
        [sys.executable, "-m", "billing_grpc.cli", "demo", "--serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    out, err = finished.stdout, finished.stderr

    assert finished.returncode == 0, out + err
    assert out.startswith("test clock at 2026-01-01 00:00 UTC")
    assert re.findall(r"^  Total +USD ([\d,.]+)$", out, re.MULTILINE) == ["49.00", "56.00", "107.75", "176.50"]
    assert "payment declined (card_declined)" in out
    assert "balance: invoiced USD 389.25, paid USD 389.25, outstanding USD 0.00" in out
    assert "demo finished" in err
    # The server stopped and its temporary store went with it.
    [(host, port, data_dir)] = re.findall(r"demo server on ([\d.]+):(\d+) \(.*data in (\S+)\)", err)
    assert not Path(data_dir).exists()
    with socket.socket() as probe:
        assert probe.connect_ex((host, int(port))) != 0
