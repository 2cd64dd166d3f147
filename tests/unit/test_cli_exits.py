"""Every failure ends with one line (a line per bad setting) and a sysexits status; a traceback only with --debug."""

from __future__ import annotations

import io
from pathlib import Path

import grpc
import pytest

from billing_grpc.cli import app, audit
from billing_grpc.cli.exits import GRPC_EXITS, Exit


def run(argv: list[str], out: io.StringIO | None = None) -> tuple[int, str, str]:
    out = out or io.StringIO()
    err = io.StringIO()
    code = app.main(argv, out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _memory_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store commands open an empty in-memory log: no embedded server, no data folder."""
    monkeypatch.setenv("BILLING_STORE", "memory")
    monkeypatch.setenv("BILLING_LOG_FORMAT", "text")


def test_bad_configuration_is_a_line_per_bad_variable_and_exit_78(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_LOG_LEVEL", "LOUD")
    monkeypatch.setenv("BILLING_KEEPALIVE_SECONDS", "0")
    monkeypatch.setenv("MONGO_URI", "not a uri, but it could hold a password")

    for command in (["serve"], ["replay", "--verify"], ["export-events"], ["import-events", "x.jsonl"]):
        code, out, err = run(command)

        assert (code, out) == (Exit.CONFIG, ""), command
        assert err.splitlines() == [
            "error: invalid configuration: BILLING_LOG_LEVEL: must be 'DEBUG', 'INFO', 'WARNING' or "
            "'ERROR' (got LOUD)",
            "error: invalid configuration: BILLING_KEEPALIVE_SECONDS: must be ≥ 1 (got 0)",
        ]


def test_a_rule_across_settings_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_TLS_CERT_FILE", "/etc/cert.pem")

    code, _, err = run(["serve"])

    assert code == Exit.CONFIG
    assert err == "error: invalid configuration: BILLING_TLS_CERT_FILE and BILLING_TLS_KEY_FILE go together\n"


def test_a_missing_input_file_is_exit_66_before_any_store_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_store(settings: object) -> None:
        raise AssertionError("the store was opened for a file that does not exist")

    monkeypatch.setattr(audit, "open_audit_log", no_store)
    missing = tmp_path / "export.jsonl"

    code, out, err = run(["import-events", str(missing)])

    assert (code, out) == (Exit.NO_INPUT, "")
    assert err == f"error: cannot open {missing}: No such file or directory\n"


def test_an_output_file_that_cannot_be_created_is_exit_73(tmp_path: Path) -> None:
    code, _, err = run(["export-events", "--output", str(tmp_path / "no" / "such" / "folder.jsonl")])

    assert code == Exit.CANT_CREATE
    assert err.startswith("error: cannot create ") and err.count("\n") == 1


class ClosedPipe(io.StringIO):
    """A stdout whose reader went away (`| head -1`)."""

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_ends_quietly_with_141() -> None:
    code, _, err = run(["export-events"], out=ClosedPipe())

    assert (code, err) == (Exit.BROKEN_PIPE, "")


def test_an_unexpected_error_is_one_line_and_exit_70_with_a_traceback_only_with_debug(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the verifier broke\nsecond line")

    monkeypatch.setattr(audit, "verify", broken)

    code, _, err = run(["replay", "--verify"])
    assert (code, err) == (
        Exit.SOFTWARE,
        "error: internal error: RuntimeError: the verifier broke (rerun with --debug)\n",
    )

    code, _, err = run(["--debug", "replay", "--verify"])
    assert code == Exit.SOFTWARE
    assert err.startswith("error: internal error: RuntimeError") and "Traceback (most recent call last)" in err


def test_bad_usage_is_exit_64() -> None:
    for argv in (["nope"], ["replay"], ["export-events", "--from", "yesterday"], ["clock", "advance", "--by", "0d"]):
        code, out, err = run(argv)
        assert (code, out) == (Exit.USAGE, ""), argv
        assert err.rstrip().splitlines()[-1].startswith("Error: "), argv


def test_every_grpc_failure_has_an_exit_status() -> None:
    assert set(GRPC_EXITS) == set(grpc.StatusCode) - {grpc.StatusCode.OK}
    assert GRPC_EXITS[grpc.StatusCode.NOT_FOUND] == Exit.NO_INPUT
    assert GRPC_EXITS[grpc.StatusCode.PERMISSION_DENIED] == Exit.NO_PERMISSION
    assert GRPC_EXITS[grpc.StatusCode.UNAVAILABLE] == Exit.UNAVAILABLE
