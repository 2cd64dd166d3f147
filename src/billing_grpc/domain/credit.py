"""Customer credit: an organization's balance of money it is owed, spent on its next invoices.

Credit comes from an operator's grant, from a proration or cancellation that nets negative (an
invoice whose total is below zero), and is spent at finalization before any charge. It lives
in its own stream per organization (`customer_credit-<organization>`), so spending it is decided
against that stream's version: two finalizations cannot spend the same credit, and a balance
never goes below zero (an invoice takes at most what is there).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.validation import Violations

# A grant above this is a typo (10^13 minor units is 100 billion dollars), not a business decision.
MAX_GRANT_MINOR = 10**13


class CreditSource(StrEnum):
    """Where a credit came from."""

    GRANT = "grant"  # an operator's GrantCredit
    INVOICE = "invoice"  # an invoice whose total was negative (prorations, a canceled period)
    VOID = "void"  # credit spent on an invoice that was then voided, given back


class CreditGranted(DomainEvent):
    """The organization is owed `amount_minor` more; its next invoices spend it first."""

    TYPE: ClassVar[str] = "credit.granted"

    organization_id: str
    currency: str
    amount_minor: int
    source: CreditSource
    reference: str  # the invoice for INVOICE credit; the operator's note for a grant
    granted_at: datetime


class CreditApplied(DomainEvent):
    """`amount_minor` of the organization's credit paid part (or all) of an invoice."""

    TYPE: ClassVar[str] = "credit.applied"

    organization_id: str
    currency: str
    invoice_id: str
    amount_minor: int
    applied_at: datetime


@dataclass(frozen=True)
class CustomerCredit:
    """An organization's available credit, folded from its credit stream."""

    organization_id: str
    available_minor: int = 0

    @classmethod
    def replay(cls, organization_id: str, events: Iterable[DomainEvent]) -> CustomerCredit:
        """Fold the stream's events (an empty stream is a zero balance)."""
        available = 0
        for event in events:
            if isinstance(event, CreditGranted):
                available += event.amount_minor
            elif isinstance(event, CreditApplied):
                available -= event.amount_minor
        return cls(organization_id, available)

    def grant(self, currency: str, amount_minor: int, note: str, now: datetime) -> CreditGranted:
        """Decide an operator's grant: a positive amount in the organization's currency."""
        violations = Violations()
        bounds = f"must be between 1 and {MAX_GRANT_MINOR}"
        violations.check(0 < amount_minor <= MAX_GRANT_MINOR, "amount_minor", bounds)
        violations.text(note, "description", required=False)
        violations.raise_if_any()
        return CreditGranted(
            organization_id=self.organization_id,
            currency=currency,
            amount_minor=amount_minor,
            source=CreditSource.GRANT,
            reference=note,
            granted_at=now,
        )

    def settle(self, currency: str, invoice_id: str, total_minor: int, now: datetime) -> tuple[int, list[DomainEvent]]:
        """Decide the credit side of finalizing an invoice: (credit applied, events).

        A positive total spends up to the available credit; a negative total (a credit note in
        effect) adds its amount to the credit, reported as a negative application, so that
        `total - applied` is what is left to pay in every case and never below zero.
        """
        if total_minor < 0:
            granted = CreditGranted(
                organization_id=self.organization_id,
                currency=currency,
                amount_minor=-total_minor,
                source=CreditSource.INVOICE,
                reference=invoice_id,
                granted_at=now,
            )
            return total_minor, [granted]
        applied = min(self.available_minor, total_minor)
        if applied <= 0:
            return 0, []
        spent = CreditApplied(
            organization_id=self.organization_id,
            currency=currency,
            invoice_id=invoice_id,
            amount_minor=applied,
            applied_at=now,
        )
        return applied, [spent]

    def refund(self, currency: str, invoice_id: str, applied_minor: int, now: datetime) -> list[DomainEvent]:
        """Decide giving back the credit a voided invoice had spent (nothing if it spent none)."""
        if applied_minor <= 0:
            return []
        return [
            CreditGranted(
                organization_id=self.organization_id,
                currency=currency,
                amount_minor=applied_minor,
                source=CreditSource.VOID,
                reference=invoice_id,
                granted_at=now,
            )
        ]


def stream_of(organization_id: str) -> str:
    """The stream that holds an organization's credit balance."""
    return f"customer_credit-{organization_id}"
