"""What each organization owes, per currency: invoiced = paid + outstanding + uncollectible + voided.

Only finalized invoices count (a draft is provisional). The paid, uncollectible and voided
events name neither the organization nor the currency, so the projection keeps a small
document per invoice (`balance_invoices`) with those and the amount it currently counts where.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
        }
    )
    collections: Mapping[str, Sequence[Index]] = {
        # An organization's balances (one per currency it was invoiced in).
        BALANCES: [Index((("organization_id", 1),))],
        BALANCE_INVOICES: [],
    }

    async def prefetch(self, events: Sequence[RecordedEvent], view: View) -> None:
        """Load the batch's invoices, then the balances they belong to."""
        changed = [e.payload["invoice_id"] for e in events if e.type != InvoiceIssued.TYPE]
        await view.prefetch(BALANCE_INVOICES, changed)
        invoices = [await view.get(BALANCE_INVOICES, invoice_id) for invoice_id in changed]
        keys = {balance_key(i["organization_id"], i["currency"]) for i in invoices if i is not None}
        await view.prefetch(BALANCES, keys)

    async def apply(self, event: RecordedEvent, view: View) -> None:
        """Move the invoice's amount between the buckets of its organization's balance."""
        fact = decode_event(event.type, event.payload)
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


def _empty(invoice: Document) -> Document:
    return {
        "organization_id": invoice["organization_id"],
        "currency": invoice["currency"],
        "invoiced_minor": 0,
        "paid_minor": 0,
        "outstanding_minor": 0,
        "uncollectible_minor": 0,
        "voided_minor": 0,
        # Customer credit arrives with plan changes (proration); nothing grants it yet.
        "credit_minor": 0,
    }
