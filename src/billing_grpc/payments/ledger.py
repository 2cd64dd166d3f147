"""The charge ledger: what a gateway remembers per idempotency key, so a replay captures nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from billing_grpc.payments.port import ChargeRequest, ChargeResult


@dataclass(frozen=True)
class ChargeRecord:
    """One charge attempt as the gateway recorded it: the request (its fingerprint) and the outcome."""

    request: ChargeRequest
    result: ChargeResult
    recorded_at: datetime

    @property
    def captured(self) -> bool:
        """Whether money was taken."""
        return self.result.succeeded


class ChargeLedger(Protocol):
    """Charge attempts keyed by idempotency key; the first record of a key wins, forever."""

    async def get(self, idempotency_key: str) -> ChargeRecord | None:
        """The record of this key, if any."""
        ...

    async def record(self, record: ChargeRecord) -> tuple[ChargeRecord, bool]:
        """Store `record` unless its key is known; return the stored record and whether this call stored it."""
        ...

    async def for_invoice(self, invoice_id: str) -> list[ChargeRecord]:
        """Every attempt for the invoice, ordered by `recorded_at`, then idempotency key."""
        ...


def in_recorded_order(records: list[ChargeRecord]) -> list[ChargeRecord]:
    """Sort records the one way every ledger orders them."""
    return sorted(records, key=lambda r: (r.recorded_at, r.request.idempotency_key))
