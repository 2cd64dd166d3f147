"""Invoices: the financial record of a period, from draft to paid, uncollectible or void.

Lifecycle (Stripe's): `draft` while the grace period lets late usage in, `open` once finalized
with its number, then `paid`, `uncollectible` (dunning gave up) or `void`. Payment attempts live
in the invoice's stream, so two attempts can never run at once for one invoice: each is decided
against the stream's version. An attempt is recorded as started (with its idempotency key)
before the gateway is called, and an attempt left unresolved by a crash or a timeout is resumed
with the same key: the gateway answers a known key without charging again.

Its figures are Stripe's, each with one meaning for the invoice's whole life: `total`, the
`credit_applied` at finalization, `amount_due` (total - credit applied, fixed at finalization:
what the customer is asked to pay), `amount_paid` (what a charge captured) and
`amount_remaining` (still owed). See docs/billing-rules/invoice-amounts.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field

from billing_grpc.domain.dunning import UNRESOLVED_RECHECK, DunningPolicy
from billing_grpc.domain.errors import FailedPrecondition
from billing_grpc.domain.events import DomainEvent

Line = dict[str, Any]
"""An invoice line in its stored form (see `invoicing.line_to_dict`)."""


class InvoiceStatus(StrEnum):
    """Where an invoice is in its life."""

    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    UNCOLLECTIBLE = "uncollectible"
    VOID = "void"


class InvoiceReason(StrEnum):
    """Why an invoice was issued (Stripe's billing_reason)."""

    SUBSCRIPTION_CREATE = "subscription_create"
    SUBSCRIPTION_CYCLE = "subscription_cycle"
    SUBSCRIPTION_END = "subscription_end"
    SUBSCRIPTION_UPDATE = "subscription_update"  # a plan change invoiced at once (always_invoice)
    SUBSCRIPTION_PAUSE = "subscription_pause"  # the period a pause ended
    SUBSCRIPTION_RESUME = "subscription_resume"  # the first period after a resume, in advance


class InvoiceIssued(DomainEvent):
    """A draft invoice: provisional lines, final once the grace period ends (`finalize_at`)."""

    TYPE: ClassVar[str] = "invoice.issued"

    invoice_id: str
    organization_id: str
    subscription_id: str
    plan_id: str
    currency: str
    reason: InvoiceReason
    # The period whose usage it bills in arrears (None: base fee only, e.g. a subscription's start).
    usage_period_start: datetime | None
    usage_period_end: datetime | None
    lines: list[Line]
    total_minor: int
    issued_at: datetime
    finalize_at: datetime
    # The usage period's parts when the plan changed within it: {period_start, period_end, plan_id}
    # each, rated by its own plan. Empty: the whole period by `plan_id`.
    segments: list[dict[str, Any]] = Field(default_factory=list)


class BillingCalculated(DomainEvent):
    """The validated calculation behind a finalized invoice: every input and result, to recompute it.

    `usage` holds, per charged meter, the aggregation, the period quantity, the event count and
    the log positions read; `sealed_at_position` is the seal after which no usage of the period
    can exist, so the calculation read the whole period.
    """

    TYPE: ClassVar[str] = "billing.calculated"

    invoice_id: str
    subscription_id: str
    plan_id: str
    currency: str
    usage_period_start: datetime | None
    usage_period_end: datetime | None
    sealed_at_position: int
    usage: list[dict[str, Any]]
    lines: list[Line]
    subtotal_minor: int
    total_minor: int
    calculated_at: datetime


class InvoiceFinalized(DomainEvent):
    """The invoice is final: numbered (gapless per organization), its lines fixed, payment due."""

    TYPE: ClassVar[str] = "invoice.finalized"

    invoice_id: str
    number: str
    sequence: int
    lines: list[Line]
    total_minor: int
    # total - credit applied: what the customer is asked to pay, never changed afterwards.
    amount_due_minor: int
    finalized_at: datetime
    # Customer credit spent on it (negative: a negative total added to the credit); due = total - this.
    credit_applied_minor: int = 0


class PaymentStarted(DomainEvent):
    """A charge is about to be sent to the gateway with this idempotency key."""

    TYPE: ClassVar[str] = "payment.started"

    invoice_id: str
    payment_id: str
    attempt: int
    idempotency_key: str
    amount_minor: int
    currency: str
    payment_method: str
    started_at: datetime


class PaymentSucceeded(DomainEvent):
    """The gateway captured the charge."""

    TYPE: ClassVar[str] = "payment.succeeded"

    invoice_id: str
    payment_id: str
    charge_id: str
    amount_minor: int
    succeeded_at: datetime


class PaymentFailed(DomainEvent):
    """The gateway refused the charge; `next_attempt_at` is the dunning retry (None: no more)."""

    TYPE: ClassVar[str] = "payment.failed"

    invoice_id: str
    payment_id: str
    charge_id: str
    failure_code: str
    message: str
    failed_at: datetime
    next_attempt_at: datetime | None


class InvoicePaid(DomainEvent):
    """The invoice is settled (by a charge, or without one when nothing is due)."""

    TYPE: ClassVar[str] = "invoice.paid"

    invoice_id: str
    amount_paid_minor: int
    paid_at: datetime


class InvoiceMarkedUncollectible(DomainEvent):
    """Dunning gave up on the invoice."""

    TYPE: ClassVar[str] = "invoice.marked_uncollectible"

    invoice_id: str
    amount_minor: int
    at: datetime


class InvoiceVoided(DomainEvent):
    """The invoice was canceled by an operator; nothing of it is owed."""

    TYPE: ClassVar[str] = "invoice.voided"

    invoice_id: str
    amount_minor: int
    at: datetime


@dataclass(frozen=True)
class PendingPayment:
    """An attempt sent (or about to be sent) to the gateway whose outcome is not recorded yet."""

    payment_id: str
    attempt: int
    idempotency_key: str
    amount_minor: int
    payment_method: str


@dataclass(frozen=True)
class Invoice:
    """The state of one invoice, folded from its stream."""

    invoice_id: str
    organization_id: str
    subscription_id: str
    plan_id: str
    currency: str
    status: InvoiceStatus
    reason: InvoiceReason
    usage_period_start: datetime | None
    usage_period_end: datetime | None
    total_minor: int
    finalize_at: datetime
    number: str = ""
    # Provisional on a draft (its total, no credit yet); fixed at finalization. Collection
    # charges `amount_remaining_minor`, which only this and `amount_paid_minor` decide.
    amount_due_minor: int = 0
    amount_paid_minor: int = 0
    credit_applied_minor: int = 0
    attempts: int = 0
    failures: int = 0
    first_failed_at: datetime | None = None
    pending: PendingPayment | None = None
    next_attempt_at: datetime | None = None

    @classmethod
    def replay(cls, events: Iterable[DomainEvent]) -> Invoice | None:
        """Fold the stream's events; None if no invoice was issued."""
        state: Invoice | None = None
        for event in events:
            state = evolve(state, event)
        return state

    @property
    def amount_remaining_minor(self) -> int:
        """What is still owed on it (see `amount_remaining`)."""
        return amount_remaining(self.status, self.amount_due_minor, self.amount_paid_minor)

    def finalization(
        self,
        number: str,
        sequence: int,
        lines: list[Line],
        calculation: BillingCalculated,
        now: datetime,
        credit_applied: int = 0,
    ) -> list[DomainEvent]:
        """Decide finalizing with the calculated lines; an invoice with nothing due is paid at once."""
        if self.status is not InvoiceStatus.DRAFT:
            raise FailedPrecondition("invoice_not_draft", f"invoice {self.invoice_id} is {self.status}")
        total = calculation.total_minor
        due = total - credit_applied
        if due < 0:
            raise ValueError(f"credit {credit_applied} exceeds the total {total} of invoice {self.invoice_id}")
        events: list[DomainEvent] = [
            calculation,
            InvoiceFinalized(
                invoice_id=self.invoice_id,
                number=number,
                sequence=sequence,
                lines=lines,
                total_minor=total,
                amount_due_minor=due,
                finalized_at=now,
                credit_applied_minor=credit_applied,
            ),
        ]
        if due == 0:  # settled without a charge (or by credit), as Stripe does
            events.append(InvoicePaid(invoice_id=self.invoice_id, amount_paid_minor=0, paid_at=now))
        return events

    def payment_due(self, now: datetime) -> bool:
        """Whether a charge should be (re)sent now."""
        return self.status is InvoiceStatus.OPEN and self.next_attempt_at is not None and self.next_attempt_at <= now

    def start_payment(self, payment_id: str, payment_method: str, now: datetime) -> PaymentStarted | PendingPayment:
        """The attempt to send: the unresolved one again (same key), or a new one."""
        if self.status is not InvoiceStatus.OPEN:
            raise FailedPrecondition("invoice_not_open", f"invoice {self.invoice_id} is {self.status}")
        if self.pending is not None:
            return self.pending
        attempt = self.attempts + 1
        return PaymentStarted(
            invoice_id=self.invoice_id,
            payment_id=payment_id,
            attempt=attempt,
            # One key per attempt: a retry of the same attempt must not charge again, while the
            # next dunning attempt is a new charge.
            idempotency_key=f"{self.invoice_id}:attempt-{attempt}",
            amount_minor=self.amount_remaining_minor,
            currency=self.currency,
            payment_method=payment_method,
            started_at=now,
        )

    def payment_outcome(
        self,
        charge_id: str,
        succeeded: bool,
        failure_code: str,
        message: str,
        policy: DunningPolicy,
        now: datetime,
    ) -> list[DomainEvent]:
        """Decide what a gateway answer for the pending attempt means for the invoice."""
        pending = self.pending
        if pending is None or self.status is not InvoiceStatus.OPEN:
            return []  # answered already (another worker recorded it), or the invoice was voided
        if succeeded:
            return [
                PaymentSucceeded(
                    invoice_id=self.invoice_id,
                    payment_id=pending.payment_id,
                    charge_id=charge_id,
                    amount_minor=pending.amount_minor,
                    succeeded_at=now,
                ),
                InvoicePaid(invoice_id=self.invoice_id, amount_paid_minor=pending.amount_minor, paid_at=now),
            ]
        next_attempt = policy.next_retry(self.first_failed_at or now, self.failures + 1)
        failed = PaymentFailed(
            invoice_id=self.invoice_id,
            payment_id=pending.payment_id,
            charge_id=charge_id,
            failure_code=failure_code,
            message=message,
            failed_at=now,
            next_attempt_at=next_attempt,
        )
        if next_attempt is not None:
            return [failed]
        return [
            failed,
            InvoiceMarkedUncollectible(invoice_id=self.invoice_id, amount_minor=self.amount_remaining_minor, at=now),
        ]

    def void(self, now: datetime) -> list[DomainEvent]:
        """Decide voiding: allowed until the invoice is paid (Stripe voids open and uncollectible ones)."""
        if self.status in {InvoiceStatus.PAID, InvoiceStatus.VOID}:
            raise FailedPrecondition("invoice_not_voidable", f"invoice {self.invoice_id} is {self.status}")
        if self.pending is not None:
            # The charge may be captured as we speak; void once its outcome is recorded.
            raise FailedPrecondition("payment_in_flight", f"a payment of invoice {self.invoice_id} is in flight")
        # What was owed when voided: nothing for a draft, which was never invoiced.
        owed = 0 if self.status is InvoiceStatus.DRAFT else self.amount_remaining_minor
        return [InvoiceVoided(invoice_id=self.invoice_id, amount_minor=owed, at=now)]


def provisional_amount_due(total_minor: int) -> int:
    """A draft's amount due: its total as it stands, less no credit (credit is spent at finalization)."""
    return max(total_minor, 0)


def amount_remaining(status: InvoiceStatus | str, amount_due_minor: int, amount_paid_minor: int) -> int:
    """Still owed: due - paid while the invoice can be paid or was written off; nothing once paid or void."""
    if status in {InvoiceStatus.PAID, InvoiceStatus.VOID}:
        return 0
    return amount_due_minor - amount_paid_minor


def evolve(state: Invoice | None, event: DomainEvent) -> Invoice | None:
    """The invoice after one more event."""
    if isinstance(event, InvoiceIssued):
        return Invoice(
            invoice_id=event.invoice_id,
            organization_id=event.organization_id,
            subscription_id=event.subscription_id,
            plan_id=event.plan_id,
            currency=event.currency,
            status=InvoiceStatus.DRAFT,
            reason=event.reason,
            usage_period_start=event.usage_period_start,
            usage_period_end=event.usage_period_end,
            total_minor=event.total_minor,
            finalize_at=event.finalize_at,
            amount_due_minor=provisional_amount_due(event.total_minor),
        )
    if state is None:
        return None
    match event:
        case InvoiceFinalized():
            return replace(
                state,
                status=InvoiceStatus.OPEN,
                number=event.number,
                total_minor=event.total_minor,
                amount_due_minor=event.amount_due_minor,
                credit_applied_minor=event.credit_applied_minor,
                next_attempt_at=event.finalized_at if event.amount_due_minor > 0 else None,
            )
        case PaymentStarted():
            pending = PendingPayment(
                event.payment_id, event.attempt, event.idempotency_key, event.amount_minor, event.payment_method
            )
            recheck = event.started_at + UNRESOLVED_RECHECK
            return replace(state, attempts=event.attempt, pending=pending, next_attempt_at=recheck)
        case PaymentSucceeded():
            return replace(state, pending=None, next_attempt_at=None)
        case PaymentFailed():
            first = state.first_failed_at or event.failed_at
            return replace(
                state,
                pending=None,
                failures=state.failures + 1,
                first_failed_at=first,
                next_attempt_at=event.next_attempt_at,
            )
        case InvoicePaid():
            # The amount due stays what it was: what was asked for, now paid.
            return replace(
                state, status=InvoiceStatus.PAID, amount_paid_minor=event.amount_paid_minor, next_attempt_at=None
            )
        case InvoiceMarkedUncollectible():
            return replace(state, status=InvoiceStatus.UNCOLLECTIBLE, next_attempt_at=None)
        case InvoiceVoided():
            return replace(state, status=InvoiceStatus.VOID, next_attempt_at=None)
    return state


def stream_of(invoice_id: str) -> str:
    """The stream that holds an invoice's events (its payments included)."""
    return f"invoice-{invoice_id}"
