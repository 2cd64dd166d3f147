"""The payments read model: one document per attempt to charge an invoice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from billing_grpc.domain.events import decode_event
from billing_grpc.domain.invoice import PaymentFailed, PaymentStarted, PaymentSucceeded
from billing_grpc.eventstore import RecordedEvent
from projections.model import Index, View

PAYMENTS = "payments"


class PaymentsProjection:
    """A payment is `pending` from its start until the gateway's answer is recorded."""

    name = "payments"
    handles = frozenset({PaymentStarted.TYPE, PaymentSucceeded.TYPE, PaymentFailed.TYPE})
    collections: Mapping[str, Sequence[Index]] = {
        PAYMENTS: [
            # An organization's payments in time order.
            Index((("organization_id", 1), ("started_at", 1))),
            # An invoice's attempts in order.
            Index((("invoice_id", 1), ("attempt", 1))),
        ]
    }

    async def prefetch(self, events: Sequence[RecordedEvent], view: View) -> None:
        """Load the payments whose outcomes the batch records."""
        await view.prefetch(PAYMENTS, (e.payload["payment_id"] for e in events if e.type != PaymentStarted.TYPE))

    async def apply(self, event: RecordedEvent, view: View) -> None:
        """Record an attempt, or its outcome."""
        fact = decode_event(event.type, event.payload)
        if isinstance(fact, PaymentStarted):
            view.put(
                PAYMENTS,
                fact.payment_id,
                {
                    "invoice_id": fact.invoice_id,
                    # The payment event does not name the organization; its envelope's tenant does.
                    "organization_id": event.organization_id,
                    "attempt": fact.attempt,
                    "idempotency_key": fact.idempotency_key,
                    "amount_minor": fact.amount_minor,
                    "currency": fact.currency,
                    "payment_method": fact.payment_method,
                    "status": "pending",
                    "charge_id": "",
                    "failure_code": "",
                    "message": "",
                    "started_at": fact.started_at,
                    "resolved_at": None,
                },
            )
            return
        assert isinstance(fact, PaymentSucceeded | PaymentFailed)
        current = await view.get(PAYMENTS, fact.payment_id)
        if current is None:
            return
        current["charge_id"] = fact.charge_id
        if isinstance(fact, PaymentSucceeded):
            current["status"] = "succeeded"
            current["resolved_at"] = fact.succeeded_at
        else:
            current["status"] = "failed"
            current["failure_code"] = fact.failure_code
            current["message"] = fact.message
            current["resolved_at"] = fact.failed_at
        view.put(PAYMENTS, fact.payment_id, current)
