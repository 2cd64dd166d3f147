"""Money: ISO 4217 exponents, integer minor units, one rounding rule, strict decimal strings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_grpc.domain.currencies import minor_units
from billing_grpc.domain.errors import FailedPrecondition, InvalidArgument
from billing_grpc.domain.money import (
    CurrencyMismatch,
    Money,
    currency_exponent,
    format_decimal,
    is_currency,
    parse_decimal,
    round_minor,
)

# ISO 4217 List One's minor units (the currencies first, then a few others). Where CLDR
# (Babel) says otherwise, ISO wins: IQD 3 (CLDR 0), HUF and IDR 2 (CLDR 0).
ISO_EXPONENTS = {
    **dict.fromkeys(["AED", "TRY", "ILS", "HUF", "RON", "SAR", "THB", "IDR"], 2),
    **dict.fromkeys(["USD", "EUR", "GBP", "CHF", "INR", "BRL", "ZAR", "XCG", "ZWG", "SLE", "VES"], 2),
    **dict.fromkeys(["JPY", "KRW", "CLP", "ISK", "VND", "PYG", "UGX", "XOF", "XAF", "XPF"], 0),
    **dict.fromkeys(["KWD", "BHD", "JOD", "OMR", "TND", "IQD", "LYD"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}
WITHDRAWN = ["DEM", "FRF", "ITL", "HRK", "LTL", "EEK", "ZWL", "SLL", "VEF", "MRO", "STD", "ANG"]
NO_MINOR_UNIT = ["XXX", "XTS", "XAU", "XAG", "XPT", "XPD", "XDR", "XSU", "XUA", "XBA"]
# Codes are upper-case ASCII as ISO writes them: no case folding, no trimming, no full-width USD.
NOT_CODES = ["XYZ", "usd", "Usd", "kwd", "", "US", "USDD", " USD", "USD ", "\uff35\uff33\uff24"]

TWO = [c for c, e in ISO_EXPONENTS.items() if e == 2]
ZERO = [c for c, e in ISO_EXPONENTS.items() if e == 0]
THREE = [c for c, e in ISO_EXPONENTS.items() if e == 3]


@pytest.mark.parametrize(("code", "exponent"), ISO_EXPONENTS.items())
def test_currencies_have_their_iso_4217_minor_unit_exponent(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent
    assert is_currency(code)
    assert Money(1, code).exponent == exponent


@pytest.mark.parametrize("code", WITHDRAWN + NO_MINOR_UNIT + NOT_CODES)
def test_unknown_withdrawn_and_non_money_codes_are_refused_with_a_field_violation(code: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        currency_exponent(code)
    assert raised.value.reason == "unknown_currency"
    assert [v.field for v in raised.value.violations] == ["currency"]
    assert not is_currency(code)


@pytest.mark.parametrize("code", [None, 840, b"USD"])
def test_a_currency_that_is_not_a_string_is_refused_like_an_unknown_one(code: object) -> None:
    with pytest.raises(InvalidArgument):
        currency_exponent(code)  # type: ignore[arg-type]
    assert not is_currency(code)  # type: ignore[arg-type]


def test_every_active_iso_4217_currency_is_accepted_from_the_published_table() -> None:
    table = minor_units()
    # List One (2026-01-01) has 178 codes; the 13 without a minor unit are refused.
    assert len(table) >= 160
    assert all(len(code) == 3 and code.isascii() and code.isupper() for code in table)
    assert set(table.values()) <= {0, 2, 3, 4}
    assert minor_units() is table  # read once, then cached


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(1234, "JPY"), "1234 JPY"),
        (Money(1234, "USD"), "12.34 USD"),
        (Money(1234, "KWD"), "1.234 KWD"),
        (Money(-5, "USD"), "-0.05 USD"),
        (Money(7, "KWD"), "0.007 KWD"),
        (Money.zero("EUR"), "0.00 EUR"),
        (Money(-1234, "JPY"), "-1234 JPY"),
        (Money(5, "IQD"), "0.005 IQD"),
        (Money(1234, "CLF"), "0.1234 CLF"),
        (Money(123456, "AED"), "1234.56 AED"),
        (Money(-1, "HUF"), "-0.01 HUF"),
    ],
)
def test_money_reads_in_major_units_by_the_currency_exponent(money: Money, text: str) -> None:
    assert str(money) == text


def test_money_adds_subtracts_negates_and_compares_within_one_currency() -> None:
    a, b = Money(250, "USD"), Money(100, "USD")
    assert a + b == Money(350, "USD")
    assert a - b == Money(150, "USD")
    assert b - a == Money(-150, "USD")
    assert -a == Money(-250, "USD")
    assert b < a and b <= a and a > b and a >= b and a <= a and a >= a
    assert Money.zero("JPY") == Money(0, "JPY")
    assert max([a, b]) == a


@pytest.mark.parametrize(
    "combine",
    [
        lambda x, y: x + y,
        lambda x, y: x - y,
        lambda x, y: x < y,
        lambda x, y: x <= y,
        lambda x, y: x > y,
        lambda x, y: x >= y,
    ],
)
def test_mixing_currencies_is_refused(combine: object) -> None:
    assert callable(combine)
    with pytest.raises(CurrencyMismatch) as raised:
        combine(Money(1, "USD"), Money(1, "EUR"))
    assert isinstance(raised.value, FailedPrecondition)
    assert raised.value.reason == "currency_mismatch"


def test_equality_across_currencies_is_false_rather_than_an_error() -> None:
    assert Money(1, "USD") != Money(1, "EUR")
    assert len({Money(1, "USD"), Money(1, "EUR"), Money(1, "USD")}) == 2


@pytest.mark.parametrize("amount", [True, 1.0, Decimal("1"), "1", None])
def test_money_refuses_anything_but_an_int_amount(amount: object) -> None:
    with pytest.raises(TypeError):
        Money(amount, "USD")  # type: ignore[arg-type]


def test_money_refuses_an_unknown_currency() -> None:
    with pytest.raises(InvalidArgument):
        Money(1, "XXX")
    with pytest.raises(TypeError):
        Money(1, None)  # type: ignore[arg-type]


def test_money_does_not_combine_with_plain_numbers() -> None:
    with pytest.raises(TypeError):
        Money(1, "USD") + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        Money(1, "USD") < 1  # type: ignore[operator]  # noqa: B015


@pytest.mark.parametrize(
    ("amount", "rounded"),
    [
        ("0", 0),
        ("2.5", 3),
        ("-2.5", -3),
        ("0.5", 1),
        ("-0.5", -1),
        ("1.5", 2),
        ("2.4999999999", 2),
        ("-2.4999999999", -2),
        ("2.5000000001", 3),
        ("0.05", 0),
        ("99.99", 100),
        ("-0.49", 0),
        ("123456789012345678901234567890.5", 123456789012345678901234567891),
    ],
)
def test_round_minor_rounds_half_away_from_zero(amount: str, rounded: int) -> None:
    assert round_minor(Decimal(amount)) == rounded


def test_round_minor_refuses_floats_and_non_finite_values() -> None:
    with pytest.raises(TypeError):
        round_minor(2.5)  # type: ignore[arg-type]
    for value in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(ValueError):
            round_minor(Decimal(value))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", "0"),
        ("1.5", "1.5"),
        ("-2.25", "-2.25"),
        ("+3", "3"),
        (".5", "0.5"),
        ("1.", "1"),
        ("1e3", "1000"),
        ("1E-2", "0.01"),
        ("0.000000000001", "0.000000000001"),
        ("1000000000000000000", "1000000000000000000"),
        ("-1000000000000000000", "-1000000000000000000"),
        ("1.0000000000000", "1"),
        ("0e-1000", "0"),
    ],
)
def test_parse_decimal_reads_exactly(text: str, value: str) -> None:
    parsed = parse_decimal(text, "quantity")
    assert isinstance(parsed, Decimal)
    assert parsed == Decimal(value)


@pytest.mark.parametrize(
    "text",
    [
        "NaN",
        "nan",
        "sNaN",
        "inf",
        "Infinity",
        "-Infinity",
        "",
        "1e400",
        "abc",
        "1.0000000000001",
        "1e-13",
        "1000000000000000001",
        "1000000000000000000.000000000001",
        " 1",
        "1 ",
        "1_000",
        "\u0661",  # ARABIC-INDIC DIGIT ONE: Decimal() would accept it
        "0x10",
        "1,5",
        "--1",
        "1e",
        "1e9999999",
        "1" * 101,
    ],
)
def test_parse_decimal_refuses_non_numbers_and_absurd_sizes(text: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse_decimal(text, "events[3].quantity")
    assert raised.value.reason == "invalid_decimal"
    assert [v.field for v in raised.value.violations] == ["events[3].quantity"]


@pytest.mark.parametrize("value", [1.5, 1, None, Decimal("1.5")])
def test_parse_decimal_never_accepts_anything_but_a_string(value: object) -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse_decimal(value, "amount")  # type: ignore[arg-type]
    assert raised.value.reason == "invalid_decimal"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("1.500", "1.5"),
        ("0E-7", "0"),
        ("-0", "0"),
        ("-0.000", "0"),
        ("1E+3", "1000"),
        ("100", "100"),
        ("0.000000000001", "0.000000000001"),
        ("-2.50", "-2.5"),
        ("123456789012345678.123456789012", "123456789012345678.123456789012"),
    ],
)
def test_format_decimal_writes_one_canonical_spelling(value: str, text: str) -> None:
    assert format_decimal(Decimal(value)) == text


def test_format_decimal_refuses_floats_and_non_finite_values() -> None:
    with pytest.raises(TypeError):
        format_decimal(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        format_decimal(Decimal("NaN"))


# Properties.

currencies = st.sampled_from(sorted(minor_units()))
minor = st.integers(min_value=-(10**15), max_value=10**15)
bounded = st.decimals(min_value=-(10**18), max_value=10**18, places=12, allow_nan=False, allow_infinity=False)


@given(minor, minor, minor, currencies)
def test_money_addition_is_associative_and_subtraction_undoes_it(a: int, b: int, c: int, currency: str) -> None:
    x, y, z = Money(a, currency), Money(b, currency), Money(c, currency)
    assert (x + y) + z == x + (y + z)
    assert x + y - y == x
    assert x + Money.zero(currency) == x
    assert -x + x == Money.zero(currency)
    assert (-x).amount_minor == -a
    assert (x < y) == (a < b)


@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_rounding_an_integer_amount_changes_nothing(n: int) -> None:
    assert round_minor(Decimal(n)) == n


@given(bounded)
def test_rounding_is_symmetric_and_within_half_a_minor_unit(amount: Decimal) -> None:
    rounded = round_minor(amount)
    assert abs(Decimal(rounded) - amount) <= Decimal("0.5")
    assert round_minor(-amount) == -rounded


@given(bounded)
def test_format_then_parse_is_the_identity(value: Decimal) -> None:
    text = format_decimal(value)
    assert parse_decimal(text, "x") == value
    assert format_decimal(parse_decimal(text, "x")) == text
    assert "e" not in text.lower()


@given(minor, currencies)
def test_money_in_any_accepted_currency_shows_exactly_its_exponent_digits_and_reads_back(
    amount: int, currency: str
) -> None:
    money = Money(amount, currency)
    exponent = currency_exponent(currency)
    figure, code = str(money).split(" ")
    assert code == currency
    _, point, fraction = figure.partition(".")
    assert len(fraction) == exponent
    assert bool(point) == (exponent > 0)
    back = Decimal(figure).scaleb(exponent)
    assert back == amount
    assert Money(int(back), code) == money
