"""What the tour sets up and sends: the plan's prices and three months of usage.

Kept apart from the tour's mechanics so the story (and the totals it implies) reads in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing.v1 import catalogue_pb2

CURRENCY = "USD"
# $49.00 a month, in advance.
BASE_FEE_MINOR = 4900
# API calls, graduated, in minor units (cents) per call: the first 10,000 of a month are included,
# then 0.1 ¢ each up to 100,000, then 0.05 ¢ each.
API_CALL_TIERS = (
    catalogue_pb2.Tier(up_to="10000", unit_price="0"),
    catalogue_pb2.Tier(up_to="100000", unit_price="0.1"),
    catalogue_pb2.Tier(unit_price="0.05"),
)
# Storage: 25 ¢ per GB of the month's peak (a `max` meter).
STORAGE_UNIT_PRICE = "25"

# Usage is sent in the first half of each month; the clock is then this far into the period.
USAGE_DAYS = 14
# Events per StreamUsage message.
BATCH_SIZE = 100


@dataclass(frozen=True)
class MonthOfUsage:
    """One month's usage: API calls arrive as `api_call_events` events of `calls_per_event` calls."""

    api_call_events: int
    calls_per_event: int
    storage_peak_gb: int

    @property
    def api_calls(self) -> int:
        """The month's API calls."""
        return self.api_call_events * self.calls_per_event

    def storage_readings(self) -> list[int]:
        """One storage reading a day, growing to the month's peak on the last day."""
        return [self.storage_peak_gb - (USAGE_DAYS - 1 - day) for day in range(USAGE_DAYS)]


# Growing usage: 12,000 calls and 20 GB, then 60,000 and 35 GB, then 150,000 and 50 GB.
MONTHS = (
    MonthOfUsage(api_call_events=120, calls_per_event=100, storage_peak_gb=20),
    MonthOfUsage(api_call_events=240, calls_per_event=250, storage_peak_gb=35),
    MonthOfUsage(api_call_events=300, calls_per_event=500, storage_peak_gb=50),
)
# The invoice closing this month (1-based) is declined once: the card on file stops working,
# the customer replaces it, and the dunning retry is paid.
DECLINED_MONTH = 2

PAYMENT_METHOD_OK = "pm_ok"
PAYMENT_METHOD_DECLINED = "pm_declined"
