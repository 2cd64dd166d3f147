"""A simulated payment gateway: deterministic outcomes chosen by the organization's payment method.

| Payment method          | Outcome                                                            | `failure_code`        |
|-------------------------|--------------------------------------------------------------------|-----------------------|
| `pm_ok`                 | captured                                                           | `""`                  |
| `pm_declined`           | declined                                                           | `card_declined`       |
| `pm_insufficient_funds` | declined                                                           | `insufficient_funds`  |
| `pm_timeout`            | captured, but the first call for a key raises `GatewayTimeout`;    | `""`                  |
|                         | a retry with the same key returns the recorded success             |                       |
| `pm_fail_then_ok`       | the first attempt for an invoice is declined; later attempts       | `card_declined`, then |
|                         | (new keys) are captured                                            | `""`                  |
| `""` (none on file)     | declined                                                           | `no_payment_method`   |
| any other value         | declined: the gateway knows no such method                         | `no_payment_method`   |

With `failure_rate` > 0, a charge that would be captured (`pm_ok`, `pm_timeout`, the later
attempts of `pm_fail_then_ok`) is declined `random_decline` instead when a hash of
(`seed`, idempotency key) falls below the rate: the same key always gets the same answer, and a
run with the same seed and keys is reproducible.

Like a real gateway, every attempt (declines too) is recorded under its idempotency key before the
answer is given. A repeat of a key returns the recorded result and captures nothing; a repeat of a
key with a different request raises `IdempotencyKeyReused`. A dunning retry therefore needs a new
key; a retry after `GatewayTimeout`/`GatewayUnavailable` must reuse the old one.

"The first attempt for an invoice" means: no attempt for that invoice is recorded yet. Two
attempts for one invoice made concurrently under different keys may therefore both be declined;
callers do not do that (attempts of one invoice are sequential).
"""

from __future__ import annotations

import hashlib
from dataclasses import fields
from decimal import Decimal

from billing_grpc.domain.clock import Clock
from billing_grpc.payments.ledger import ChargeLedger, ChargeRecord
from billing_grpc.payments.port import (
    ChargeRequest,
    ChargeResult,
    FailureCode,
    GatewayTimeout,
    IdempotencyKeyReused,
)

PM_OK = "pm_ok"
PM_DECLINED = "pm_declined"
PM_INSUFFICIENT_FUNDS = "pm_insufficient_funds"
PM_TIMEOUT = "pm_timeout"
PM_FAIL_THEN_OK = "pm_fail_then_ok"
PAYMENT_METHODS = (PM_OK, PM_DECLINED, PM_INSUFFICIENT_FUNDS, PM_TIMEOUT, PM_FAIL_THEN_OK)

# The hash gives a uniform integer in [0, 2^64); a charge is declined when it falls below rate * 2^64.
_HASH_SPACE = 2**64


class SimulatedGateway:
    """A PaymentGateway whose outcomes are scripted by payment method (see the module table)."""

    def __init__(
        self, ledger: ChargeLedger, *, failure_rate: Decimal = Decimal(0), seed: int = 0, clock: Clock
    ) -> None:
        if not isinstance(failure_rate, Decimal):
            raise TypeError(f"failure_rate must be a Decimal, not {type(failure_rate).__name__}")
        if not failure_rate.is_finite() or not 0 <= failure_rate <= 1:
            raise ValueError(f"failure_rate must be between 0 and 1, got {failure_rate}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, not {type(seed).__name__}")
        self._ledger = ledger
        # An exact ratio, so the comparison with the hash is integer arithmetic.
        self._rate_numerator, self._rate_denominator = failure_rate.as_integer_ratio()
        self._seed = seed
        self._clock = clock

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        """Capture or decline as the payment method scripts it; replay the recorded result for a known key."""
        recorded = await self._ledger.get(request.idempotency_key)
        if recorded is None:
            result = await self._decide(request)
            now = self._clock.now()
            # Milliseconds: what BSON dates hold, so every ledger returns what it was given.
            record = ChargeRecord(request, result, now.replace(microsecond=now.microsecond // 1000 * 1000))
            recorded, created = await self._ledger.record(record)
            if created and request.payment_method == PM_TIMEOUT:
                # The capture is recorded; only the answer is lost, as with a real network timeout.
                raise GatewayTimeout(
                    f"no answer for charge {result.charge_id} (simulated timeout); retry with the same key"
                )
        _ensure_same_request(recorded.request, request)
        return recorded.result

    async def attempts(self, invoice_id: str) -> list[ChargeRecord]:
        """Every recorded attempt for the invoice, captured or declined, in recorded order."""
        return await self._ledger.for_invoice(invoice_id)

    async def captured(self, invoice_id: str) -> list[ChargeRecord]:
        """The attempts for the invoice that captured money."""
        return [r for r in await self._ledger.for_invoice(invoice_id) if r.captured]

    async def captured_total(self, invoice_id: str) -> int:
        """The total captured for the invoice, in minor units of its one currency."""
        captured = await self.captured(invoice_id)
        currencies = {r.request.currency for r in captured}
        if len(currencies) > 1:
            raise ValueError(f"invoice {invoice_id} was charged in several currencies: {sorted(currencies)}")
        return sum(r.request.amount_minor for r in captured)

    def randomly_declined(self, idempotency_key: str) -> bool:
        """Whether the seeded failure rate declines a charge made under this key."""
        digest = hashlib.sha256(f"{self._seed}\x00{idempotency_key}".encode()).digest()
        draw = int.from_bytes(digest[:8], "big")
        return draw * self._rate_denominator < self._rate_numerator * _HASH_SPACE

    async def _decide(self, request: ChargeRequest) -> ChargeResult:
        charge_id = _charge_id(request.idempotency_key)
        method = request.payment_method

        def declined(code: FailureCode, message: str) -> ChargeResult:
            return ChargeResult(charge_id, False, code.value, message)

        if method == "":
            return declined(FailureCode.NO_PAYMENT_METHOD, "the organization has no payment method on file")
        if method == PM_DECLINED:
            return declined(FailureCode.CARD_DECLINED, "the card was declined")
        if method == PM_INSUFFICIENT_FUNDS:
            return declined(FailureCode.INSUFFICIENT_FUNDS, "the card has insufficient funds")
        if method not in (PM_OK, PM_TIMEOUT, PM_FAIL_THEN_OK):
            # Not a decline: there is no card to decline, just as for a missing method.
            return declined(FailureCode.NO_PAYMENT_METHOD, f"unknown payment method {method!r}")
        if method == PM_FAIL_THEN_OK and not await self._ledger.for_invoice(request.invoice_id):
            return declined(FailureCode.CARD_DECLINED, "the card was declined (first attempt for this invoice)")
        if self.randomly_declined(request.idempotency_key):
            return declined(FailureCode.RANDOM_DECLINE, "the charge was declined (simulated random failure)")
        return ChargeResult(charge_id, True, "", "captured")


def _charge_id(idempotency_key: str) -> str:
    # Derived from the key, so reproducible runs produce identical ids.
    return "ch_sim_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


def _ensure_same_request(recorded: ChargeRequest, request: ChargeRequest) -> None:
    if recorded != request:
        changed = [f.name for f in fields(request) if getattr(recorded, f.name) != getattr(request, f.name)]
        raise IdempotencyKeyReused(
            f"idempotency key {request.idempotency_key!r} was used for a different request ({', '.join(changed)})"
        )
