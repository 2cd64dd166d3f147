"""An invoice's five figures through its whole life: total, credit applied, amount due, paid, remaining.

Amount due is fixed at finalization (total - credit applied) and never changes again; amount paid
is what a charge captured; amount remaining is what is still owed (0 once paid or void). Every
history here goes through the events' stored (JSON) form, as a replay from the log would.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_grpc.domain.dunning import DunningPolicy, FinalAction
from billing_grpc.domain.events import DomainEvent, decode_event
from billing_grpc.domain.invoice import (
    Invoice,
    InvoiceFinalized,
    InvoiceMarkedUncollectible,
    InvoicePaid,
    InvoiceStatus,
    InvoiceVoided,
    PaymentStarted,
    amount_remaining,
)
from tests.unit.test_billing_domain import calculation, invoice, issued

Figures = tuple[int, int, int, int, int]
"""(total, credit applied, amount due, amount paid, amount remaining)."""

POLICY = DunningPolicy(retry_days=(1, 3), final_action=FinalAction.CANCEL)


def figures(state: Invoice) -> Figures:
    return (
        state.total_minor,
        state.credit_applied_minor,
        state.amount_due_minor,
        state.amount_paid_minor,
        state.amount_remaining_minor,
    )


def finalize(total: int, credit: int = 0) -> tuple[Invoice, list[DomainEvent]]:
    draft = invoice(issued(total))
    events = draft.finalization("ABC-0001", 1, [], calculation(total), draft.finalize_at, credit_applied=credit)
    history = [issued(total), *events]
    return invoice(*history), history


def attempt(
    state: Invoice, history: list[DomainEvent], succeeded: bool, now: datetime
) -> tuple[Invoice, list[DomainEvent]]:
    started = state.start_payment(f"pay-{state.attempts + 1}", "pm", now)
    assert isinstance(started, PaymentStarted)
    # The charge is what is still owed: the amount due, never the total, never 0 after credit.
    assert started.amount_minor == state.amount_remaining_minor == state.amount_due_minor
    history = [*history, started]
    failure = ("", "") if succeeded else ("card_declined", "declined")
    outcome = invoice(*history).payment_outcome(f"ch-{state.attempts + 1}", succeeded, *failure, POLICY, now)
    history = [*history, *outcome]
    return invoice(*history), history


def test_a_draft_shows_its_provisional_total_as_due_with_no_credit_yet() -> None:
    draft = invoice(issued(4900))
    assert draft.status is InvoiceStatus.DRAFT
    assert figures(draft) == (4900, 0, 4900, 0, 4900)


def test_a_draft_whose_prorations_net_to_a_credit_is_due_nothing() -> None:
    assert figures(invoice(issued(-2100))) == (-2100, 0, 0, 0, 0)


def test_an_open_invoice_owes_its_amount_due() -> None:
    state, _ = finalize(4900)
    assert state.status is InvoiceStatus.OPEN
    assert figures(state) == (4900, 0, 4900, 0, 4900)


def test_paying_keeps_the_amount_due_and_leaves_nothing_remaining() -> None:
    state, history = finalize(4900)
    paid, history = attempt(state, history, True, state.finalize_at)
    assert paid.status is InvoiceStatus.PAID
    assert figures(paid) == (4900, 0, 4900, 4900, 0)
    assert [e.amount_paid_minor for e in history if isinstance(e, InvoicePaid)] == [4900]


def test_a_partly_credited_invoice_is_due_and_charged_the_rest() -> None:
    # The worked example: 34.20, 10.00 of credit: 24.20 due, charged, paid; nothing remains.
    state, history = finalize(3420, credit=1000)
    assert figures(state) == (3420, 1000, 2420, 0, 2420)
    paid, _ = attempt(state, history, True, state.finalize_at)
    assert figures(paid) == (3420, 1000, 2420, 2420, 0)


def test_a_fully_credited_invoice_is_paid_at_finalization_with_nothing_paid() -> None:
    state, history = finalize(2900, credit=2900)
    assert state.status is InvoiceStatus.PAID
    assert figures(state) == (2900, 2900, 0, 0, 0)
    assert not any(isinstance(e, PaymentStarted) for e in history)


def test_a_negative_total_becomes_credit_and_is_due_nothing() -> None:
    state, _ = finalize(-2100, credit=-2100)
    assert (state.status, figures(state)) == (InvoiceStatus.PAID, (-2100, -2100, 0, 0, 0))


def test_paid_after_dunning_retries_the_figures_are_those_of_a_first_time_payment() -> None:
    state, history = finalize(3420, credit=1000)
    now = state.finalize_at
    state, history = attempt(state, history, False, now)
    assert (state.status, figures(state)) == (InvoiceStatus.OPEN, (3420, 1000, 2420, 0, 2420))
    state, history = attempt(state, history, False, now + timedelta(days=1))
    assert figures(state) == (3420, 1000, 2420, 0, 2420)
    state, history = attempt(state, history, True, now + timedelta(days=3))
    assert (state.status, state.attempts, state.failures) == (InvoiceStatus.PAID, 3, 2)
    assert figures(state) == (3420, 1000, 2420, 2420, 0)


def test_an_uncollectible_invoice_keeps_its_amount_due_and_still_owes_it() -> None:
    state, history = finalize(2900, credit=400)
    now = state.finalize_at
    for days in (0, 1, 3):
        state, history = attempt(state, history, False, now + timedelta(days=days))
    assert state.status is InvoiceStatus.UNCOLLECTIBLE
    assert figures(state) == (2900, 400, 2500, 0, 2500)
    [given_up] = [e for e in history if isinstance(e, InvoiceMarkedUncollectible)]
    assert given_up.amount_minor == 2500  # the event records what was written off, as before


@pytest.mark.parametrize("written_off", [False, True])
def test_a_void_invoice_keeps_its_amount_due_and_owes_nothing(written_off: bool) -> None:
    state, history = finalize(2900, credit=400)
    if written_off:
        for days in (0, 1, 3):
            state, history = attempt(state, history, False, state.finalize_at + timedelta(days=days))
        assert state.status is InvoiceStatus.UNCOLLECTIBLE
    voiding = state.void(state.finalize_at + timedelta(days=5))
    voided = invoice(*history, *voiding)
    assert voided.status is InvoiceStatus.VOID
    assert figures(voided) == (2900, 400, 2500, 0, 0)
    [event] = voiding
    assert isinstance(event, InvoiceVoided) and event.amount_minor == 2500  # what it owed when voided


def test_a_voided_draft_was_never_owed_anything() -> None:
    draft = invoice(issued(4900))
    [event] = draft.void(draft.finalize_at)
    assert isinstance(event, InvoiceVoided) and event.amount_minor == 0
    assert figures(invoice(issued(4900), event)) == (4900, 0, 4900, 0, 0)


def test_events_already_in_logs_replay_to_the_stable_figures() -> None:
    # Payloads as an older server stored them: the events themselves did not change.
    old = [
        issued(3420),
        decode_event(
            InvoiceFinalized.TYPE,
            {
                "invoice_id": "in_1",
                "number": "ABC-0002",
                "sequence": 2,
                "lines": [],
                "total_minor": 3420,
                "amount_due_minor": 2420,
                "finalized_at": "2026-04-01T01:00:00Z",
                "credit_applied_minor": 1000,
            },
        ),
        decode_event(
            InvoicePaid.TYPE, {"invoice_id": "in_1", "amount_paid_minor": 2420, "paid_at": "2026-04-01T01:00:00Z"}
        ),
    ]
    assert figures(invoice(*old)) == (3420, 1000, 2420, 2420, 0)


@given(
    status=st.sampled_from(list(InvoiceStatus)),
    due=st.integers(min_value=0, max_value=10**9),
    paid=st.integers(min_value=0, max_value=10**9),
)
def test_only_an_invoice_that_can_still_be_paid_or_was_written_off_has_anything_remaining(
    status: InvoiceStatus, due: int, paid: int
) -> None:
    remaining = amount_remaining(status, due, paid)
    if status in {InvoiceStatus.PAID, InvoiceStatus.VOID}:
        assert remaining == 0
    else:
        assert remaining == due - paid
    assert amount_remaining(status.value, due, paid) == remaining  # the read model stores the plain value
