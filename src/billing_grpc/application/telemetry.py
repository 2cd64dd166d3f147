"""The telemetry port: what the server reports about itself, with a default that reports nothing.

The callers (the request interceptor, the usage servicer, the scheduler, the metered payment
gateway) report facts in the product's words; the adapter behind the port (Prometheus, see
`billing_grpc.observability`) decides how they are kept. Every call is made at most once per
RPC, batch, payment or run, never per usage event, so the port stays off the hot loops.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Protocol


class PaymentOutcome(StrEnum):
    """How a gateway answered one charge request."""

    CAPTURED = "captured"
    DECLINED = "declined"
    TIMEOUT = "timeout"  # the outcome is unknown; the attempt is resumed with the same key
    UNAVAILABLE = "unavailable"  # likewise unknown, the gateway could not be reached
    ERROR = "error"  # the gateway refused the request itself (a caller bug, e.g. a reused key)


class SchedulerOutcome(StrEnum):
    """What one scheduler tick did."""

    COMPLETED = "completed"  # held the lease and ran the billing cycle to its end
    FAILED = "failed"  # held the lease (or could not tell) and the run raised
    NOT_LEADER = "not_leader"  # another instance holds the lease: nothing to do here
    OVERLAPPED = "overlapped"  # the previous run is still going: this tick is skipped


class Telemetry(Protocol):
    """Receives the server's operational facts."""

    def rpc_finished(self, method: str, code: str, seconds: float) -> None:
        """An RPC (`/package.Service/Method`) ended with a gRPC status code name after `seconds`."""
        ...

    def usage_judged(self, accepted: int, duplicates: int, rejected: Mapping[str, int]) -> None:
        """One usage batch was answered: counts per outcome, rejections per reason."""
        ...

    def payment_answered(self, outcome: PaymentOutcome, reason: str) -> None:
        """A gateway answered a charge; `reason` is the decline code ("" otherwise)."""
        ...

    def scheduler_ticked(self, outcome: SchedulerOutcome, seconds: float | None) -> None:
        """A scheduler tick ended; `seconds` is the billing run's duration when one ran."""
        ...


class NoTelemetry:
    """Reports nothing: the default when metrics are off, and in tests that do not look."""

    def rpc_finished(self, method: str, code: str, seconds: float) -> None:
        """Ignore the call."""

    def usage_judged(self, accepted: int, duplicates: int, rejected: Mapping[str, int]) -> None:
        """Ignore the batch."""

    def payment_answered(self, outcome: PaymentOutcome, reason: str) -> None:
        """Ignore the answer."""

    def scheduler_ticked(self, outcome: SchedulerOutcome, seconds: float | None) -> None:
        """Ignore the tick."""


NO_TELEMETRY = NoTelemetry()
