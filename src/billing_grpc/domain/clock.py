"""Time is always UTC and always injected: code asks a Clock, never `datetime.now()`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """A source of the current business time."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """The current wall-clock time in UTC."""
        return datetime.now(UTC)


class TestClock:
    """A clock that only moves when told to, so a year of billing can run in seconds."""

    __test__ = False  # not a pytest test class

    def __init__(self, start: datetime) -> None:
        self._now = ensure_utc(start)

    def now(self) -> datetime:
        """The frozen current time."""
        return self._now

    def advance(self, by: timedelta) -> datetime:
        """Move time forward by `by` (never backwards) and return the new time."""
        if by < timedelta(0):
            raise ValueError("a test clock only moves forward")
        return self.advance_to(self._now + by)

    def advance_to(self, moment: datetime) -> datetime:
        """Move time forward to `moment` (never backwards) and return it."""
        moment = ensure_utc(moment)
        if moment < self._now:
            raise ValueError("a test clock only moves forward")
        self._now = moment
        return self._now


def ensure_utc(moment: datetime) -> datetime:
    """Return `moment` in UTC; naive datetimes are refused rather than guessed."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every time in billing-grpc is timezone-aware UTC")
    return moment.astimezone(UTC)
