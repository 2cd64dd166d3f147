"""Judging single usage events: periods, trials, anchors, ends, closed periods, quantities."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billing_grpc.domain.meter import Aggregation, Meter
from billing_grpc.domain.periods import Interval, IntervalUnit
from billing_grpc.domain.usage import LiveSubscription, Rejection, RejectReason, UsageInput, judge, stamp

T0 = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)
MONTHLY = Interval(IntervalUnit.MONTH, 1)
CALLS = Meter("calls", "Calls", Aggregation.SUM, "")


def subscription(**overrides: object) -> LiveSubscription:
    fields: dict[str, object] = {
        "subscription_id": "sub_1",
        "meter_codes": frozenset({"calls", "users", "seats"}),
        "started_at": T0,
        "trial_end": None,
        "cycle_anchor": T0,
        "interval": MONTHLY,
        "open_from": T0,
        "ends_at": None,
    }
    fields.update(overrides)
    return LiveSubscription(**fields)  # type: ignore[arg-type]


def usage(at: datetime, quantity: str = "1", meter: str = "calls", **properties: str) -> UsageInput:
    return UsageInput("org_1", meter, quantity, at, "key-1", properties)


def test_usage_lands_in_the_anchored_calendar_period_it_happened_in() -> None:
    record = judge(usage(datetime(2026, 3, 30, tzinfo=UTC)), CALLS, [subscription()], datetime(2026, 4, 1, tzinfo=UTC))
    assert not isinstance(record, Rejection)
    assert (record.period_start, record.period_end) == (
        stamp(datetime(2026, 2, 28, 10, 0, tzinfo=UTC)),
        stamp(datetime(2026, 3, 31, 10, 0, tzinfo=UTC)),
    )
    assert record.subscription_id == "sub_1" and record.quantity == "1"


def test_trial_usage_belongs_to_the_trial_and_a_stub_period_runs_to_the_billing_anchor() -> None:
    trial_end = T0 + timedelta(days=14)
    anchor = datetime(2026, 3, 1, tzinfo=UTC)
    live = subscription(trial_end=trial_end, cycle_anchor=anchor)
    now = datetime(2026, 3, 10, tzinfo=UTC)
    in_trial = judge(usage(T0 + timedelta(days=1)), CALLS, [live], now)
    in_stub = judge(usage(trial_end + timedelta(days=1)), CALLS, [live], now)
    after = judge(usage(anchor + timedelta(days=1)), CALLS, [live], now)
    assert not isinstance(in_trial, Rejection) and in_trial.period_end == stamp(trial_end)
    assert not isinstance(in_stub, Rejection)
    assert (in_stub.period_start, in_stub.period_end) == (stamp(trial_end), stamp(anchor))
    assert not isinstance(after, Rejection) and after.period_start == stamp(anchor)


@pytest.mark.parametrize(
    ("event", "live", "meter", "reason"),
    [
        (usage(T0 - timedelta(seconds=1)), subscription(), CALLS, RejectReason.NO_ACTIVE_SUBSCRIPTION),
        (
            usage(T0 + timedelta(days=3)),
            subscription(ends_at=T0 + timedelta(days=2)),
            CALLS,
            RejectReason.NO_ACTIVE_SUBSCRIPTION,
        ),
        (
            usage(T0 + timedelta(days=3)),
            subscription(open_from=T0 + timedelta(days=4)),
            CALLS,
            RejectReason.PERIOD_CLOSED,
        ),
        (
            usage(T0 + timedelta(days=3)),
            subscription(meter_codes=frozenset()),
            CALLS,
            RejectReason.NO_ACTIVE_SUBSCRIPTION,
        ),
        (usage(T0 + timedelta(days=3)), subscription(), None, RejectReason.UNKNOWN_METER),
        (usage(T0 + timedelta(days=30)), subscription(), CALLS, RejectReason.TIMESTAMP_IN_FUTURE),
        (
            usage(T0, "-1", "seats"),
            subscription(),
            Meter("seats", "S", Aggregation.MAX, ""),
            RejectReason.NEGATIVE_QUANTITY,
        ),
        (
            usage(T0, "1", "users"),
            subscription(),
            Meter("users", "U", Aggregation.UNIQUE_COUNT, "user_id"),
            RejectReason.INVALID_PROPERTIES,
        ),
        (usage(T0, "0.1234567890123"), subscription(), CALLS, RejectReason.INVALID_QUANTITY),
    ],
)
def test_rejections(event: UsageInput, live: LiveSubscription, meter: Meter | None, reason: RejectReason) -> None:
    verdict = judge(event, meter, [live], T0 + timedelta(days=10))
    assert isinstance(verdict, Rejection) and verdict.reason is reason


def test_unique_count_records_carry_the_value_and_quantities_are_canonical() -> None:
    users = Meter("users", "U", Aggregation.UNIQUE_COUNT, "user_id")
    record = judge(usage(T0, "1.50", "users", user_id="ada"), users, [subscription()], T0)
    assert not isinstance(record, Rejection)
    assert (record.unique_value, record.quantity) == ("ada", "1.5")
