"""A payment gateway that reports every answer to telemetry, then passes it on unchanged."""

from __future__ import annotations

from dataclasses import dataclass

from billing_grpc.application.telemetry import PaymentOutcome, Telemetry
from billing_grpc.payments.port import (
    ChargeRequest,
    ChargeResult,
    FailureCode,
    GatewayTimeout,
    GatewayUnavailable,
    PaymentError,
    PaymentGateway,
)

# A real gateway's decline codes are its own; only the ones we know become label values, so a
# gateway inventing codes cannot grow the metric without bound.
KNOWN_DECLINES = frozenset(code.value for code in FailureCode)
OTHER_DECLINE = "other"


@dataclass(frozen=True)
class MeteredGateway:
    """Wraps a `PaymentGateway`: one telemetry report per charge call, outcomes untouched.

    It counts gateway answers, not invoices: a charge that timed out and is resumed with the same
    idempotency key counts once as `timeout` and once more as what the gateway then answers.
    """

    inner: PaymentGateway
    telemetry: Telemetry

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        """Charge through the wrapped gateway and report the outcome."""
        try:
            result = await self.inner.charge(request)
        except GatewayTimeout:
            self.telemetry.payment_answered(PaymentOutcome.TIMEOUT, "")
            raise
        except GatewayUnavailable:
            self.telemetry.payment_answered(PaymentOutcome.UNAVAILABLE, "")
            raise
        except PaymentError:
            self.telemetry.payment_answered(PaymentOutcome.ERROR, "")
            raise
        if result.succeeded:
            self.telemetry.payment_answered(PaymentOutcome.CAPTURED, "")
        else:
            reason = result.failure_code if result.failure_code in KNOWN_DECLINES else OTHER_DECLINE
            self.telemetry.payment_answered(PaymentOutcome.DECLINED, reason)
        return result
