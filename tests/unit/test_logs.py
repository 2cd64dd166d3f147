"""Both log formats carry every field: the text format is JSON's content, laid out for people."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from billing_grpc.logs import configure_logging, correlation_id


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)


def emit(fmt: str, capsys: pytest.CaptureFixture[str]) -> str:
    configure_logging("INFO", fmt)
    token = correlation_id.set("trace-42")
    try:
        logging.getLogger("billing_grpc.api.server").info(
            "serving", extra={"listen": "127.0.0.1:50051", "tls": False, "note": 'two words, "quoted"', "port": 50051}
        )
    finally:
        correlation_id.reset(token)
    return capsys.readouterr().err


@pytest.mark.usefixtures("restore_root_logger")
def test_a_text_line_keeps_the_extra_fields_and_the_correlation_id(capsys: pytest.CaptureFixture[str]) -> None:
    line = emit("text", capsys)
    assert line.count("\n") == 1
    assert " INFO billing_grpc.api.server serving " in line
    assert line.rstrip("\n").endswith(
        'correlation_id=trace-42 listen=127.0.0.1:50051 tls=false note="two words, \\"quoted\\"" port=50051'
    )


@pytest.mark.usefixtures("restore_root_logger")
def test_the_text_and_json_formats_carry_the_same_fields(capsys: pytest.CaptureFixture[str]) -> None:
    entry = json.loads(emit("json", capsys))
    text = emit("text", capsys)
    for key in set(entry) - {"time", "level", "logger", "message"}:
        assert f" {key}=" in text, key


@pytest.mark.usefixtures("restore_root_logger")
def test_a_text_line_ends_with_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("billing_grpc.rpc").exception("failed", extra={"method": "/x.Y/Z"})
    first, *rest = capsys.readouterr().err.splitlines()
    assert first.endswith("failed method=/x.Y/Z")
    assert rest[0] == "Traceback (most recent call last):" and rest[-1] == "RuntimeError: boom"
