"""The currencies billing-grpc bills in: ISO 4217's List One, with ISO's own minor units.

The data is ISO's published table as shipped by the `iso4217` package (pinned in pyproject.toml),
not a hand-written list. A code is accepted when it is current (List One holds no withdrawn
currency: DEM, HRK or ZWL are not in it) and ISO gives it a minor unit (0 to 4 digits). Codes
whose minor unit is "N.A." (gold XAU, SDR XDR, the test code XTS, "no currency" XXX) are units of
account, not money a customer is billed in, and are refused. docs/billing-rules/currencies.md
gives the rule and why this library.

This is the one domain module that imports a third-party package (tests/unit/test_layering.py
allows exactly this one). `iso4217` reads and parses its XML table when imported, so it is
imported on the first lookup rather than when the domain is: importing the domain does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType


@cache
def minor_units() -> Mapping[str, int]:
    """Every accepted ISO 4217 code (upper case) and its number of minor-unit digits, read once."""
    from iso4217 import Currency  # lazy on purpose: see the module docstring

    return MappingProxyType(
        {currency.code: currency.exponent for currency in Currency if currency.exponent is not None}
    )
