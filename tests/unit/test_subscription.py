"""Subscriptions: first period and anchor with and without trial, refusals, cancellation, replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_grpc.domain.errors import FailedPrecondition, InvalidArgument
from billing_grpc.domain.events import DomainEvent, decode_event
from billing_grpc.domain.periods import Period
from billing_grpc.domain.plan import Plan, create_plan
from billing_grpc.domain.subscription import (
    LIVE_STATUSES,
    Subscription,
    SubscriptionCanceled,
    SubscriptionCancellationScheduled,
    SubscriptionStarted,
    SubscriptionStatus,
    evolve,
    stream_of,
)
from billing_grpc.domain.subscription_start import start_subscription


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


NOW = utc(2026, 3, 1, 12)


def make_plan(trial_days: int = 0, interval_unit: str = "month", currency: str = "USD", archived: bool = False) -> Plan:
    created = create_plan("plan-1", "pro", "Pro", currency, interval_unit, 1, 4900, trial_days, (), NOW)
    plan = Plan.replay([created])
    assert plan is not None
    if archived:
        plan = Plan.replay([created, *plan.archive(NOW)])
        assert plan is not None
    return plan


def start(
    plan: Plan | None = None,
    at: datetime = NOW,
    billing_anchor: datetime | None = None,
    now: datetime = NOW,
    currency: str = "USD",
) -> SubscriptionStarted:
    return start_subscription("sub-1", "org-1", plan or make_plan(), currency, at, billing_anchor, now)


def subscription(*events: DomainEvent) -> Subscription:
    state = Subscription.replay(events)
    assert state is not None
    return state


def test_without_trial_the_subscription_is_active_for_a_full_first_period() -> None:
    event = start(at=NOW - timedelta(hours=1))

    assert event == SubscriptionStarted(
        subscription_id="sub-1",
        organization_id="org-1",
        plan_id="plan-1",
        status=SubscriptionStatus.ACTIVE,
        started_at=utc(2026, 3, 1, 11),
        cycle_anchor=utc(2026, 3, 1, 11),
        period_start=utc(2026, 3, 1, 11),
        period_end=utc(2026, 4, 1, 11),
        trial_end=None,
    )
    state = subscription(event)
    assert state.current_period == Period(utc(2026, 3, 1, 11), utc(2026, 4, 1, 11))
    assert state.is_live and state.cancel_at is None and state.canceled_at is None
    assert stream_of("sub-1") == "subscription-sub-1"


def test_a_trial_is_the_first_period_and_the_cycle_is_anchored_on_its_end() -> None:
    event = start(make_plan(trial_days=14))

    assert event.status is SubscriptionStatus.TRIALING
    assert event.trial_end == utc(2026, 3, 15, 12)
    assert (event.period_start, event.period_end) == (NOW, utc(2026, 3, 15, 12))
    assert event.cycle_anchor == utc(2026, 3, 15, 12)
    assert subscription(event).is_live


def test_a_jan_31_start_ends_its_first_monthly_period_on_feb_28() -> None:
    event = start(at=utc(2026, 1, 31, 9), now=utc(2026, 1, 31, 10))

    assert (event.period_start, event.period_end) == (utc(2026, 1, 31, 9), utc(2026, 2, 28, 9))
    assert event.cycle_anchor == utc(2026, 1, 31, 9)


def test_a_billing_anchor_shortens_the_first_period_and_anchors_the_cycle() -> None:
    event = start(at=utc(2026, 1, 15), billing_anchor=utc(2026, 2, 1), now=utc(2026, 1, 15))

    assert (event.period_start, event.period_end) == (utc(2026, 1, 15), utc(2026, 2, 1))
    assert event.cycle_anchor == utc(2026, 2, 1)
    assert event.status is SubscriptionStatus.ACTIVE


def test_a_billing_anchor_of_jan_31_with_a_trial_anchors_paid_periods_on_the_month_end() -> None:
    event = start(make_plan(trial_days=14), at=utc(2026, 1, 10), billing_anchor=utc(2026, 1, 31), now=utc(2026, 1, 10))

    assert (event.period_start, event.period_end) == (utc(2026, 1, 10), utc(2026, 1, 24))
    assert event.cycle_anchor == utc(2026, 1, 31)


@pytest.mark.parametrize(
    ("trial_days", "anchor"),
    [
        (0, NOW - timedelta(seconds=1)),
        (0, utc(2026, 4, 1, 12, 1)),
        (14, utc(2026, 3, 10)),
        (14, utc(2026, 4, 15, 12, 1)),
    ],
)
def test_a_billing_anchor_outside_the_first_paid_period_is_refused(trial_days: int, anchor: datetime) -> None:
    with pytest.raises(InvalidArgument) as error:
        start(make_plan(trial_days=trial_days), billing_anchor=anchor)

    assert [v.field for v in error.value.violations] == ["billing_anchor"]


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (-timedelta(days=366), True),
        (-timedelta(days=366, microseconds=1), False),
        (timedelta(minutes=5), True),
        (timedelta(minutes=5, microseconds=1), False),
        (timedelta(days=30), False),
    ],
)
def test_the_start_may_be_backdated_a_year_and_ahead_only_by_clock_skew(offset: timedelta, accepted: bool) -> None:
    if accepted:
        assert start(at=NOW + offset).started_at == NOW + offset
        return
    with pytest.raises(InvalidArgument) as error:
        start(at=NOW + offset)
    assert [v.field for v in error.value.violations] == ["start_time"]


def test_a_start_in_another_time_zone_is_stored_in_utc() -> None:
    event = start(at=NOW.astimezone(ZoneInfo("Europe/Paris")))

    assert event.started_at.utcoffset() == timedelta(0)
    assert event.started_at == NOW


def test_a_plan_in_another_currency_is_refused() -> None:
    with pytest.raises(FailedPrecondition) as error:
        start(make_plan(currency="EUR"))

    assert error.value.reason == "currency_mismatch"


def test_an_archived_plan_takes_no_new_subscriptions() -> None:
    with pytest.raises(FailedPrecondition) as error:
        start(make_plan(archived=True))

    assert error.value.reason == "plan_archived"


def test_bad_input_is_reported_before_the_state_is_judged() -> None:
    with pytest.raises(InvalidArgument):
        start(make_plan(archived=True, currency="EUR"), at=NOW + timedelta(days=1))


def test_canceling_at_period_end_schedules_it_once() -> None:
    started = start()
    later = NOW + timedelta(days=3)

    events = subscription(started).cancel(later, at_period_end=True)

    assert events == [
        SubscriptionCancellationScheduled(subscription_id="sub-1", cancel_at=utc(2026, 4, 1, 12), requested_at=later)
    ]
    state = subscription(started, *events)
    assert state.cancel_at == utc(2026, 4, 1, 12)
    assert state.status is SubscriptionStatus.ACTIVE and state.is_live
    assert state.cancel(later, at_period_end=True) == []


def test_canceling_a_trial_at_period_end_ends_it_with_the_trial() -> None:
    started = start(make_plan(trial_days=7))

    [scheduled] = subscription(started).cancel(NOW, at_period_end=True)

    assert isinstance(scheduled, SubscriptionCancellationScheduled)
    assert scheduled.cancel_at == started.trial_end


def test_canceling_immediately_ends_the_subscription_even_when_scheduled() -> None:
    started = start()
    scheduled = subscription(started).cancel(NOW, at_period_end=True)
    later = NOW + timedelta(days=1)

    for history in ([started], [started, *scheduled]):
        events = subscription(*history).cancel(later, at_period_end=False)
        assert events == [SubscriptionCanceled(subscription_id="sub-1", canceled_at=later, at_period_end=False)]
        state = subscription(*history, *events)
        assert state.status is SubscriptionStatus.CANCELED and state.canceled_at == later
        assert not state.is_live


@pytest.mark.parametrize("at_period_end", [True, False])
def test_a_canceled_subscription_cannot_be_canceled_again(at_period_end: bool) -> None:
    started = start()
    canceled = subscription(started, *subscription(started).cancel(NOW, at_period_end=False))

    with pytest.raises(FailedPrecondition) as error:
        canceled.cancel(NOW, at_period_end=at_period_end)

    assert error.value.reason == "subscription_canceled"


def test_live_statuses() -> None:
    live = {SubscriptionStatus.TRIALING, SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE}
    assert live == LIVE_STATUSES


def test_events_before_the_start_are_ignored() -> None:
    assert (
        Subscription.replay([SubscriptionCanceled(subscription_id="s", canceled_at=NOW, at_period_end=False)]) is None
    )


@pytest.mark.parametrize(
    "event",
    [
        start(),
        start(make_plan(trial_days=30)),
        SubscriptionCancellationScheduled(subscription_id="sub-1", cancel_at=NOW, requested_at=NOW),
        SubscriptionCanceled(subscription_id="sub-1", canceled_at=NOW, at_period_end=True),
    ],
    ids=lambda event: event.TYPE,
)
def test_every_subscription_event_round_trips_through_its_payload(event: DomainEvent) -> None:
    assert decode_event(event.TYPE, event.payload()) == event


commands = st.lists(st.tuples(st.integers(0, 40 * 24 * 3600), st.booleans()), max_size=6)


@given(
    st.integers(0, 60),
    st.sampled_from(["month", "year"]),
    st.integers(0, 365 * 24 * 3600),
    commands,
)
def test_replay_equals_step_by_step_evolution(
    trial_days: int, unit: str, backdated_seconds: int, cancels: list[tuple[int, bool]]
) -> None:
    started = start(make_plan(trial_days, unit), at=NOW - timedelta(seconds=backdated_seconds))
    history: list[DomainEvent] = [started]
    state = evolve(None, started)
    moment = NOW
    for seconds, at_period_end in cancels:
        assert state is not None
        moment += timedelta(seconds=seconds)
        try:
            events = state.cancel(moment, at_period_end)
        except FailedPrecondition:
            assert state.status is SubscriptionStatus.CANCELED
            continue
        for event in events:
            state = evolve(state, event)
        history.extend(events)

    stored = [decode_event(event.TYPE, event.payload()) for event in history]
    assert Subscription.replay(history) == state == Subscription.replay(stored)
    assert state is not None
    assert state.current_period == Period(started.period_start, started.period_end)
    assert state.cancel_at in (None, started.period_end)
    canceled = any(isinstance(event, SubscriptionCanceled) for event in history)
    assert (state.status is SubscriptionStatus.CANCELED) is canceled is (not state.is_live)
