"""The billing cycle's domain: closing and sealing periods, the invoice's life, payments and dunning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_grpc.domain.dunning import DunningPolicy, FinalAction
from billing_grpc.domain.errors import FailedPrecondition
from billing_grpc.domain.events import DomainEvent, decode_event
from billing_grpc.domain.invoice import (
    BillingCalculated,
    Invoice,
    InvoiceIssued,
    InvoiceMarkedUncollectible,
    InvoicePaid,
    InvoiceReason,
    InvoiceStatus,
    PaymentFailed,
    PaymentStarted,
    PaymentSucceeded,
)
from billing_grpc.domain.invoice_numbering import invoice_number
from billing_grpc.domain.periods import Interval, Period
from billing_grpc.domain.subscription import (
    Subscription,
    SubscriptionCanceled,
    SubscriptionPeriodClosed,
    SubscriptionStatus,
    evolve,
)
from tests.unit.test_subscription import NOW, make_plan, start, subscription, utc

MONTHLY = Interval.monthly()


def replayed(state: Subscription, *events: DomainEvent) -> Subscription:
    """The subscription after more events, each through its stored (JSON) form."""
    for event in events:
        evolved = evolve(state, decode_event(event.TYPE, event.payload()))
        assert evolved is not None
        state = evolved
    return state


# -- closing periods ---------------------------------------------------------------------


def test_a_period_is_due_for_closing_only_once_it_has_ended() -> None:
    sub = subscription(start(at=utc(2026, 1, 31), now=utc(2026, 1, 31)))

    assert sub.period_to_close(MONTHLY, utc(2026, 2, 27, 23, 59)) is None
    closed, following = sub.period_to_close(MONTHLY, utc(2026, 2, 28)) or (None, None)

    assert closed == Period(utc(2026, 1, 31), utc(2026, 2, 28))
    assert following == Period(utc(2026, 2, 28), utc(2026, 3, 31))  # anchored on the 31st, not drifting


def test_closing_rolls_the_subscription_into_the_next_calendar_period_year_round() -> None:
    sub = subscription(start(at=utc(2026, 1, 31), now=utc(2026, 1, 31)))
    ends = []
    for month in range(12):
        now = sub.current_period.end
        sub = replayed(sub, *sub.close_period(f"in-{month}", MONTHLY, now))
        ends.append(sub.current_period.start.date().isoformat())

    assert ends[:4] == ["2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]
    assert ends[-1] == "2027-01-31"
    assert sub.period_to_close(MONTHLY, sub.current_period.start) is None


def test_closing_a_trial_starts_the_paid_cycle() -> None:
    sub = subscription(start(plan=make_plan(trial_days=14)))
    assert sub.status is SubscriptionStatus.TRIALING

    sub = replayed(sub, *sub.close_period("in-1", MONTHLY, NOW + timedelta(days=14)))

    assert sub.status is SubscriptionStatus.ACTIVE
    assert sub.current_period == Period(NOW + timedelta(days=14), utc(2026, 4, 15, 12))


def test_a_cancellation_at_period_end_is_carried_out_by_the_close_and_nothing_follows() -> None:
    sub = subscription(start())
    sub = replayed(sub, *sub.cancel(NOW + timedelta(days=3), at_period_end=True))
    end = sub.current_period.end

    events = sub.close_period("in-last", MONTHLY, end)
    sub = replayed(sub, *events)

    closed = events[0]
    assert isinstance(closed, SubscriptionPeriodClosed) and closed.next_period_start is None
    assert isinstance(events[1], SubscriptionCanceled) and events[1].canceled_at == end
    assert sub.status is SubscriptionStatus.CANCELED
    assert sub.period_to_close(MONTHLY, end + timedelta(days=400)) is None


def test_an_immediate_cancellation_closes_the_period_up_to_the_cancellation() -> None:
    sub = subscription(start())
    canceled_at = NOW + timedelta(days=10)
    sub = replayed(sub, *sub.cancel(canceled_at, at_period_end=False))

    closed, following = sub.period_to_close(MONTHLY, canceled_at) or (None, None)

    assert closed == Period(NOW, canceled_at) and following is None
    sub = replayed(sub, *sub.close_period("in-last", MONTHLY, canceled_at))
    assert sub.period_to_close(MONTHLY, canceled_at + timedelta(days=90)) is None


def test_closing_twice_is_refused_by_the_state_not_only_by_the_stream_version() -> None:
    sub = subscription(start())
    end = sub.current_period.end
    sub = replayed(sub, *sub.close_period("in-1", MONTHLY, end))

    with pytest.raises(FailedPrecondition) as refused:
        sub.close_period("in-2", MONTHLY, end)
    assert refused.value.reason == "period_not_ended"


def test_sealing_is_idempotent_and_only_moves_forward() -> None:
    sub = subscription(start())
    through = sub.current_period.end

    sub = replayed(sub, *sub.seal_usage(through, through))

    assert sub.sealed_through == through
    assert sub.seal_usage(through, through) == []
    assert sub.seal_usage(through - timedelta(days=1), through) == []


def test_payments_move_the_subscription_between_active_and_past_due_and_dunning_ends_it() -> None:
    sub = subscription(start())
    later = NOW + timedelta(days=1)

    sub = replayed(sub, *sub.payment_failed("in-1", later))
    assert sub.status is SubscriptionStatus.PAST_DUE
    assert sub.payment_failed("in-1", later) == []  # already past due
    sub = replayed(sub, *sub.invoice_paid("in-1", later))
    assert sub.status is SubscriptionStatus.ACTIVE

    unpaid = replayed(sub, *sub.dunning_exhausted("in-2", cancel=False, now=later))
    assert unpaid.status is SubscriptionStatus.UNPAID and not unpaid.is_live
    canceled = replayed(sub, *sub.dunning_exhausted("in-2", cancel=True, now=later))
    assert canceled.status is SubscriptionStatus.CANCELED


# -- invoices ------------------------------------------------------------------------------

ISSUED_AT = utc(2026, 4, 1)


def issued(total: int = 4900) -> InvoiceIssued:
    line = {"kind": "base_fee", "amount_minor": total}
    return InvoiceIssued(
        invoice_id="in_1",
        organization_id="org_1",
        subscription_id="sub_1",
        plan_id="plan_1",
        currency="USD",
        reason=InvoiceReason.SUBSCRIPTION_CYCLE,
        usage_period_start=utc(2026, 3, 1),
        usage_period_end=ISSUED_AT,
        lines=[line],
        total_minor=total,
        issued_at=ISSUED_AT,
        finalize_at=ISSUED_AT + timedelta(hours=1),
    )


def calculation(total: int) -> BillingCalculated:
    return BillingCalculated(
        invoice_id="in_1",
        subscription_id="sub_1",
        plan_id="plan_1",
        currency="USD",
        usage_period_start=utc(2026, 3, 1),
        usage_period_end=ISSUED_AT,
        sealed_at_position=10,
        usage=[],
        lines=[{"kind": "base_fee", "amount_minor": total}],
        subtotal_minor=total,
        total_minor=total,
        calculated_at=ISSUED_AT,
    )


def invoice(*events: DomainEvent) -> Invoice:
    state = Invoice.replay(decode_event(e.TYPE, e.payload()) for e in events)
    assert state is not None
    return state


def finalized(total: int = 4900) -> tuple[Invoice, list[DomainEvent]]:
    draft = invoice(issued(total))
    at = draft.finalize_at
    history: list[DomainEvent] = [issued(total), *draft.finalization("ABC-0001", 1, [], calculation(total), at)]
    return invoice(*history), history


def test_finalizing_numbers_the_invoice_and_makes_it_due_now() -> None:
    state, _ = finalized()

    assert state.status is InvoiceStatus.OPEN
    assert state.number == "ABC-0001"
    assert state.amount_due_minor == 4900
    assert state.payment_due(state.finalize_at)


def test_an_invoice_with_nothing_due_is_paid_at_finalization_without_a_charge() -> None:
    state, history = finalized(total=0)

    assert state.status is InvoiceStatus.PAID
    assert not any(isinstance(e, PaymentStarted) for e in history)
    assert not state.payment_due(state.finalize_at + timedelta(days=30))


def test_only_a_draft_can_be_finalized() -> None:
    state, _ = finalized()
    with pytest.raises(FailedPrecondition):
        state.finalization("ABC-0002", 2, [], calculation(4900), ISSUED_AT)


def charge(
    state: Invoice, history: list[DomainEvent], at: datetime
) -> tuple[Invoice, list[DomainEvent], PaymentStarted]:
    started = state.start_payment(f"pay-{state.attempts + 1}", "pm_ok", at)
    assert isinstance(started, PaymentStarted)
    history = [*history, started]
    return invoice(*history), history, started


def test_an_unresolved_attempt_is_resumed_with_the_same_idempotency_key() -> None:
    state, history = finalized()
    state, history, started = charge(state, history, state.finalize_at)

    resumed = state.start_payment("pay-new", "pm_ok", state.finalize_at + timedelta(minutes=5))

    assert resumed.idempotency_key == started.idempotency_key
    assert not isinstance(resumed, PaymentStarted)  # nothing new to record
    assert state.payment_due(state.finalize_at + timedelta(minutes=1))  # rechecked a minute later


def test_a_success_pays_the_invoice_and_a_late_second_answer_changes_nothing() -> None:
    state, history = finalized()
    state, history, _ = charge(state, history, state.finalize_at)
    policy = DunningPolicy()

    outcome = state.payment_outcome("ch_1", True, "", "", policy, state.finalize_at)
    paid = invoice(*history, *outcome)

    assert [type(e) for e in outcome] == [PaymentSucceeded, InvoicePaid]
    assert paid.status is InvoiceStatus.PAID
    # What was asked for stays; what was paid and what remains say it is settled.
    assert (paid.amount_due_minor, paid.amount_paid_minor, paid.amount_remaining_minor) == (4900, 4900, 0)
    assert paid.payment_outcome("ch_1", True, "", "", policy, state.finalize_at) == []


def test_dunning_retries_on_the_schedule_then_marks_the_invoice_uncollectible() -> None:
    policy = DunningPolicy(retry_days=(1, 3, 5, 7), final_action=FinalAction.CANCEL)
    state, history = finalized()
    first_failure = state.finalize_at
    retries = []
    now = first_failure
    for _ in range(5):
        state, history, _ = charge(state, history, now)
        outcome = state.payment_outcome("ch", False, "card_declined", "declined", policy, now)
        history = [*history, *outcome]
        state = invoice(*history)
        failed = outcome[0]
        assert isinstance(failed, PaymentFailed)
        retries.append(failed.next_attempt_at)
        if failed.next_attempt_at is not None:
            now = failed.next_attempt_at

    assert retries == [first_failure + timedelta(days=d) for d in (1, 3, 5, 7)] + [None]
    assert isinstance(history[-1], InvoiceMarkedUncollectible)
    assert state.status is InvoiceStatus.UNCOLLECTIBLE
    assert state.attempts == 5 and state.failures == 5
    assert len({e.idempotency_key for e in history if isinstance(e, PaymentStarted)}) == 5  # one key per attempt


def test_void_is_refused_for_paid_invoices_and_while_a_charge_is_in_flight() -> None:
    state, history = finalized()
    state, history, _ = charge(state, history, state.finalize_at)

    with pytest.raises(FailedPrecondition) as in_flight:
        state.void(ISSUED_AT)
    assert in_flight.value.reason == "payment_in_flight"

    paid = invoice(*history, *state.payment_outcome("ch", True, "", "", DunningPolicy(), ISSUED_AT))
    with pytest.raises(FailedPrecondition) as refused:
        paid.void(ISSUED_AT)
    assert refused.value.reason == "invoice_not_voidable"


@given(st.integers(min_value=1, max_value=10), st.integers(min_value=0, max_value=12))
def test_retries_are_strictly_later_than_the_first_failure_and_run_out(days: int, failures: int) -> None:
    policy = DunningPolicy(retry_days=tuple(range(1, days + 1)))
    first = datetime(2026, 1, 1, tzinfo=UTC)

    retry = policy.next_retry(first, failures)

    if 1 <= failures <= days:
        assert retry == first + timedelta(days=failures)
    else:
        assert retry is None


def test_invoice_numbers_carry_the_organization_prefix_and_a_padded_sequence() -> None:
    assert invoice_number("org_3f9a1c2e77aa", 7) == "3F9A1C2E-0007"
