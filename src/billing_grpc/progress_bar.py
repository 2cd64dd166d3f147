"""A progress bar for long client work (streaming usage, moving the test clock), on a terminal only.

It is drawn on stderr with carriage returns, so it is useful on a terminal and noise in a pipe or a
log file: there it draws nothing, and the command's own one-line summaries tell what happened.
"""

from __future__ import annotations

from typing import TextIO

WIDTH = 30


class ProgressBar:
    """`label [#######-------] done/total note`, redrawn in place; erased by `finish`."""

    def __init__(self, stream: TextIO, label: str, total: int) -> None:
        self._stream = stream
        self._label = label
        self._total = max(total, 1)
        self._live = stream.isatty()
        self._drawn = 0

    def update(self, done: int, note: str = "") -> None:
        """Show `done` of the total, with an optional note (e.g. the current date)."""
        if not self._live:
            return
        filled = WIDTH * min(done, self._total) // self._total
        text = f"\r{self._label} [{'#' * filled}{'-' * (WIDTH - filled)}] {done:,}/{self._total:,} {note}"
        self._stream.write(text.ljust(self._drawn))
        self._drawn = len(text)
        self._stream.flush()

    def finish(self) -> None:
        """Erase the bar, so the next line starts clean."""
        if self._live and self._drawn:
            self._stream.write("\r" + " " * self._drawn + "\r")
            self._stream.flush()
            self._drawn = 0
