"""What each organization owes, per currency: invoiced = paid + credit_applied + outstanding + uncollectible + voided.

Only finalized invoices count (a draft is provisional). `credit_applied_minor` is the part of
the invoiced total settled by customer credit at finalization (negative for an invoice whose
negative total became credit); `paid_minor` only counts money collected. `credit_minor` is the
credit available now: granted - applied, from the credit stream's events, never below zero.

The paid, uncollectible and voided events name neither the organization nor the currency, so
the projection keeps a small document per invoice (`balance_invoices`) with those and the
amount it currently counts where.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from billing_grpc.domain.credit import CreditApplied, CreditGranted
from billing_grpc.domain.events import decode_event
from billing_grpc.domain.invoice import (
    InvoiceFinalized,
    InvoiceIssued,
    InvoiceMarkedUncollectible,
    InvoicePaid,
    InvoiceStatus,
    InvoiceVoided,
)
from billing_grpc.eventstore import RecordedEvent
from projections.model import Document, Index, View

BALANCES = "balances"
BALANCE_INVOICES = "balance_invoices"

# Which balance bucket holds an invoice's amount while it is in each status (none: a draft).
_BUCKET = {
    InvoiceStatus.OPEN.value: "outstanding_minor",
    InvoiceStatus.PAID.value: "paid_minor",
    InvoiceStatus.UNCOLLECTIBLE.value: "uncollectible_minor",
    InvoiceStatus.VOID.value: "voided_minor",
}


_CREDIT = frozenset({CreditGranted.TYPE, CreditApplied.TYPE})


def balance_key(organization_id: str, currency: str) -> str:
    """The document id of an organization's balance in one currency."""
    return f"{organization_id}|{currency}"


class BalancesProjection:
    """One balance per (organization, currency), kept from its invoices' lives."""

    name = "balances"
    handles = frozenset(
        {
            InvoiceIssued.TYPE,
            InvoiceFinalized.TYPE,
            InvoicePaid.TYPE,
            InvoiceMarkedUncollectible.TYPE,
            InvoiceVoided.TYPE,
            CreditGranted.TYPE,
            CreditApplied.TYPE,
        }
    )
    collections: Mapping[str, Sequence[Index]] = {
        # An organization's balances (one per currency it was invoiced in).
        BALANCES: [Index((("organization_id", 1),))],
        BALANCE_INVOICES: [],
    }

    async def prefetch(self, events: Sequence[RecordedEvent], view: View) -> None:
        """Load the batch's invoices, then the balances they (and the batch's credit moves) belong to."""
        credit = [e for e in events if e.type in _CREDIT]
        changed = [e.payload["invoice_id"] for e in events if e.type not in _CREDIT and e.type != InvoiceIssued.TYPE]
        await view.prefetch(BALANCE_INVOICES, changed)
        invoices = [await view.get(BALANCE_INVOICES, invoice_id) for invoice_id in changed]
        keys = {balance_key(i["organization_id"], i["currency"]) for i in invoices if i is not None}
        keys |= {balance_key(e.payload["organization_id"], e.payload["currency"]) for e in credit}
        await view.prefetch(BALANCES, keys)

    async def apply(self, event: RecordedEvent, view: View) -> None:
        """Move the invoice's amount between the buckets of its organization's balance."""
        fact = decode_event(event.type, event.payload)
        if isinstance(fact, CreditGranted | CreditApplied):
            key = balance_key(fact.organization_id, fact.currency)
            balance = await view.get(BALANCES, key) or _empty(fact.model_dump())
            change = fact.amount_minor if isinstance(fact, CreditGranted) else -fact.amount_minor
            balance["credit_minor"] += change
            view.put(BALANCES, key, balance)
            return
        if isinstance(fact, InvoiceIssued):
            view.put(
                BALANCE_INVOICES,
                fact.invoice_id,
                {
                    "organization_id": fact.organization_id,
                    "currency": fact.currency,
                    "status": InvoiceStatus.DRAFT.value,
                    "amount_minor": 0,
                },
            )
            return
        assert isinstance(fact, InvoiceFinalized | InvoicePaid | InvoiceMarkedUncollectible | InvoiceVoided)
        invoice = await view.get(BALANCE_INVOICES, fact.invoice_id)
        if invoice is None:
            return
        if invoice["status"] == InvoiceStatus.DRAFT.value and not isinstance(fact, InvoiceFinalized):
            # A draft was never invoiced: voiding it moves no money.
            if isinstance(fact, InvoiceVoided):
                invoice["status"] = InvoiceStatus.VOID.value
                view.put(BALANCE_INVOICES, fact.invoice_id, invoice)
            return
        key = balance_key(invoice["organization_id"], invoice["currency"])
        balance = await view.get(BALANCES, key) or _empty(invoice)
        was = _BUCKET.get(invoice["status"])
        if was is not None:
            balance[was] -= invoice["amount_minor"]
        match fact:
            case InvoiceFinalized():
                balance["invoiced_minor"] += fact.total_minor
                balance["credit_applied_minor"] += fact.credit_applied_minor
                invoice["status"], invoice["amount_minor"] = InvoiceStatus.OPEN.value, fact.amount_due_minor
            case InvoicePaid():
                invoice["status"], invoice["amount_minor"] = InvoiceStatus.PAID.value, fact.amount_paid_minor
            case InvoiceMarkedUncollectible():
                invoice["status"] = InvoiceStatus.UNCOLLECTIBLE.value
            case InvoiceVoided():
                invoice["status"] = InvoiceStatus.VOID.value
        balance[_BUCKET[invoice["status"]]] += invoice["amount_minor"]
        view.put(BALANCES, key, balance)
        view.put(BALANCE_INVOICES, fact.invoice_id, invoice)


def _empty(owner: Document) -> Document:
    return {
        "organization_id": owner["organization_id"],
        "currency": owner["currency"],
        "invoiced_minor": 0,
        "paid_minor": 0,
        "outstanding_minor": 0,
        "uncollectible_minor": 0,
        "voided_minor": 0,
        "credit_applied_minor": 0,
        "credit_minor": 0,
    }
