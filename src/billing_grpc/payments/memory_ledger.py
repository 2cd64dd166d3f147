"""A charge ledger in a dictionary: for unit tests and the in-memory server."""

from __future__ import annotations

from billing_grpc.payments.ledger import ChargeRecord, in_recorded_order


class InMemoryChargeLedger:
    """Records keyed by idempotency key, plus an index by invoice."""

    def __init__(self) -> None:
        self._by_key: dict[str, ChargeRecord] = {}
        self._by_invoice: dict[str, list[ChargeRecord]] = {}

    async def get(self, idempotency_key: str) -> ChargeRecord | None:
        """The record of this key, if any."""
        return self._by_key.get(idempotency_key)

    async def record(self, record: ChargeRecord) -> tuple[ChargeRecord, bool]:
        """Store `record` unless its key is known; return the stored record and whether this call stored it."""
        # No await between the check and the insert: atomic on the event loop.
        stored = self._by_key.setdefault(record.request.idempotency_key, record)
        if stored is not record:
            return stored, False
        self._by_invoice.setdefault(record.request.invoice_id, []).append(record)
        return record, True

    async def for_invoice(self, invoice_id: str) -> list[ChargeRecord]:
        """Every attempt for the invoice, ordered by `recorded_at`, then idempotency key."""
        return in_recorded_order(self._by_invoice.get(invoice_id, []))
