"""Invoice numbers: a gapless sequence per organization, decided on its own stream."""

from __future__ import annotations

from typing import ClassVar

from billing_grpc.domain.events import DomainEvent


class InvoiceNumberAssigned(DomainEvent):
    """The next number of an organization's gapless invoice sequence went to `invoice_id`."""

    TYPE: ClassVar[str] = "invoice.number_assigned"

    organization_id: str
    invoice_id: str
    sequence: int


def sequence_stream_of(organization_id: str) -> str:
    """The stream whose version is the organization's last invoice number (gapless by construction)."""
    return f"invoice_sequence-{organization_id}"


def invoice_number(organization_id: str, sequence: int) -> str:
    """A human invoice number, e.g. `3F9A1C2E-0007`: the organization's prefix and its sequence."""
    prefix = organization_id.split("_", 1)[-1][:8].upper()
    return f"{prefix}-{sequence:04d}"
