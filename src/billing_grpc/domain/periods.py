"""Billing periods: half-open [start, end) intervals in UTC, calendar-correct, anchored on one moment.

The k-th boundary of a subscription is always `add_months(anchor, k * interval.months)`, computed
from the original anchor and never from the previous boundary: chaining would let a clamp stick
(Jan 31 → Feb 28 → Mar 28), anchoring gives Jan 31 → Feb 28 → Mar 31 → Apr 30. Periods are
numbered from 0 (the one starting at the anchor), and a boundary moment belongs to the period it
starts. All arithmetic is on UTC wall time, so daylight-saving changes never move a boundary.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from billing_grpc.domain.clock import ensure_utc
from billing_grpc.domain.errors import FieldViolation, InvalidArgument


class IntervalUnit(StrEnum):
    """The calendar unit a plan bills by."""

    MONTH = "month"
    YEAR = "year"


# Longer cycles are almost certainly input mistakes (a count of days typed as months).
MAX_INTERVAL_COUNT: dict[IntervalUnit, int] = {IntervalUnit.MONTH: 36, IntervalUnit.YEAR: 10}


@dataclass(frozen=True)
class Interval:
    """A billing cycle length: `count` months or years."""

    unit: IntervalUnit
    count: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.unit, IntervalUnit):
            raise TypeError(f"unit must be an IntervalUnit, not {type(self.unit).__name__}")
        if isinstance(self.count, bool) or not isinstance(self.count, int):
            raise TypeError(f"count must be an int, not {type(self.count).__name__}")
        limit = MAX_INTERVAL_COUNT[self.unit]
        if not 1 <= self.count <= limit:
            violation = FieldViolation("count", f"must be between 1 and {limit} for {self.unit.value} intervals")
            raise InvalidArgument.of(violation, reason="invalid_interval")

    @classmethod
    def monthly(cls, count: int = 1) -> Interval:
        """Every `count` months."""
        return cls(IntervalUnit.MONTH, count)

    @classmethod
    def yearly(cls, count: int = 1) -> Interval:
        """Every `count` years."""
        return cls(IntervalUnit.YEAR, count)

    @property
    def months(self) -> int:
        """The interval's length in calendar months."""
        return self.count * 12 if self.unit is IntervalUnit.YEAR else self.count


@dataclass(frozen=True)
class Period:
    """A half-open UTC interval [start, end): the start belongs to it, the end to the next one."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        # Normalised here so equal periods compare and hash equal whatever offset they came with.
        object.__setattr__(self, "start", ensure_utc(self.start))
        object.__setattr__(self, "end", ensure_utc(self.end))
        if not self.start < self.end:
            raise ValueError(f"a period must end after it starts: {self.start} .. {self.end}")

    def contains(self, moment: datetime) -> bool:
        """Whether `moment` falls in [start, end)."""
        return self.start <= ensure_utc(moment) < self.end

    @property
    def duration(self) -> timedelta:
        """The exact length of the period."""
        return self.end - self.start


def add_months(anchor: datetime, months: int) -> datetime:
    """Move `anchor` by `months` calendar months: same day (clamped to the month's end), same time."""
    anchor = ensure_utc(anchor)
    year, month_index = divmod(anchor.year * 12 + anchor.month - 1 + months, 12)
    month = month_index + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def _boundary(anchor: datetime, interval: Interval, index: int) -> datetime:
    return add_months(anchor, index * interval.months)


def period_number_containing(anchor: datetime, interval: Interval, moment: datetime) -> int:
    """Return the index of the period (0 = the one starting at `anchor`) that contains `moment`."""
    anchor, moment = ensure_utc(anchor), ensure_utc(moment)
    if moment < anchor:
        raise ValueError(f"{moment} is before the billing anchor {anchor}")
    months = (moment.year - anchor.year) * 12 + moment.month - anchor.month
    index = months // interval.months
    # Counting calendar months can overshoot by one period (the moment's day or time of day is
    # before the anchor's) but never undershoot: boundary index + 1 lies in a later calendar month
    # than the moment. One check settles it, whatever the distance from the anchor.
    if _boundary(anchor, interval, index) > moment:
        index -= 1
    return index


def period_at(anchor: datetime, interval: Interval, index: int) -> Period:
    """Return period number `index` (0-based) of the cycle anchored on `anchor`."""
    if index < 0:
        raise ValueError(f"period index must be non-negative, not {index}")
    return Period(_boundary(anchor, interval, index), _boundary(anchor, interval, index + 1))


def period_containing(anchor: datetime, interval: Interval, moment: datetime) -> Period:
    """Return the period of the cycle anchored on `anchor` that contains `moment` (not before the anchor)."""
    return period_at(anchor, interval, period_number_containing(anchor, interval, moment))


def cycle_anchor(start: datetime, billing_anchor: datetime | None) -> datetime:
    """Return the moment periods after the first are anchored on: the billing anchor, else the start."""
    return ensure_utc(billing_anchor if billing_anchor is not None else start)


def first_period(start: datetime, interval: Interval, billing_anchor: datetime | None) -> Period:
    """Return a subscription's first period; a billing anchor after `start` shortens it to end there.

    Like Stripe's billing_cycle_anchor, the anchor may not be before the start nor later than the
    end of a first full period (the next natural boundary): then no boundary of the anchor's cycle
    falls between the start and the anchor, so the anchor itself is the first boundary after start.
    """
    start = ensure_utc(start)
    if billing_anchor is None or ensure_utc(billing_anchor) == start:
        return period_at(start, interval, 0)
    anchor = ensure_utc(billing_anchor)
    natural_end = add_months(start, interval.months)
    if not start < anchor <= natural_end:
        violation = FieldViolation("billing_anchor", f"must be between the start {start} and {natural_end}")
        raise InvalidArgument.of(violation, reason="invalid_billing_anchor")
    return Period(start, anchor)


def next_period(anchor: datetime, interval: Interval, current: Period) -> Period:
    """Return the period that follows `current` in the cycle anchored on `anchor` (see `cycle_anchor`)."""
    following = period_containing(anchor, interval, current.end)
    # A period that does not end on one of the cycle's boundaries would leave a gap or an overlap.
    if following.start != current.end:
        raise ValueError(f"{current} does not end on a boundary of the cycle anchored on {ensure_utc(anchor)}")
    return following


def whole_period(anchor: datetime, interval: Interval, period: Period) -> Period:
    """The cycle's whole period that `period` is part of: itself, unless it is a shortened one.

    A stub up to the billing anchor ([Apr 6, May 1) of a monthly cycle anchored on May 1) is part
    of [Apr 1, May 1), the cycle's period before the anchor; a period that does not end on one of
    the cycle's boundaries is its own whole (a restarted cycle's first period, a trial).
    """
    anchor, end = ensure_utc(anchor), period.end
    index = 0 if end <= anchor else period_number_containing(anchor, interval, end)
    if _boundary(anchor, interval, index) != end:
        return period
    whole = Period(_boundary(anchor, interval, index - 1), end)
    return whole if whole.start <= period.start else period
