"""The payment gateway port: what billing asks of a gateway (Stripe, or the simulated one).

Every charge carries an idempotency key. A gateway that receives the same key again answers with
the outcome it recorded the first time and captures nothing new, so a caller whose call timed
out retries with the SAME key and can never charge twice. A new attempt (a later dunning retry)
uses a NEW key.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from billing_grpc.domain.money import is_currency

# BSON stores signed 64-bit integers; a larger amount could not be recorded exactly.
MAX_AMOUNT_MINOR = 2**63 - 1


class FailureCode(StrEnum):
    """Stable reasons a charge was declined (the values are what `ChargeResult.failure_code` holds)."""

    CARD_DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    NO_PAYMENT_METHOD = "no_payment_method"
    RANDOM_DECLINE = "random_decline"


@dataclass(frozen=True)
class ChargeRequest:
    """A request to capture `amount_minor` of `currency` from an organization for one invoice."""

    idempotency_key: str
    organization_id: str
    invoice_id: str
    amount_minor: int
    currency: str
    payment_method: str

    def __post_init__(self) -> None:
        # These are caller bugs, not customer problems: refuse them before anything is charged.
        for name in ("idempotency_key", "organization_id", "invoice_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string")
        if not isinstance(self.payment_method, str):
            raise TypeError("payment_method must be a str ('' when the organization has none)")
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise TypeError(f"amount_minor must be an int, not {type(self.amount_minor).__name__}")
        if not 0 < self.amount_minor <= MAX_AMOUNT_MINOR:
            # Zero-amount invoices are settled without a charge; that decision is the caller's.
            raise ValueError(f"amount_minor must be positive and fit in 64 bits, got {self.amount_minor}")
        if not is_currency(self.currency):
            raise ValueError(f"unknown ISO 4217 currency {self.currency!r}")


@dataclass(frozen=True)
class ChargeResult:
    """The gateway's answer: captured (`succeeded`) or declined with a stable `failure_code`."""

    charge_id: str
    succeeded: bool
    failure_code: str  # "" on success, else a FailureCode value
    message: str


class PaymentError(Exception):
    """Base of the errors a gateway raises instead of answering."""


class GatewayUnavailable(PaymentError):
    """The outcome is unknown: the charge may or may not be captured; retry with the SAME key."""


class GatewayTimeout(GatewayUnavailable):
    """The gateway did not answer in time; like any unavailability, retry with the SAME key."""


class IdempotencyKeyReused(PaymentError):
    """The key was already used for a different request (a caller bug; Stripe answers 400)."""


class PaymentGateway(Protocol):
    """Captures money; idempotent per `ChargeRequest.idempotency_key`."""

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        """Capture the amount, or decline; raise GatewayUnavailable when the outcome is unknown."""
        ...
