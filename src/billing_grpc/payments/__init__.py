"""Payments: the gateway port, the charge ledger, and a simulated gateway with scripted outcomes."""

from billing_grpc.payments.ledger import ChargeLedger, ChargeRecord
from billing_grpc.payments.memory_ledger import InMemoryChargeLedger
from billing_grpc.payments.port import (
    ChargeRequest,
    ChargeResult,
    FailureCode,
    GatewayTimeout,
    GatewayUnavailable,
    IdempotencyKeyReused,
    PaymentError,
    PaymentGateway,
)
from billing_grpc.payments.simulated import PAYMENT_METHODS, SimulatedGateway

__all__ = [
    "PAYMENT_METHODS",
    "ChargeLedger",
    "ChargeRecord",
    "ChargeRequest",
    "ChargeResult",
    "FailureCode",
    "GatewayTimeout",
    "GatewayUnavailable",
    "IdempotencyKeyReused",
    "InMemoryChargeLedger",
    "PaymentError",
    "PaymentGateway",
    "SimulatedGateway",
]
