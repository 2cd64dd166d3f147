"""Exact money: integer minor units of an ISO 4217 currency, Decimal in calculations, never float.

The one rounding rule of billing-grpc is `round_minor`: half-up (a .5 goes away from zero) to an
integer number of minor units. It is applied exactly once per invoice line, to the line's exact
Decimal amount; totals are sums of already-rounded lines, so they are never rounded again and an
invoice always equals the sum of its lines. Amounts are in minor units of the currency, so the
same rule gives whole fils for KWD (3 decimals), cents for USD and yen for JPY.

Decimals travel as strings: `parse_decimal` reads them strictly (no float, no NaN, bounded size)
and `format_decimal` writes the one canonical spelling stored in event payloads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, InvalidOperation, Overflow

from billing_grpc.domain.currencies import minor_units
from billing_grpc.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument

# Bounds on any decimal we accept. They keep every product of two accepted values far inside the
# precision pricing computes with, and make format_decimal/parse_decimal an exact round trip.
MAX_MAGNITUDE = Decimal(10) ** 18
MAX_FRACTION_DIGITS = 12
# A line's unit amount (its exact amount over its quantity) is taken to 100 significant digits
# and shown to 12 places in this context: Python's default one (28 digits) cannot even hold the
# largest accepted price to 12 places, and would round half-even where billing rounds half-up.
_WIDE = Context(prec=100, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow])
# Longer strings are refused before Decimal sees them, so a hostile input costs nothing.
_MAX_TEXT = 100
# ASCII digits only: Decimal() also accepts underscores, whitespace and non-ASCII digits.
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,6})?")


class CurrencyMismatch(FailedPrecondition):
    """Two amounts in different currencies were combined or compared."""

    @classmethod
    def between(cls, left: str, right: str) -> CurrencyMismatch:
        """Build the error for combining `left` with `right`."""
        return cls("currency_mismatch", f"cannot combine {left} with {right}")


def currency_exponent(code: str) -> int:
    """Return the minor-unit digits of an active ISO 4217 currency (1234 minor units: 12.34 USD).

    1234 minor units are also 1234 JPY and 1.234 KWD. Codes are upper case, as ISO writes them;
    withdrawn codes and units of account without a minor unit (XAU, XDR, XXX) are refused (see
    `billing_grpc.domain.currencies`).
    """
    exponent = minor_units().get(code) if isinstance(code, str) else None
    if exponent is None:
        raise InvalidArgument.of(
            FieldViolation("currency", f"unknown ISO 4217 currency {code!r}"), reason="unknown_currency"
        )
    return exponent


def is_currency(code: str) -> bool:
    """Whether `code` is a currency billing-grpc bills in (what `currency_exponent` accepts)."""
    return isinstance(code, str) and code in minor_units()


@dataclass(frozen=True)
class Money:
    """An exact amount: an integer number of minor units (cents, yen, fils) of one currency.

    Arithmetic and ordering work only within one currency; equality across currencies is simply
    False, so Money stays usable as a dict key.
    """

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        # bool is an int subclass and float is inexact: both are bugs, not amounts.
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise TypeError(f"amount_minor must be an int, not {type(self.amount_minor).__name__}")
        if not isinstance(self.currency, str):
            raise TypeError(f"currency must be a str, not {type(self.currency).__name__}")
        currency_exponent(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Return zero in `currency`."""
        return cls(0, currency)

    @property
    def exponent(self) -> int:
        """The number of minor-unit digits of this currency."""
        return currency_exponent(self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch.between(self.currency, other.currency)

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount_minor < other.amount_minor

    def __le__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount_minor <= other.amount_minor

    def __gt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount_minor > other.amount_minor

    def __ge__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount_minor >= other.amount_minor

    def __str__(self) -> str:
        exponent = self.exponent
        whole, fraction = divmod(abs(self.amount_minor), 10**exponent)
        sign = "-" if self.amount_minor < 0 else ""
        digits = f".{fraction:0{exponent}d}" if exponent else ""
        return f"{sign}{whole}{digits} {self.currency}"


def round_minor(amount: Decimal) -> int:
    """Round an exact amount of minor units half-up (away from zero on .5) to an integer."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"round_minor takes a Decimal, not {type(amount).__name__}")
    if not amount.is_finite():
        raise ValueError(f"cannot round {amount} to minor units")
    # to_integral_value is exact whatever the context precision, unlike quantize.
    return int(amount.to_integral_value(rounding=ROUND_HALF_UP))


def divide(numerator: Decimal, denominator: Decimal) -> Decimal:
    """Divide to 100 significant digits, half-up: exact whenever the quotient terminates."""
    return _WIDE.divide(numerator, denominator)


def to_places(value: Decimal, places: int) -> Decimal:
    """Round a figure that is shown but not billed (a unit amount) half-up to `places` decimals."""
    return value.quantize(Decimal(1).scaleb(-places), context=_WIDE)


def decimal_problem(value: Decimal) -> str | None:
    """Return why `value` is not an acceptable billing decimal, or None if it is."""
    if not value.is_finite():
        return "must be a finite number"
    if value.copy_abs() > MAX_MAGNITUDE:  # copy_abs is exact; abs() rounds to the context
        return "must not exceed 10^18 in magnitude"
    if _fraction_digits(value) > MAX_FRACTION_DIGITS:
        return f"at most {MAX_FRACTION_DIGITS} fractional digits"
    return None


def _fraction_digits(value: Decimal) -> int:
    # Counted on the exact digits: normalize() would round to the context precision first.
    exact = value.as_tuple()
    if not value or not isinstance(exact.exponent, int):
        return 0
    significant = "".join(map(str, exact.digits)).rstrip("0")
    return max(0, -(exact.exponent + len(exact.digits) - len(significant)))


def parse_decimal(text: str, field: str) -> Decimal:
    """Parse a decimal string exactly; refuse floats, NaN, infinities and absurd sizes."""

    def refuse(description: str) -> InvalidArgument:
        return InvalidArgument.of(FieldViolation(field, description), reason="invalid_decimal")

    if not isinstance(text, str):
        raise refuse(f"must be a decimal string, not {type(text).__name__}")
    if not text:
        raise refuse("is required")
    if len(text) > _MAX_TEXT or not _DECIMAL_TEXT.fullmatch(text):
        raise refuse(f"is not a decimal number: {text[:_MAX_TEXT]!r}")
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
        raise refuse(f"is not a decimal number: {text!r}") from None
    problem = decimal_problem(value)
    if problem is not None:
        raise refuse(problem)
    return value


def format_decimal(value: Decimal) -> str:
    """Write the canonical spelling of a decimal: no exponent, no trailing zeros, "0" for zero."""
    if not isinstance(value, Decimal):
        raise TypeError(f"format_decimal takes a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"cannot store {value}")
    if not value:
        return "0"
    # The "f" format is exact; normalize() would round to the context precision.
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
