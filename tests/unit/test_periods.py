"""Billing periods: calendar-correct, anchored (never chained), half-open, UTC."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_grpc.domain.errors import InvalidArgument
from billing_grpc.domain.periods import (
    Interval,
    IntervalUnit,
    Period,
    add_months,
    cycle_anchor,
    first_period,
    next_period,
    period_at,
    period_containing,
    period_number_containing,
)

MONTHLY = Interval.monthly()
YEARLY = Interval.yearly()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def boundaries(anchor: datetime, interval: Interval, count: int) -> list[datetime]:
    return [period_at(anchor, interval, k).start for k in range(count)]


@pytest.mark.parametrize(
    ("anchor", "months", "expected"),
    [
        (utc(2024, 1, 31, 9, 30), 1, utc(2024, 2, 29, 9, 30)),
        (utc(2025, 1, 31, 9, 30), 1, utc(2025, 2, 28, 9, 30)),
        (utc(2025, 1, 31), 2, utc(2025, 3, 31)),
        (utc(2025, 1, 31), 3, utc(2025, 4, 30)),
        (utc(2025, 11, 15), 2, utc(2026, 1, 15)),
        (utc(2025, 12, 31), 1, utc(2026, 1, 31)),
        (utc(2025, 3, 31), -1, utc(2025, 2, 28)),
        (utc(2024, 2, 29), 12, utc(2025, 2, 28)),
        (utc(2024, 2, 29), 48, utc(2028, 2, 29)),
        (utc(2025, 5, 10, 23, 59, 59, 999999), 0, utc(2025, 5, 10, 23, 59, 59, 999999)),
    ],
)
def test_add_months_keeps_the_day_clamped_to_the_month_end_and_the_time(
    anchor: datetime, months: int, expected: datetime
) -> None:
    assert add_months(anchor, months) == expected


def test_jan_31_monthly_over_a_leap_year_is_anchored_not_chained() -> None:
    assert boundaries(utc(2024, 1, 31), MONTHLY, 6) == [
        utc(2024, 1, 31),
        utc(2024, 2, 29),
        utc(2024, 3, 31),
        utc(2024, 4, 30),
        utc(2024, 5, 31),
        utc(2024, 6, 30),
    ]


def test_jan_31_monthly_over_a_common_year_is_anchored_not_chained() -> None:
    assert boundaries(utc(2025, 1, 31, 12), MONTHLY, 5) == [
        utc(2025, 1, 31, 12),
        utc(2025, 2, 28, 12),
        utc(2025, 3, 31, 12),
        utc(2025, 4, 30, 12),
        utc(2025, 5, 31, 12),
    ]
    assert period_at(utc(2025, 1, 31, 12), MONTHLY, 11) == Period(utc(2025, 12, 31, 12), utc(2026, 1, 31, 12))


def test_a_feb_29_yearly_anchor_returns_to_feb_29_in_the_next_leap_year() -> None:
    assert boundaries(utc(2024, 2, 29), YEARLY, 5) == [
        utc(2024, 2, 29),
        utc(2025, 2, 28),
        utc(2026, 2, 28),
        utc(2027, 2, 28),
        utc(2028, 2, 29),
    ]


def test_every_three_months_is_anchored_too() -> None:
    quarterly = Interval.monthly(3)
    assert boundaries(utc(2025, 11, 30), quarterly, 5) == [
        utc(2025, 11, 30),
        utc(2026, 2, 28),
        utc(2026, 5, 30),
        utc(2026, 8, 30),
        utc(2026, 11, 30),
    ]
    assert period_containing(utc(2025, 11, 30), quarterly, utc(2026, 4, 1)) == Period(
        utc(2026, 2, 28), utc(2026, 5, 30)
    )


def test_a_boundary_belongs_to_the_period_it_starts() -> None:
    anchor = utc(2025, 1, 31)
    feb_28 = utc(2025, 2, 28)
    assert period_containing(anchor, MONTHLY, feb_28) == Period(feb_28, utc(2025, 3, 31))
    assert period_number_containing(anchor, MONTHLY, feb_28) == 1
    just_before = feb_28 - timedelta(microseconds=1)
    assert period_containing(anchor, MONTHLY, just_before) == Period(anchor, feb_28)
    assert period_number_containing(anchor, MONTHLY, just_before) == 0
    assert period_containing(anchor, MONTHLY, anchor) == Period(anchor, feb_28)


def test_the_time_of_day_of_the_anchor_counts() -> None:
    anchor = utc(2025, 3, 15, 18)
    assert period_number_containing(anchor, MONTHLY, utc(2025, 4, 15, 17, 59)) == 0
    assert period_number_containing(anchor, MONTHLY, utc(2025, 4, 15, 18)) == 1


def test_no_period_exists_before_the_anchor() -> None:
    with pytest.raises(ValueError):
        period_containing(utc(2025, 1, 31), MONTHLY, utc(2025, 1, 30, 23, 59))
    with pytest.raises(ValueError):
        period_at(utc(2025, 1, 31), MONTHLY, -1)


def test_finding_a_period_far_from_the_anchor_is_arithmetic_not_a_walk() -> None:
    anchor = utc(2000, 1, 31)
    started = time.perf_counter()
    for _ in range(1000):
        number = period_number_containing(anchor, MONTHLY, utc(9999, 12, 30))
    assert time.perf_counter() - started < 1.0
    assert number == (9999 - 2000) * 12 + 10
    assert period_at(anchor, MONTHLY, number) == Period(utc(9999, 11, 30), utc(9999, 12, 31))


def test_intervals_count_months() -> None:
    assert Interval(IntervalUnit.MONTH, 3).months == 3
    assert Interval(IntervalUnit.YEAR, 2).months == 24
    assert Interval.monthly(36).months == 36
    assert Interval.yearly(10).months == 120
    assert IntervalUnit("month") is IntervalUnit.MONTH


@pytest.mark.parametrize(
    ("unit", "count"),
    [(IntervalUnit.MONTH, 0), (IntervalUnit.MONTH, 37), (IntervalUnit.YEAR, 11), (IntervalUnit.YEAR, -1)],
)
def test_interval_counts_are_bounded(unit: IntervalUnit, count: int) -> None:
    with pytest.raises(InvalidArgument) as raised:
        Interval(unit, count)
    assert raised.value.reason == "invalid_interval"
    assert [v.field for v in raised.value.violations] == ["count"]


def test_interval_types_are_checked() -> None:
    with pytest.raises(TypeError):
        Interval("month", 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Interval(IntervalUnit.MONTH, True)


def test_a_period_is_half_open_utc_and_ends_after_it_starts() -> None:
    period = Period(utc(2025, 1, 1), utc(2025, 2, 1))
    assert period.contains(utc(2025, 1, 1))
    assert period.contains(utc(2025, 1, 31, 23, 59, 59, 999999))
    assert not period.contains(utc(2025, 2, 1))
    assert not period.contains(utc(2024, 12, 31, 23, 59))
    assert period.duration == timedelta(days=31)
    with pytest.raises(ValueError):
        Period(utc(2025, 1, 1), utc(2025, 1, 1))
    with pytest.raises(ValueError):
        Period(utc(2025, 2, 1), utc(2025, 1, 1))
    with pytest.raises(ValueError):
        Period(datetime(2025, 1, 1), utc(2025, 2, 1))
    with pytest.raises(ValueError):
        period.contains(datetime(2025, 1, 2))
    with pytest.raises(ValueError):
        add_months(datetime(2025, 1, 2), 1)


def test_periods_are_normalised_to_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    period = Period(datetime(2025, 1, 1, 9, tzinfo=tokyo), datetime(2025, 2, 1, 9, tzinfo=tokyo))
    assert period == Period(utc(2025, 1, 1), utc(2025, 2, 1))
    assert period.start.tzinfo is UTC and period.end.tzinfo is UTC


def test_daylight_saving_never_moves_a_boundary() -> None:
    # 09:00 in New York on 1 March is 14:00 UTC; the US moves its clocks on 8 March 2026 and
    # 1 November 2026, and Europe on 29 March: none of it shows in UTC periods.
    anchor = datetime(2026, 3, 1, 9, tzinfo=ZoneInfo("America/New_York"))
    starts = boundaries(anchor, MONTHLY, 10)
    assert all(start.hour == 14 and start.minute == 0 and start.tzinfo is UTC for start in starts)
    assert period_at(anchor, MONTHLY, 0).duration == timedelta(days=31)
    assert period_at(anchor, MONTHLY, 7).duration == timedelta(days=31)  # October, over the autumn change
    assert period_at(anchor, MONTHLY, 0) == period_at(utc(2026, 3, 1, 14), MONTHLY, 0)


def test_without_a_billing_anchor_the_first_period_is_a_full_interval() -> None:
    start = utc(2026, 1, 10, 8)
    assert first_period(start, MONTHLY, None) == Period(start, utc(2026, 2, 10, 8))
    assert first_period(start, YEARLY, None) == Period(start, utc(2027, 1, 10, 8))
    assert cycle_anchor(start, None) == start


def test_a_billing_anchor_shortens_the_first_period_and_anchors_the_rest() -> None:
    start, anchor = utc(2026, 1, 10, 8), utc(2026, 2, 1)
    first = first_period(start, MONTHLY, anchor)
    assert first == Period(start, anchor)
    assert cycle_anchor(start, anchor) == anchor
    second = next_period(anchor, MONTHLY, first)
    third = next_period(anchor, MONTHLY, second)
    assert (second, third) == (Period(utc(2026, 2, 1), utc(2026, 3, 1)), Period(utc(2026, 3, 1), utc(2026, 4, 1)))


def test_a_billing_anchor_on_the_31st_keeps_month_ends() -> None:
    start, anchor = utc(2026, 1, 5), utc(2026, 1, 31)
    period = first_period(start, MONTHLY, anchor)
    ends = []
    for _ in range(4):
        period = next_period(anchor, MONTHLY, period)
        ends.append(period.end)
    assert ends == [utc(2026, 2, 28), utc(2026, 3, 31), utc(2026, 4, 30), utc(2026, 5, 31)]


def test_a_billing_anchor_at_the_start_or_the_natural_end_gives_a_full_first_period() -> None:
    start = utc(2026, 1, 31)
    assert first_period(start, MONTHLY, start) == Period(start, utc(2026, 2, 28))
    assert first_period(start, MONTHLY, utc(2026, 2, 28)) == Period(start, utc(2026, 2, 28))


@pytest.mark.parametrize("anchor", [utc(2026, 1, 9), utc(2026, 2, 10, 0, 0, 1), utc(2027, 1, 1)])
def test_a_billing_anchor_before_the_start_or_past_the_first_natural_boundary_is_refused(anchor: datetime) -> None:
    with pytest.raises(InvalidArgument) as raised:
        first_period(utc(2026, 1, 10), MONTHLY, anchor)
    assert raised.value.reason == "invalid_billing_anchor"
    assert [v.field for v in raised.value.violations] == ["billing_anchor"]


def test_next_period_refuses_a_period_that_does_not_end_on_a_boundary() -> None:
    with pytest.raises(ValueError):
        next_period(utc(2026, 1, 1), MONTHLY, Period(utc(2026, 1, 1), utc(2026, 1, 15)))


# Properties.

anchors = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 12, 31), timezones=st.just(UTC))
intervals = st.one_of(
    st.integers(min_value=1, max_value=36).map(Interval.monthly),
    st.integers(min_value=1, max_value=10).map(Interval.yearly),
)
offsets = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=365 * 80))


@given(anchors, intervals, offsets)
def test_the_period_containing_a_moment_contains_it(anchor: datetime, interval: Interval, offset: timedelta) -> None:
    moment = anchor + offset
    period = period_containing(anchor, interval, moment)
    assert period.contains(moment)
    index = period_number_containing(anchor, interval, moment)
    assert period == period_at(anchor, interval, index)
    assert period_containing(anchor, interval, period.start) == period
    assert period_containing(anchor, interval, period.end) == period_at(anchor, interval, index + 1)


@given(anchors, intervals, st.integers(min_value=0, max_value=200))
def test_consecutive_periods_tile_time(anchor: datetime, interval: Interval, index: int) -> None:
    current, following = period_at(anchor, interval, index), period_at(anchor, interval, index + 1)
    assert current.end == following.start
    assert next_period(anchor, interval, current) == following
    assert period_at(anchor, interval, 0).start == anchor
    # Anchored, not chained: the time of day never drifts and the day only clamps at month ends.
    assert (following.start.time(), following.start.tzinfo) == (anchor.time(), UTC)
    assert following.start.day <= anchor.day
    assert following.start.day == anchor.day or (following.start + timedelta(days=1)).month != following.start.month


@given(anchors, intervals, st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=400)))
def test_a_billing_anchor_period_is_followed_by_full_anchored_periods(
    start: datetime, interval: Interval, delay: timedelta
) -> None:
    anchor = min(start + delay, add_months(start, interval.months))
    first = first_period(start, interval, anchor)
    assert first.start == start and first.end == anchor
    assert next_period(anchor, interval, first) == period_at(anchor, interval, 0)
