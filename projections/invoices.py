"""The invoices read model, and the calculation record behind each finalized invoice.

An invoice document follows the aggregate's `evolve` (domain/invoice.py) field by field, so
`status` and `next_attempt_at` answer the scheduler's questions (which drafts to finalize,
which payments to send) exactly as the invoice's stream would. The figures
(`total_minor`, `credit_applied_minor`, `amount_due_minor`, `amount_paid_minor`,
`amount_remaining_minor`) come from the events alone, by the aggregate's own rules
(`provisional_amount_due`, `amount_remaining`), so a rebuild yields the same documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from billing_grpc.domain.dunning import UNRESOLVED_RECHECK
from billing_grpc.domain.events import decode_event
from billing_grpc.domain.invoice import (
    BillingCalculated,
    InvoiceFinalized,
    InvoiceIssued,
    InvoiceMarkedUncollectible,
    InvoicePaid,
    InvoiceStatus,
    InvoiceVoided,
    Line,
    PaymentFailed,
    PaymentStarted,
    PaymentSucceeded,
    amount_remaining,
    provisional_amount_due,
)
from billing_grpc.eventstore import RecordedEvent
from projections.model import Document, Index, View

INVOICES = "invoices"
BILLING_RECORDS = "billing_records"

_Change = (
    InvoiceFinalized
    | PaymentStarted
    | PaymentSucceeded
    | PaymentFailed
    | InvoicePaid
    | InvoiceMarkedUncollectible
    | InvoiceVoided
)


class InvoicesProjection:
    """One document per invoice, plus its billing record once calculated."""

    name = "invoices"
    handles = frozenset(
        {
            InvoiceIssued.TYPE,
            BillingCalculated.TYPE,
            InvoiceFinalized.TYPE,
            PaymentStarted.TYPE,
            PaymentSucceeded.TYPE,
            PaymentFailed.TYPE,
            InvoicePaid.TYPE,
            InvoiceMarkedUncollectible.TYPE,
            InvoiceVoided.TYPE,
        }
    )
    collections: Mapping[str, Sequence[Index]] = {
        INVOICES: [
            # An organization's invoices, newest or oldest first.
            Index((("organization_id", 1), ("issued_at", 1))),
            # The scheduler: drafts whose grace period is over.
            Index((("status", 1), ("finalize_at", 1))),
            # The scheduler: open invoices whose (next) payment attempt is due.
            Index((("status", 1), ("next_attempt_at", 1))),
            # A subscription's invoice for a period.
            Index((("subscription_id", 1), ("usage_period_start", 1))),
            # An organization's invoices in one status (open ones, for instance).
            Index((("organization_id", 1), ("status", 1))),
        ],
        BILLING_RECORDS: [],
    }

    async def prefetch(self, events: Sequence[RecordedEvent], view: View) -> None:
        """Load the invoices that the batch's changes update."""
        created = {InvoiceIssued.TYPE, BillingCalculated.TYPE}
        await view.prefetch(INVOICES, (e.payload["invoice_id"] for e in events if e.type not in created))

    async def apply(self, event: RecordedEvent, view: View) -> None:
        """Create or update the invoice's document (or store its billing record)."""
        fact = decode_event(event.type, event.payload)
        if isinstance(fact, InvoiceIssued):
            view.put(INVOICES, fact.invoice_id, _issued(fact, event.position))
            return
        if isinstance(fact, BillingCalculated):
            record = fact.model_dump()
            record["lines"] = stored_lines(fact.lines)
            record["position"] = event.position
            view.put(BILLING_RECORDS, fact.invoice_id, record)
            return
        assert isinstance(fact, _Change)
        current = await view.get(INVOICES, fact.invoice_id)
        if current is None:
            return
        _evolve(current, fact)
        current["position"] = event.position
        view.put(INVOICES, fact.invoice_id, current)


def _issued(fact: InvoiceIssued, position: int) -> Document:
    due = provisional_amount_due(fact.total_minor)
    return {
        "organization_id": fact.organization_id,
        "subscription_id": fact.subscription_id,
        "plan_id": fact.plan_id,
        "number": "",
        "sequence": 0,
        "status": InvoiceStatus.DRAFT.value,
        "currency": fact.currency,
        "reason": fact.reason.value,
        "lines": stored_lines(fact.lines),
        "total_minor": fact.total_minor,
        "amount_due_minor": due,
        "amount_paid_minor": 0,
        "amount_remaining_minor": amount_remaining(InvoiceStatus.DRAFT, due, 0),
        "credit_applied_minor": 0,
        "usage_period_start": fact.usage_period_start,
        "usage_period_end": fact.usage_period_end,
        "issued_at": fact.issued_at,
        "finalize_at": fact.finalize_at,
        "finalized_at": None,
        "paid_at": None,
        "voided_at": None,
        "marked_uncollectible_at": None,
        "next_attempt_at": None,
        "attempts": 0,
        "failures": 0,
        "last_failure_code": "",
        "position": position,
    }


def _evolve(current: Document, fact: _Change) -> None:
    """The aggregate's `evolve`, on the document (`next_attempt_at` included, to the letter)."""
    match fact:
        case InvoiceFinalized():
            current["status"] = InvoiceStatus.OPEN.value
            current["number"] = fact.number
            current["sequence"] = fact.sequence
            current["lines"] = stored_lines(fact.lines)
            current["total_minor"] = fact.total_minor
            current["amount_due_minor"] = fact.amount_due_minor
            current["credit_applied_minor"] = fact.credit_applied_minor
            current["finalized_at"] = fact.finalized_at
            current["next_attempt_at"] = fact.finalized_at if fact.amount_due_minor > 0 else None
        case PaymentStarted():
            current["attempts"] = fact.attempt
            current["next_attempt_at"] = fact.started_at + UNRESOLVED_RECHECK
        case PaymentSucceeded():
            current["next_attempt_at"] = None
        case PaymentFailed():
            current["failures"] += 1
            current["last_failure_code"] = fact.failure_code
            current["next_attempt_at"] = fact.next_attempt_at
        case InvoicePaid():
            current["status"] = InvoiceStatus.PAID.value
            current["amount_paid_minor"] = fact.amount_paid_minor
            current["paid_at"] = fact.paid_at
            current["next_attempt_at"] = None
        case InvoiceMarkedUncollectible():
            current["status"] = InvoiceStatus.UNCOLLECTIBLE.value
            current["marked_uncollectible_at"] = fact.at
            current["next_attempt_at"] = None
        case InvoiceVoided():
            current["status"] = InvoiceStatus.VOID.value
            current["voided_at"] = fact.at
            current["next_attempt_at"] = None
    current["amount_remaining_minor"] = amount_remaining(
        current["status"], current["amount_due_minor"], current["amount_paid_minor"]
    )


def stored_lines(lines: Iterable[Line]) -> list[Line]:
    """Invoice lines as `invoicing.line_to_dict` stores them: the JSON payload's period times back as datetimes."""
    return [{**line, **{name: _moment(line[name]) for name in _LINE_TIMES if name in line}} for line in lines]


_LINE_TIMES = ("period_start", "period_end")


def _moment(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value
