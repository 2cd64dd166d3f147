"""A one-line progress display for long audits: events done and events per second, on stderr.

On a terminal the line is redrawn in place while the work runs; in a pipe or a log file only the
final figures are written (one line, no carriage returns).
"""

from __future__ import annotations

import time
from typing import TextIO


class ProgressLine:
    """Redraws one terminal line (carriage return) at most every `interval` seconds; elsewhere only `finish` writes."""

    def __init__(self, stream: TextIO, interval: float = 0.25) -> None:
        self._stream = stream
        self._interval = interval
        self._started = time.monotonic()
        self._shown = 0.0
        self._events = 0
        self._phase = ""
        self._live = stream.isatty()

    def __call__(self, phase: str, events: int) -> None:
        """Count `events` more for `phase` and redraw if it is time."""
        self._events += events
        self._phase = phase
        now = time.monotonic()
        if self._live and now - self._shown >= self._interval:
            self._shown = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self._events / max(now - self._started, 1e-9)
        start = "\r" if self._live else ""
        self._stream.write(f"{start}{self._phase[:24]:<24} {self._events:>12,} events {rate:>12,.0f} events/s")
        self._stream.flush()

    def finish(self) -> None:
        """Draw the final figures and end the line."""
        self._draw(time.monotonic())
        self._stream.write("\n")
        self._stream.flush()
