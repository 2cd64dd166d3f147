"""How a plan bills its base fee: in advance or in arrears, and the unit time is prorated in.

Stripe bills a licensed price in advance and prorates to the second; Lago lets a plan bill its
fee in arrears (`pay_in_advance: false`) and, like Kill Bill, prorates by day. A plan chooses
both once, at creation; the defaults are Stripe's, so plans created before these terms existed
keep billing exactly as they did.
"""

from __future__ import annotations

from enum import StrEnum


class BaseFeeTiming(StrEnum):
    """When a period's base fee is invoiced: at its start, or at its end for the time served."""

    ADVANCE = "advance"
    ARREARS = "arrears"


class ProrationUnit(StrEnum):
    """The unit a part of a period is measured in when a fee is prorated."""

    SECOND = "second"  # Stripe: the exact share of the period, in whole seconds
    DAY = "day"  # Lago, Kill Bill: started days over the period's days
