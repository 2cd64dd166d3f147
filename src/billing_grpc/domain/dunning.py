"""Dunning: when a failed payment is retried, and what happens when retries run out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

DEFAULT_RETRY_DAYS = (1, 3, 5, 7)
# An attempt whose outcome never came back (a crash, a gateway timeout) is resumed this much
# later with the same idempotency key, so the gateway answers it without charging again.
UNRESOLVED_RECHECK = timedelta(minutes=1)


class FinalAction(StrEnum):
    """What becomes of the subscription when the last retry fails."""

    CANCEL = "cancel"
    UNPAID = "unpaid"


@dataclass(frozen=True)
class DunningPolicy:
    """Retries at these days after the first failure (Stripe's smart retries, made explicit)."""

    retry_days: tuple[int, ...] = DEFAULT_RETRY_DAYS
    final_action: FinalAction = FinalAction.CANCEL

    def __post_init__(self) -> None:
        if list(self.retry_days) != sorted(set(self.retry_days)) or any(day <= 0 for day in self.retry_days):
            raise ValueError("retry days must be positive and strictly increasing")

    def next_retry(self, first_failed_at: datetime, failures: int) -> datetime | None:
        """When to try again after `failures` failed attempts, or None once retries are used up."""
        if failures < 1 or failures > len(self.retry_days):
            return None
        return first_failed_at + timedelta(days=self.retry_days[failures - 1])
