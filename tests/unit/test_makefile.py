"""`make run` gets a newcomer to "listening" with the server's dependencies only (issue 19)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def plan(target: str) -> str:
    """What `make <target>` would run from a fresh clone (-B: as if nothing were built yet)."""
    # Run under `make test`, a sub-make inherits MAKEFLAGS/MAKELEVEL and prints its directory lines.
    environment = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}
    return subprocess.run(
        ["make", "--no-print-directory", "--dry-run", "--always-make", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    ).stdout


def test_make_run_installs_the_runtime_only_and_regenerates_nothing() -> None:
    steps = plan("run")
    assert "-c requirements.lock -e .\n" in steps
    # no dev extra (grpcio-tools, mypy-protobuf, ruff, mypy, pytest), no protoc run, no node tooling
    for unwanted in ("[dev]", "gen_protos", "mypy", "npm"):
        assert unwanted not in steps
    assert steps.splitlines()[-1].strip() == ".venv/bin/billing-grpc serve"


def test_make_test_still_installs_everything() -> None:
    steps = plan("test")
    assert "-e '.[dev]'" in steps
    assert "npm install" in steps
    assert "gen_protos.py --check" in steps
