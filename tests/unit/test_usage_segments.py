"""Usage segments: after a plan change, ingestion assigns usage to the part of the period its plan rates."""

from __future__ import annotations

from datetime import UTC, datetime

from billing_grpc.domain.periods import Interval, Period
from billing_grpc.domain.usage import LiveSubscription

JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
CHANGE = datetime(2026, 1, 11, tzinfo=UTC)
FEB_1 = datetime(2026, 2, 1, tzinfo=UTC)


def live(**fields: object) -> LiveSubscription:
    defaults: dict[str, object] = {
        "subscription_id": "sub_1",
        "meter_codes": frozenset({"calls"}),
        "started_at": JAN_1,
        "trial_end": None,
        "cycle_anchor": JAN_1,
        "interval": Interval.monthly(),
        "open_from": JAN_1,
        "ends_at": None,
    }
    return LiveSubscription(**{**defaults, **fields})  # type: ignore[arg-type]


def test_a_mid_period_change_splits_the_period_at_the_change() -> None:
    sub = live(boundaries=(Period(JAN_1, CHANGE),), segment_start=CHANGE)
    assert sub.period_at(datetime(2026, 1, 5, tzinfo=UTC)) == Period(JAN_1, CHANGE)  # the old plan's part
    assert sub.period_at(CHANGE) == Period(CHANGE, FEB_1)  # the change's moment is the new plan's
    assert sub.period_at(datetime(2026, 1, 30, tzinfo=UTC)) == Period(CHANGE, FEB_1)
    assert sub.period_at(FEB_1) == Period(FEB_1, datetime(2026, 3, 1, tzinfo=UTC))  # the next period is whole


def test_a_restarted_cycle_keeps_the_closed_period_for_late_usage() -> None:
    # Monthly until Jan 11, then yearly anchored on the change.
    sub = live(interval=Interval.yearly(), cycle_anchor=CHANGE, boundaries=(Period(JAN_1, CHANGE),))
    assert sub.period_at(datetime(2026, 1, 10, 23, 59, tzinfo=UTC)) == Period(JAN_1, CHANGE)
    assert sub.period_at(CHANGE) == Period(CHANGE, datetime(2027, 1, 11, tzinfo=UTC))


def test_without_changes_periods_follow_the_cycle() -> None:
    assert live().period_at(datetime(2026, 1, 20, tzinfo=UTC)) == Period(JAN_1, FEB_1)
