"""Progress displays: redrawn in place on a terminal, never carriage-return noise in a pipe or a log."""

from __future__ import annotations

import io

from billing_grpc.audit.progress import ProgressLine
from billing_grpc.progress_bar import WIDTH, ProgressBar


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_bar_on_a_terminal_is_drawn_in_place_and_erased_at_the_end() -> None:
    terminal = Terminal()
    bar = ProgressBar(terminal, "streaming usage", 10)

    bar.update(5, "batch 1/2")
    half = WIDTH // 2
    assert terminal.getvalue() == f"\rstreaming usage [{'#' * half}{'-' * (WIDTH - half)}] 5/10 batch 1/2"
    bar.update(10, "batch 2/2")
    assert terminal.getvalue().endswith(f"\rstreaming usage [{'#' * WIDTH}] 10/10 batch 2/2")

    bar.finish()
    drawn = terminal.getvalue()
    erased = drawn[drawn.rindex("\r", 0, len(drawn) - 1) :]
    assert erased.strip() == "" and drawn.endswith("\r")


def test_a_bar_writes_nothing_where_there_is_no_terminal() -> None:
    pipe = io.StringIO()
    bar = ProgressBar(pipe, "advancing the clock", 100)
    for done in range(0, 101, 10):
        bar.update(done)
    bar.finish()
    assert pipe.getvalue() == ""


def test_the_audit_line_in_a_pipe_is_only_the_final_figures() -> None:
    pipe = io.StringIO()
    line = ProgressLine(pipe, interval=0)
    for _ in range(3):
        line("chain", 1000)
    line.finish()
    [written] = pipe.getvalue().splitlines()
    assert "\r" not in pipe.getvalue()
    assert written.startswith("chain") and "3,000 events" in written and written.endswith("events/s")


def test_the_audit_line_on_a_terminal_is_redrawn_as_it_goes() -> None:
    terminal = Terminal()
    line = ProgressLine(terminal, interval=0)
    for _ in range(3):
        line("chain", 1000)
    line.finish()
    assert terminal.getvalue().count("\r") == 4  # three redraws and the final figures
    assert "3,000 events" in terminal.getvalue().rsplit("\r", 1)[1]
