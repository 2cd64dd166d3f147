"""The command line: `serve` runs the server with the collector tuned for a request-heavy process."""

from __future__ import annotations

import gc

import pytest

from billing_grpc import cli
from billing_grpc.api import server
from billing_grpc.cli import serve as serve_command
from billing_grpc.settings import Settings


def test_serve_runs_with_rarer_cycle_collections(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[tuple[int, ...], str]] = []

    async def fake_serve(settings: Settings) -> None:
        seen.append((gc.get_threshold(), settings.listen))

    monkeypatch.setattr(server, "serve", fake_serve)
    monkeypatch.setattr(serve_command, "configure_logging", lambda *args: None)
    before = gc.get_threshold()
    try:
        assert cli.main(["serve", "--listen", "127.0.0.1:0"]) == 0
    finally:
        gc.set_threshold(*before)

    assert seen == [(serve_command.GC_THRESHOLDS, "127.0.0.1:0")]
