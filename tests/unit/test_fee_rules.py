"""Base-fee rules: stubs prorated over the cycle's whole period, by second or by day, fees in arrears.

Figures are the worked examples of docs/billing-rules/README.md: a 31.00 monthly fee, a subscription started Jan 15
09:00 UTC and anchored on Feb 1 (a stub of 16 days 15 hours of January's 31 days).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_grpc.domain.base_fees import advance_fee_line, arrears_fee_line, closing_fee_lines
from billing_grpc.domain.errors import InvalidArgument
from billing_grpc.domain.money import round_minor
from billing_grpc.domain.periods import Interval, Period, add_months, first_period, whole_period
from billing_grpc.domain.plan import Plan, create_plan
from billing_grpc.domain.plan_terms import BaseFeeTiming, ProrationUnit
from billing_grpc.domain.proration import (
    ProrationBehavior,
    change_lines,
    period_fee_line,
    remaining_fraction,
    steps_covered,
    used_line,
)

JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
JAN_15 = datetime(2026, 1, 15, 9, tzinfo=UTC)
FEB_1 = datetime(2026, 2, 1, tzinfo=UTC)
JANUARY = Period(JAN_1, FEB_1)
MONTHLY = Interval.monthly()
CREATE, NONE = ProrationBehavior.CREATE_PRORATIONS, ProrationBehavior.NONE


def plan(fee: int, timing: str = "", unit: str = "", name: str = "Basic", interval: str = "month") -> Plan:
    created = create_plan(f"plan-{name}", name.lower(), name, "USD", interval, 1, fee, 0, (), JAN_1, (), timing, unit)
    state = Plan.replay([created])
    assert state is not None
    return state


def test_a_stub_before_the_anchor_is_part_of_the_cycle_period_ending_there() -> None:
    stub = first_period(JAN_15, MONTHLY, FEB_1)
    assert stub == Period(JAN_15, FEB_1)
    assert whole_period(FEB_1, MONTHLY, stub) == JANUARY
    # A whole period is its own; a period that ends off the cycle's boundaries is too.
    assert whole_period(FEB_1, MONTHLY, Period(FEB_1, datetime(2026, 3, 1, tzinfo=UTC))) == Period(
        FEB_1, datetime(2026, 3, 1, tzinfo=UTC)
    )
    off = Period(JAN_15, datetime(2026, 1, 20, tzinfo=UTC))
    assert whole_period(FEB_1, MONTHLY, off) == off


def test_month_end_anchors_measure_stubs_against_calendar_correct_periods() -> None:
    jan_31 = datetime(2026, 1, 31, tzinfo=UTC)
    apr_30 = datetime(2026, 4, 30, tzinfo=UTC)
    # A cycle anchored on Jan 31: Mar 31 -> Apr 30 is whole (30 days), not a stub of Mar 30 -> Apr 30.
    assert whole_period(jan_31, MONTHLY, Period(datetime(2026, 3, 31, tzinfo=UTC), apr_30)) == Period(
        datetime(2026, 3, 31, tzinfo=UTC), apr_30
    )
    stub = Period(datetime(2026, 4, 10, tzinfo=UTC), apr_30)
    assert whole_period(jan_31, MONTHLY, stub) == Period(datetime(2026, 3, 31, tzinfo=UTC), apr_30)


def test_the_stub_bills_its_share_to_the_second_rounded_half_up_once() -> None:
    # 16 d 15 h = 1,436,400 s of 2,678,400 s: 3100 * 0.53629… = 1662.5 exactly, rounded up to 1663.
    line = period_fee_line(plan(3100), Period(JAN_15, FEB_1), JANUARY)
    assert line is not None
    assert line.unit_amount == Decimal(3100) * Decimal(1_436_400) / Decimal(2_678_400) == Decimal("1662.5")
    assert (line.kind, line.amount_minor, line.period) == ("base_fee", 1663, Period(JAN_15, FEB_1))


def test_by_day_the_started_day_counts_as_served() -> None:
    # Jan 15 09:00 starts Jan 15: 17 of January's 31 days, 3100 * 17 / 31 = 1700.
    line = period_fee_line(plan(3100, unit="day"), Period(JAN_15, FEB_1), JANUARY)
    assert line is not None and line.amount_minor == 1700
    assert line.description.endswith("17 of 31 days")
    assert remaining_fraction(JANUARY, JAN_15, ProrationUnit.DAY) == Decimal(17) / Decimal(31)
    assert remaining_fraction(JANUARY, JAN_15) == Decimal(1_436_400) / Decimal(2_678_400)


def test_a_whole_period_bills_the_fee_as_it_is_and_a_free_plan_nothing_prorated() -> None:
    line = period_fee_line(plan(3100), JANUARY, JANUARY)
    assert line is not None and (line.amount_minor, line.description) == (3100, "Basic base fee")
    assert period_fee_line(plan(0), Period(JAN_15, FEB_1), JANUARY) is None


def test_a_coming_stub_bills_in_advance_its_share_or_nothing_under_none() -> None:
    stub = Period(JAN_15, FEB_1)
    prorated = advance_fee_line(plan(3100), stub, FEB_1, CREATE)
    assert prorated is not None and prorated.amount_minor == 1663
    assert advance_fee_line(plan(3100), stub, FEB_1, NONE) is None
    whole = advance_fee_line(plan(3100), JANUARY, JAN_1, NONE)  # none affects stubs only
    assert whole is not None and whole.amount_minor == 3100
    assert advance_fee_line(plan(3100, "arrears"), JANUARY, JAN_1, CREATE) is None


def test_an_arrears_fee_bills_the_time_served_at_the_close_and_the_next_fee_in_advance_stays_apart() -> None:
    arrears, advance = plan(3100, "arrears"), plan(6200, name="Pro")
    assert arrears.base_fee_timing is BaseFeeTiming.ARREARS and arrears.in_arrears
    served = Period(datetime(2026, 1, 11, tzinfo=UTC), FEB_1)  # 21 of 31 days
    line = arrears_fee_line(arrears, served, JANUARY)
    assert line is not None and line.amount_minor == 2100
    assert arrears_fee_line(advance, served, JANUARY) is None
    february = Period(FEB_1, datetime(2026, 3, 1, tzinfo=UTC))
    fees = closing_fee_lines(arrears, served, JANUARY, advance, february, JAN_1, CREATE)
    assert [(fee.description, fee.amount_minor) for fee in fees] == [
        ("Basic base fee, prorated from 2026-01-11 00:00:00 UTC to 2026-02-01 00:00:00 UTC", 2100),
        ("Pro base fee", 6200),
    ]
    assert closing_fee_lines(arrears, None, JANUARY, arrears, february, JAN_1, CREATE) == []


def test_leaving_an_arrears_plan_bills_its_time_served_and_credits_nothing() -> None:
    at = datetime(2026, 1, 11, tzinfo=UTC)  # 10 of 31 days served
    basic, pro = plan(3100, "arrears"), plan(6200, "arrears", name="Pro")
    [used] = change_lines(basic, pro, JANUARY, at)
    assert (used.kind, used.amount_minor, used.period) == ("proration", 1000, Period(JAN_1, at))
    assert used.description == "Used time on Basic until 2026-01-11 00:00:00 UTC"
    # Under none the advance fees are left alone, but the time served is still billed.
    assert [line.amount_minor for line in change_lines(basic, plan(6200, name="Pro"), JANUARY, at)] == [1000, 4200]
    [only] = change_lines(basic, plan(6200, name="Pro"), JANUARY, at, prorate_advance=False)
    assert only.amount_minor == 1000
    assert change_lines(plan(3100), pro, JANUARY, at, prorate_advance=False) == []
    # From an advance plan into an arrears one: the unused advance part is credited, nothing charged yet.
    assert [line.amount_minor for line in change_lines(plan(3100), pro, JANUARY, at)] == [-2100]
    assert used_line(basic, JANUARY, at, at) is None


def test_plan_terms_are_validated_and_default_to_advance_by_second() -> None:
    default = plan(100)
    assert (default.base_fee_timing, default.proration_unit) == (BaseFeeTiming.ADVANCE, ProrationUnit.SECOND)
    with pytest.raises(InvalidArgument) as refused:
        create_plan("p", "p", "P", "USD", "month", 1, 100, 0, (), JAN_1, (), "later", "week")
    assert {v.field for v in refused.value.violations} == {"base_fee_timing", "proration_unit"}


units = st.sampled_from([ProrationUnit.SECOND, ProrationUnit.DAY])
fees = st.integers(min_value=0, max_value=10**12)
anchors = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=0))


per_million = st.integers(min_value=0, max_value=10**6)


def moment_in(period: Period, millionths: int) -> datetime:
    """The moment `millionths` of the way through `period`, to the second."""
    return period.start + timedelta(seconds=period.duration // timedelta(seconds=1) * millionths // 10**6)


@given(anchor=anchors, fee=fees, unit=units, cuts=st.lists(per_million, max_size=6), months=st.sampled_from([1, 3, 12]))
def test_prorated_parts_of_a_fee_sum_to_the_whole_fee_within_one_minor_unit_per_part(
    anchor: datetime, fee: int, unit: ProrationUnit, cuts: list[int], months: int
) -> None:
    whole = Period(anchor, add_months(anchor, months))
    moments = sorted({moment_in(whole, cut) for cut in cuts} - {whole.start, whole.end})
    bounds = [whole.start, *moments, whole.end]
    parts = [Period(a, b) for a, b in itertools.pairwise(bounds)]
    priced = plan(fee, unit=unit.value)
    lines = [period_fee_line(priced, part, whole) for part in parts]
    # Exactly: the parts cover every step (second or day) of the period once.
    covered = [steps_covered(whole, part, unit) for part in parts]
    assert sum(steps for steps, _ in covered) == covered[0][1]
    billed = sum(line.amount_minor for line in lines if line is not None)
    assert abs(billed - fee) <= len(parts)


@given(anchor=anchors, fee=fees, unit=units, served=per_million)
def test_an_arrears_fee_is_never_billed_for_time_not_yet_served(
    anchor: datetime, fee: int, unit: ProrationUnit, served: int
) -> None:
    whole = Period(anchor, add_months(anchor, 1))
    at = moment_in(whole, served)
    line = used_line(plan(fee, "arrears", unit.value), whole, whole.start, at)
    billed = 0 if line is None else line.amount_minor
    # The whole steps (seconds, or days) served by `at`; the day `at` falls in is the next plan's.
    step = timedelta(days=1) if unit is ProrationUnit.DAY else timedelta(seconds=1)
    assert line is None or line.period == Period(whole.start, at)
    assert billed == round_minor(Decimal(fee) * Decimal((at - whole.start) // step) / Decimal(whole.duration // step))
