"""Billing alignment on plan changes, in the domain: unit tables and hypothesis properties.

The properties check the rules against independent arithmetic (calendar months counted by hand,
whole seconds), not against the functions that implement them.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from billing_grpc.domain.base_fees import advance_fee_line
from billing_grpc.domain.billing_alignment import (
    aligned_anchor,
    aligned_period,
    next_cycle_day,
    parse_cycle_anchor,
    resolve,
)
from billing_grpc.domain.cycle_changes import CycleAnchor
from billing_grpc.domain.errors import InvalidArgument
from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.periods import Interval, Period
from billing_grpc.domain.plan import Plan, create_plan
from billing_grpc.domain.proration import ProrationBehavior
from billing_grpc.domain.subscription import Subscription, evolve
from billing_grpc.domain.subscription_changes import (
    change_now,
    closes_period,
    restart_now,
    scheduled_change,
)
from billing_grpc.domain.subscription_start import start_subscription
from billing_grpc.domain.usage import LiveSubscription

JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
HALF = Decimal("0.5")  # rounding half-up once per line


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def plan(months: int, fee: int, name: str = "P") -> Plan:
    unit, count = ("year", months // 12) if months % 12 == 0 else ("month", months)
    created = create_plan(f"plan-{name}", name.lower(), name, "USD", unit, count, fee, 0, (), JAN_1)
    state = Plan.replay([created])
    assert state is not None
    return state


# -- tables ---------------------------------------------------------------------------------


def test_the_next_cycle_day_is_the_first_moment_on_the_anchors_day_and_time_at_or_after() -> None:
    anchor = utc(2026, 1, 31, 9)
    assert next_cycle_day(anchor, utc(2026, 4, 10)) == (utc(2026, 4, 30, 9), 3)  # clamped in April
    assert next_cycle_day(anchor, utc(2026, 4, 30, 9)) == (utc(2026, 4, 30, 9), 3)  # on it
    assert next_cycle_day(anchor, utc(2026, 4, 30, 10)) == (utc(2026, 5, 31, 9), 4)
    assert next_cycle_day(anchor, utc(2025, 12, 5)) == (utc(2025, 12, 31, 9), -1)  # before the anchor


def test_the_aligned_anchor_carries_the_unclamped_day() -> None:
    jan_31 = utc(2026, 1, 31)
    assert aligned_anchor(jan_31, 3, Interval.monthly(3)) == jan_31  # Apr 30 is clamped: Jan 31, a quarter back
    assert aligned_anchor(jan_31, 4, Interval.monthly(3)) == utc(2026, 5, 31)  # May 31 is not
    assert aligned_anchor(jan_31, 1, Interval.yearly()) == utc(2024, 2, 29)  # every Feb is clamped: the leap one
    assert aligned_anchor(utc(2026, 1, 1), 4, Interval.yearly()) == utc(2026, 5, 1)


def test_aligned_periods_are_a_stub_to_the_next_cycle_day_or_a_full_period_on_it() -> None:
    anchor = utc(2026, 1, 1)
    assert aligned_period(anchor, Interval.yearly(), utc(2026, 4, 15)) == (
        Period(utc(2026, 4, 15), utc(2026, 5, 1)),
        utc(2026, 5, 1),
    )
    assert aligned_period(anchor, Interval.monthly(3), utc(2026, 5, 1)) == (
        Period(utc(2026, 5, 1), utc(2026, 8, 1)),
        utc(2026, 5, 1),
    )


def test_the_default_restarts_only_an_interval_change_now_and_now_is_refused_where_it_cannot_be_honoured() -> None:
    unchanged, now = CycleAnchor.UNCHANGED, CycleAnchor.NOW
    assert resolve(None, interval_changes=True, at_period_end=False, trialing=False) is now
    assert resolve(None, interval_changes=False, at_period_end=False, trialing=False) is unchanged
    assert resolve(None, interval_changes=True, at_period_end=True, trialing=False) is unchanged
    assert resolve(None, interval_changes=True, at_period_end=False, trialing=True) is unchanged
    assert resolve(now, interval_changes=False, at_period_end=False, trialing=False) is now
    assert resolve(unchanged, interval_changes=True, at_period_end=False, trialing=False) is unchanged
    for at_period_end, trialing in ((True, False), (False, True)):
        with pytest.raises(InvalidArgument) as refused:
            resolve(now, interval_changes=True, at_period_end=at_period_end, trialing=trialing)
        assert refused.value.reason == "invalid_billing_cycle_anchor"
        assert [v.field for v in refused.value.violations] == ["billing_cycle_anchor"]
    assert parse_cycle_anchor("") is None and parse_cycle_anchor("now") is now
    with pytest.raises(InvalidArgument) as unknown:
        parse_cycle_anchor("Unchanged")
    assert unknown.value.violations[0].field == "billing_cycle_anchor"


# -- properties -----------------------------------------------------------------------------


def clamped(year: int, month: int, cycle_day: int) -> int:
    return min(cycle_day, calendar.monthrange(year, month)[1])


def month_index(moment: datetime) -> int:
    return moment.year * 12 + moment.month - 1


def cycle_date(index: int, cycle_day: int, time_of: datetime) -> datetime:
    """The cycle day of the calendar month `index` (year * 12 + month - 1), counted by hand."""
    year, month = divmod(index, 12)
    return time_of.replace(year=year, month=month + 1, day=clamped(year, month + 1, cycle_day))


def seconds(span: timedelta) -> int:
    return int(span.total_seconds())


def fold(sub: Subscription, events: list[DomainEvent]) -> Subscription:
    for event in events:
        folded = evolve(sub, event)
        assert folded is not None
        sub = folded
    return sub


def roll(sub: Subscription, interval: Interval) -> Subscription:
    """Close the current period at its end: the subscription moves into the next one."""
    end = sub.current_period.end
    return fold(sub, sub.close_period("in_x", interval, end))


def assert_on_cycle_day(moment: datetime, cycle_day: int, time_of: datetime) -> None:
    assert moment.day == clamped(moment.year, moment.month, cycle_day), moment
    assert moment.time() == time_of.time(), moment


INTERVALS = [1, 2, 3, 6, 12, 24]
cycle_days = st.one_of(st.integers(min_value=28, max_value=31), st.integers(min_value=1, max_value=31))


@st.composite
def starts(draw: st.DrawFn) -> datetime:
    day = draw(cycle_days)
    year, month = draw(st.integers(min_value=2023, max_value=2028)), draw(st.integers(min_value=1, max_value=12))
    if day > calendar.monthrange(year, month)[1]:
        month = 1  # January has every day
    return datetime(
        year,
        month,
        day,
        draw(st.integers(min_value=0, max_value=23)),
        draw(st.sampled_from([0, 30, 59])),
        draw(st.sampled_from([0, 1, 59])),
        tzinfo=UTC,
    )


@given(
    start=starts(),
    old_months=st.sampled_from(INTERVALS),
    new_months=st.sampled_from(INTERVALS),
    periods_before=st.integers(min_value=0, max_value=14),
    offset=st.integers(min_value=1, max_value=10**9),
    old_fee=st.integers(min_value=0, max_value=10**8),
    new_fee=st.integers(min_value=0, max_value=10**8),
)
@example(  # monthly from Jan 31 to quarterly inside [Mar 31, Apr 30): the stub ends on a clamped day
    start=utc(2026, 1, 31), old_months=1, new_months=3, periods_before=2, offset=10 * 86400, old_fee=3000, new_fee=9000
)
@example(  # annual from Jan 1 to monthly on a cycle day inside the year (Aug 1): no stub
    start=utc(2026, 1, 1), old_months=12, new_months=1, periods_before=0, offset=212 * 86400, old_fee=1, new_fee=1
)
def test_an_unchanged_interval_change_now_keeps_the_cycle_day_and_bills_consistent_parts(
    start: datetime,
    old_months: int,
    new_months: int,
    periods_before: int,
    offset: int,
    old_fee: int,
    new_fee: int,
) -> None:
    if old_months == new_months:
        new_months = old_months * 2 if old_months < 12 else 1
    old, new = plan(old_months, old_fee, "Old"), plan(new_months, new_fee, "New")
    sub = Subscription.replay([start_subscription("sub_1", "org_1", old, "USD", start, None, start)])
    assert sub is not None
    for _ in range(periods_before):
        sub = roll(sub, old.interval)
    current = sub.current_period
    at = current.start + timedelta(seconds=1 + (offset - 1) % (seconds(current.duration) - 1))
    cycle_day, time_of = start.day, start

    assert closes_period(sub, old, new, CycleAnchor.UNCHANGED)
    changed = change_now(sub, old, new, ProrationBehavior.CREATE_PRORATIONS, at, "in_1", closes=True)
    closing = restart_now(sub, new, "in_1", at, CycleAnchor.UNCHANGED)
    assert closing.period_end == closing.next_period_start == at
    assert closing.next_period_end is not None and closing.cycle_anchor is not None
    first = Period(at, closing.next_period_end)

    # The first period ends on the first cycle day after the change (counted by hand).
    index = month_index(at)
    next_day = cycle_date(index, cycle_day, time_of)
    if next_day < at:
        next_day = cycle_date(index + 1, cycle_day, time_of)
    on_cycle_day = next_day == at
    assert first.end == (cycle_date(index + new_months, cycle_day, time_of) if on_cycle_day else next_day)

    # The old fee's unused part is credited to the second (within one minor unit).
    unused = Decimal(old_fee) * seconds(current.end - at) / seconds(current.duration)
    credits = [line["amount_minor"] for line in changed.proration_lines]
    assert len(credits) <= 1 and all(credit < 0 for credit in credits)  # one credit, unless it rounds to 0
    assert abs(sum(credits) + unused) <= HALF
    # The new fee's stub is its share of the new interval's whole period ending on the cycle day.
    whole_start = cycle_date(month_index(first.end) - new_months, cycle_day, time_of)
    stub = advance_fee_line(new, first, closing.cycle_anchor, ProrationBehavior.CREATE_PRORATIONS)
    share = Decimal(seconds(first.duration)) / seconds(first.end - whole_start)
    assert abs((stub.amount_minor if stub else 0) - new_fee * share) <= HALF
    if on_cycle_day:
        assert (stub.amount_minor if stub else 0) == new_fee

    # Later periods: contiguous, the new interval long, every boundary on the cycle day.
    sub = fold(sub, [changed, closing])
    assert sub.current_period == first
    boundaries = [first.end]
    for _ in range(8):
        before = sub.current_period
        sub = roll(sub, new.interval)
        assert sub.current_period.start == before.end
        assert month_index(sub.current_period.end) - month_index(sub.current_period.start) == new_months
        boundaries.append(sub.current_period.end)
        # A whole period bills the whole fee.
        fee = advance_fee_line(new, sub.current_period, sub.cycle_anchor, ProrationBehavior.CREATE_PRORATIONS)
        assert (fee.amount_minor if fee else 0) == new_fee
    for boundary in boundaries:
        assert_on_cycle_day(boundary, cycle_day, time_of)

    # Ingestion puts usage in the same periods: the stub, then the new cycle's periods.
    live = LiveSubscription(
        subscription_id="sub_1",
        meter_codes=frozenset(),
        started_at=start,
        trial_end=None,
        cycle_anchor=closing.cycle_anchor,
        interval=new.interval,
        open_from=start,
        ends_at=None,
        boundaries=(Period(current.start, at),),
        current=first,
    )
    assert live.period_at(at - timedelta(microseconds=1)) == Period(current.start, at)
    assert live.period_at(at) == first and live.period_at(first.end - timedelta(microseconds=1)) == first
    assert live.period_at(first.end) == Period(first.end, boundaries[1])
    assert live.period_at(boundaries[2]) == Period(boundaries[2], boundaries[3])


@given(
    start=starts(),
    old_months=st.sampled_from(INTERVALS),
    new_months=st.sampled_from(INTERVALS),
    periods_before=st.integers(min_value=0, max_value=14),
)
def test_an_interval_change_at_period_end_keeps_the_cycle_day(
    start: datetime, old_months: int, new_months: int, periods_before: int
) -> None:
    if old_months == new_months:
        new_months = old_months * 2 if old_months < 12 else 1
    old, new = plan(old_months, 1000, "Old"), plan(new_months, 2000, "New")
    sub = Subscription.replay([start_subscription("sub_1", "org_1", old, "USD", start, None, start)])
    assert sub is not None
    for _ in range(periods_before):
        sub = roll(sub, old.interval)
    end = sub.current_period.end
    closing = sub.close_period("in_1", old.interval, end)
    events, following = scheduled_change(sub, old, new, closing, end)
    assert following.start == end
    assert month_index(following.end) - month_index(end) == new_months
    sub = fold(sub, events)
    boundaries = [following.start, following.end]
    for _ in range(8):
        sub = roll(sub, new.interval)
        boundaries.append(sub.current_period.end)
    for boundary in boundaries:
        assert_on_cycle_day(boundary, start.day, start)
