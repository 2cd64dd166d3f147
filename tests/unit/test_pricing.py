"""Pricing: exact amounts per model, an auditable breakdown, and a lossless stored form."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal, Inexact, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_grpc.domain.errors import InvalidArgument
from billing_grpc.domain.invoicing import MeterUsage, line_to_dict, usage_lines
from billing_grpc.domain.meter import Aggregation
from billing_grpc.domain.money import round_minor
from billing_grpc.domain.periods import Period
from billing_grpc.domain.plan import Plan, create_plan
from billing_grpc.domain.pricing import (
    Charge,
    ChargeResult,
    Graduated,
    Package,
    Percentage,
    PerUnit,
    PricingModel,
    Tier,
    UsageTotals,
    Volume,
    charge_from_dict,
    describe_charge,
    describe_model,
    model_from_dict,
    price,
)


def D(text: str | int | Decimal) -> Decimal:
    return Decimal(text)


def cost(model: PricingModel, quantity: str | Decimal, *, free: str = "0", minimum: str = "0") -> Decimal:
    result = price(Charge("api_calls", model, D(free), D(minimum)), UsageTotals(D(quantity)))
    assert_consistent(result)
    return result.amount


def assert_consistent(result: ChargeResult) -> None:
    """What an auditor checks: each line recomputes, lines sum to the amount, one rounding."""
    with localcontext(prec=200) as exact:  # an auditor must not round either
        exact.traps[Inexact] = True
        for line in result.lines:
            assert line.amount == line.quantity * line.unit_price + line.flat_fee, line
        assert sum((line.amount for line in result.lines), D(0)) == result.amount
    assert result.amount_minor == round_minor(result.amount)


# Graduated: 1-100 at 0.5, 101-1000 at 0.4 (+200 flat), beyond at 0.1 (+0 flat).
GRADUATED = Graduated((Tier(D(100), D("0.5")), Tier(D(1000), D("0.4"), D(200)), Tier(None, D("0.1"))))
VOLUME = Volume((Tier(D(100), D("0.5")), Tier(D(1000), D("0.4"), D(200)), Tier(None, D("0.1"))))


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("0", "0"),
        ("1", "0.5"),
        ("99", "49.5"),
        ("100", "50"),  # exactly at up_to: still tier 1
        ("101", "250.4"),  # one above: tier 2 reached, its flat fee charged once
        ("1000", "610"),
        ("1001", "610.1"),
        ("2000", "710"),
        ("100.5", "250.2"),  # fractional units
        ("0.25", "0.125"),
    ],
)
def test_graduated_prices_each_unit_by_its_tier(quantity: str, expected: str) -> None:
    assert cost(GRADUATED, quantity) == D(expected)


def test_graduated_lines_show_each_tier() -> None:
    result = price(Charge("api_calls", GRADUATED), UsageTotals(D(1500)))
    assert [(line.description, line.quantity, line.amount) for line in result.lines] == [
        ("tier 1: units 1-100 at 0.5", D(100), D(50)),
        ("tier 2: units 101-1000 at 0.4 + flat fee 200", D(900), D(560)),
        ("tier 3: units 1001-1500 at 0.1", D(500), D(50)),
    ]
    fractional = price(Charge("api_calls", GRADUATED), UsageTotals(D("100.5")))
    assert fractional.lines[1].description == "tier 2: units over 100 up to 100.5 at 0.4 + flat fee 200"


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("0", "0"),  # no usage: no flat fee either
        ("1", "0.5"),
        ("100", "50"),
        ("101", "240.4"),  # every unit at tier 2's price, plus its flat fee
        ("1000", "600"),
        ("1001", "100.1"),
        ("0.5", "0.25"),
    ],
)
def test_volume_prices_every_unit_by_the_tier_the_total_reaches(quantity: str, expected: str) -> None:
    assert cost(VOLUME, quantity) == D(expected)


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [("0", "0"), ("1", "500"), ("100", "500"), ("101", "1000"), ("200", "1000"), ("0.5", "500"), ("200.01", "1500")],
)
def test_package_charges_every_started_package(quantity: str, expected: str) -> None:
    assert cost(Package(100, D(500)), quantity) == D(expected)


@pytest.mark.parametrize(
    ("quantity", "expected"), [("0", "0"), ("1", "0.05"), ("3", "0.15"), ("1000000", "50000"), ("2.5", "0.125")]
)
def test_per_unit_prices_fractions_of_a_minor_unit_exactly(quantity: str, expected: str) -> None:
    assert cost(PerUnit(D("0.05")), quantity) == D(expected)


def test_percentage_applies_the_rate_to_the_amount_base_plus_a_fee_per_event() -> None:
    charge = Charge("payments", Percentage(D("2.9"), D(30)))
    result = price(charge, UsageTotals(D(3), event_count=3, amount_sum=D(10_000)))
    assert result.amount == D(290) + D(90)
    assert [line.description for line in result.lines] == ["2.9% of 10000", "3 events at 30 each"]
    assert result.lines[0].unit_price == D("0.029")
    assert_consistent(result)
    assert price(charge, UsageTotals(D(0))).amount == 0


def test_percentage_free_units_come_off_the_amount_base() -> None:
    charge = Charge("payments", Percentage(D(10)), free_units=D(1000))
    assert price(charge, UsageTotals(D(7), event_count=7, amount_sum=D(1500))).amount == D(50)
    assert price(charge, UsageTotals(D(7), event_count=7, amount_sum=D(500))).amount == D(0)


def test_free_units_come_off_the_quantity_first_and_never_below_zero() -> None:
    assert cost(GRADUATED, "110", free="10") == D(50)
    assert cost(GRADUATED, "5", free="10") == D(0)
    result = price(Charge("api_calls", PerUnit(D(2)), free_units=D(10)), UsageTotals(D(15)))
    assert [(line.description, line.amount) for line in result.lines] == [
        ("free units 10", D(0)),
        ("5 units at 2", D(10)),
    ]


def test_the_minimum_is_a_floor_applied_with_or_without_usage() -> None:
    assert cost(PerUnit(D(1)), "0", minimum="1000") == D(1000)
    assert cost(PerUnit(D(1)), "400", minimum="1000") == D(1000)
    assert cost(PerUnit(D(1)), "1500", minimum="1000") == D(1500)
    result = price(Charge("api_calls", PerUnit(D(1)), minimum=D(1000)), UsageTotals(D(400)))
    assert result.lines[-1].description == "minimum adjustment"
    assert result.lines[-1].amount == D(600)


def test_the_amount_is_rounded_once_half_up() -> None:
    result = price(Charge("api_calls", PerUnit(D("0.05"))), UsageTotals(D(10)))
    assert (result.amount, result.amount_minor) == (D("0.5"), 1)
    result = price(Charge("api_calls", PerUnit(D("0.333"))), UsageTotals(D(3)))
    assert (result.amount, result.amount_minor) == (D("0.999"), 1)


def test_pricing_stays_exact_where_the_default_context_would_round() -> None:
    # 30 significant digits times 13: the default 28-digit context would silently round this.
    quantity, unit_price = D("123456789012345678.123456789012"), D("0.000000000013")
    assert cost(PerUnit(unit_price), quantity) == D("1604938.257160493815604938257156")


def invalid(make: object) -> list[str]:
    assert callable(make)
    with pytest.raises(InvalidArgument) as raised:
        make()
    assert raised.value.reason == "invalid_pricing"
    return [v.field for v in raised.value.violations]


def test_models_refuse_bad_values_listing_every_field() -> None:
    assert invalid(lambda: PerUnit(D(-1))) == ["unit_price"]
    assert invalid(lambda: PerUnit(D("NaN"))) == ["unit_price"]
    assert invalid(lambda: PerUnit(D("0.0000000000001"))) == ["unit_price"]
    assert invalid(lambda: Tier(D(0), D(-1), D(-1))) == ["up_to", "unit_price", "flat_fee"]
    assert invalid(lambda: Package(0, D(-1))) == ["size", "price"]
    assert invalid(lambda: Percentage(D("100.01"), D(-1))) == ["rate_percent", "fixed_fee_per_event"]
    assert invalid(lambda: Percentage(D(-1))) == ["rate_percent"]
    assert invalid(lambda: Charge("API calls", PerUnit(D(1)), D(-1), D(-1))) == ["meter_code", "free_units", "minimum"]
    assert Percentage(D(100)).rate_percent == 100 and Percentage(D(0)).rate_percent == 0


def test_tiers_must_increase_strictly_and_end_unbounded() -> None:
    assert invalid(lambda: Graduated(())) == ["tiers"]
    assert invalid(lambda: Graduated((Tier(D(100), D(1)),))) == ["tiers[0].up_to"]
    assert invalid(lambda: Volume((Tier(None, D(1)), Tier(None, D(1))))) == ["tiers[0].up_to"]
    assert invalid(lambda: Volume((Tier(D(100), D(1)), Tier(D(100), D(1)), Tier(None, D(1))))) == ["tiers[1].up_to"]
    assert invalid(lambda: Graduated((Tier(D(100), D(1)), Tier(D(50), D(1)), Tier(None, D(1))))) == ["tiers[1].up_to"]


def test_models_refuse_floats_and_other_types() -> None:
    for make in (
        lambda: PerUnit(0.5),  # type: ignore[arg-type]
        lambda: Tier(100, D(1)),  # type: ignore[arg-type]
        lambda: Package(True, D(1)),
        lambda: Package(D(10), D(1)),  # type: ignore[arg-type]
        lambda: Graduated((object(),)),  # type: ignore[arg-type]
        lambda: Charge("api_calls", object()),  # type: ignore[arg-type]
        lambda: UsageTotals(1.5),  # type: ignore[arg-type]
        lambda: UsageTotals(D(1), event_count=True),
    ):
        with pytest.raises(TypeError):
            make()
    with pytest.raises(ValueError):
        UsageTotals(D(-1))
    with pytest.raises(ValueError):
        UsageTotals(D(1), event_count=-1)


def test_tiers_given_as_a_list_are_frozen_into_a_tuple() -> None:
    model = Graduated([Tier(None, D(1))])  # type: ignore[arg-type]
    assert model.tiers == (Tier(None, D(1)),)
    assert hash(model) == hash(Graduated((Tier(None, D(1)),)))


MODELS: list[PricingModel] = [
    PerUnit(D("0.05")),
    GRADUATED,
    VOLUME,
    Package(100, D(500)),
    Percentage(D("2.9"), D(30)),
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.TYPE)
def test_models_round_trip_through_their_stored_form(model: PricingModel) -> None:
    stored = describe_model(model)
    assert json.loads(json.dumps(stored)) == stored
    assert model_from_dict(stored) == model
    charge = Charge("api_calls", model, D("10.5"), D(100))
    assert charge_from_dict(json.loads(json.dumps(describe_charge(charge)))) == charge


def test_the_stored_form_uses_canonical_decimal_strings() -> None:
    assert describe_model(Graduated((Tier(D("100.00"), D("0.50")), Tier(None, D("1E+1"))))) == {
        "type": "graduated",
        "tiers": [
            {"up_to": "100", "unit_price": "0.5", "flat_fee": "0"},
            {"up_to": None, "unit_price": "10", "flat_fee": "0"},
        ],
    }
    assert describe_charge(Charge("api_calls", Package(10, D(5)))) == {
        "meter_code": "api_calls",
        "model": {"type": "package", "size": 10, "price": "5"},
        "free_units": "0",
        "minimum": "0",
    }


def test_optional_stored_fields_default_to_zero() -> None:
    assert model_from_dict({"type": "percentage", "rate_percent": "1"}) == Percentage(D(1))
    assert model_from_dict({"type": "volume", "tiers": [{"unit_price": "1"}]}) == Volume((Tier(None, D(1)),))
    stored = {"meter_code": "api_calls", "model": {"type": "per_unit", "unit_price": "1"}}
    assert charge_from_dict(stored) == Charge("api_calls", PerUnit(D(1)))


@pytest.mark.parametrize(
    ("stored", "field"),
    [
        ({"type": "flat"}, "type"),
        ({}, "type"),
        ({"type": "per_unit"}, "unit_price"),
        ({"type": "per_unit", "unit_price": 0.5}, "unit_price"),
        ({"type": "per_unit", "unit_price": "-1"}, "unit_price"),
        ({"type": "per_unit", "unit_price": "1", "unit_prize": "2"}, "unit_prize"),
        ({"type": "package", "size": "10", "price": "1"}, "size"),
        ({"type": "package", "size": 0, "price": "1"}, "size"),
        ({"type": "graduated", "tiers": []}, "tiers"),
        ({"type": "graduated", "tiers": [{"up_to": "1", "unit_price": "1"}]}, "tiers[0].up_to"),
        ({"type": "volume", "tiers": ["x"]}, "tiers[0]"),
        ({"type": "volume", "tiers": [{"unit_price": "NaN"}]}, "tiers[0].unit_price"),
        ({"type": "percentage", "rate_percent": "101"}, "rate_percent"),
    ],
)
def test_a_bad_stored_model_is_refused_naming_the_field(stored: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        model_from_dict(stored)
    assert raised.value.violations[0].field == field


def test_a_bad_stored_charge_names_the_field_inside_the_model() -> None:
    stored = {"meter_code": "api_calls", "model": {"type": "volume", "tiers": [{"up_to": "5", "unit_price": "1"}]}}
    with pytest.raises(InvalidArgument) as raised:
        charge_from_dict(stored)
    assert [v.field for v in raised.value.violations] == ["model.tiers[0].up_to"]
    with pytest.raises(InvalidArgument) as raised:
        charge_from_dict({"meter_code": "api_calls", "model": "per_unit"})
    assert [v.field for v in raised.value.violations] == ["model"]


# Properties.

prices = st.decimals(min_value=0, max_value=10_000, places=4)
quantities = st.decimals(min_value=0, max_value=1_000_000, places=3)


@st.composite
def tier_lists(draw: st.DrawFn, max_bounded: int = 4) -> tuple[Tier, ...]:
    bounds = sorted(draw(st.lists(st.decimals(min_value=1, max_value=100_000, places=2), unique=True, max_size=4)))
    bounds = bounds[:max_bounded]
    tiers = [Tier(up_to, draw(prices), draw(prices)) for up_to in bounds]
    return (*tiers, Tier(None, draw(prices), draw(prices)))


graduated = tier_lists().map(Graduated)
volume = tier_lists().map(Volume)
packages = st.builds(Package, st.integers(min_value=1, max_value=1000), prices)
percentages = st.builds(Percentage, st.decimals(min_value=0, max_value=100, places=2), prices)
monotonic_models = st.one_of(prices.map(PerUnit), graduated, packages, percentages)
models = st.one_of(monotonic_models, volume)
usages = st.builds(UsageTotals, quantities, st.integers(min_value=0, max_value=10_000), quantities)


@given(graduated, quantities, quantities)
def test_graduated_totals_never_decrease_as_quantity_grows(model: Graduated, a: Decimal, b: Decimal) -> None:
    low, high = sorted((a, b))
    assert cost(model, low) <= cost(model, high)


@given(prices, prices, quantities)
def test_graduated_and_volume_agree_on_a_single_tier(unit_price: Decimal, fee: Decimal, quantity: Decimal) -> None:
    tiers = (Tier(None, unit_price, fee),)
    assert cost(Graduated(tiers), quantity) == cost(Volume(tiers), quantity)


@given(packages, st.integers(min_value=0, max_value=10_000))
def test_a_package_is_charged_as_soon_as_it_is_started(model: Package, k: int) -> None:
    full = Decimal(k * model.size)
    assert cost(model, full) == k * model.price
    assert cost(model, full + 1) == cost(model, full) + model.price


@given(prices, quantities, quantities)
def test_per_unit_is_linear(unit_price: Decimal, a: Decimal, b: Decimal) -> None:
    model = PerUnit(unit_price)
    assert cost(model, a + b) == cost(model, a) + cost(model, b)
    assert cost(model, a) == a * unit_price


def test_volume_pricing_is_not_monotonic_so_free_units_can_raise_it() -> None:
    # 101 units reach tier 2 and cost less than 100 units: the volume "cliff", kept on purpose.
    model = Volume((Tier(D(100), D(1)), Tier(None, D("0.5"))))
    assert cost(model, "101") < cost(model, "100")
    assert cost(model, "101", free="1") > cost(model, "101")


@given(monotonic_models, usages, quantities)
def test_free_units_never_increase_the_price(model: PricingModel, usage: UsageTotals, free: Decimal) -> None:
    with_free = price(Charge("meter", model, free_units=free), usage)
    without = price(Charge("meter", model), usage)
    assert_consistent(with_free)
    assert with_free.amount <= without.amount


@given(models, usages, prices)
def test_the_minimum_is_a_floor(model: PricingModel, usage: UsageTotals, minimum: Decimal) -> None:
    floored = price(Charge("meter", model, minimum=minimum), usage)
    plain = price(Charge("meter", model), usage)
    assert_consistent(floored)
    assert floored.amount >= minimum
    assert floored.amount == max(plain.amount, minimum)


@given(models, usages)
def test_every_result_is_auditable_and_never_negative(model: PricingModel, usage: UsageTotals) -> None:
    result = price(Charge("meter", model), usage)
    assert_consistent(result)
    assert result.amount >= 0


@given(models, st.integers(min_value=0, max_value=10_000))
def test_no_usage_costs_nothing_but_per_event_fees(model: PricingModel, events: int) -> None:
    result = price(Charge("meter", model), UsageTotals(D(0), events, D(0)))
    assert result.amount == (events * model.fixed_fee_per_event if isinstance(model, Percentage) else 0)


@given(models, quantities, prices)
def test_every_model_round_trips_through_json(model: PricingModel, free: Decimal, minimum: Decimal) -> None:
    charge = Charge("meter", model, free, minimum)
    assert charge_from_dict(json.loads(json.dumps(describe_charge(charge)))) == charge


def _usage_line(model: PricingModel, quantity: str) -> dict[str, object]:
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    created = create_plan("plan-1", "p", "P", "USD", "month", 1, 0, 0, (Charge("api_calls", model),), start)
    plan = Plan.replay([created])
    assert plan is not None
    metered = MeterUsage(Aggregation.SUM, 1, D(quantity), None, None, 0)
    [line] = usage_lines(plan, {"api_calls": metered}, Period(start, end))
    return line_to_dict(line)


@pytest.mark.parametrize(
    ("model", "quantity", "unit_amount", "amount_minor"),
    [
        # A unit amount is shown to 12 places, half-up like everything else; the line's amount is
        # not derived from it: a package of 3 for 1 bills 1, at 1/3 a unit.
        (Package(3, D(1)), "3", "0.333333333333", 1),
        (Graduated((Tier(D(1), D(1)), Tier(None, D(2)))), "3", "1.666666666667", 5),
        # The largest prices still store: Python's default 28 digits could not hold 18 + 12 places.
        (PerUnit(D(10**17)), "1", "100000000000000000", 10**17),
        (Package(3, D(10**17)), "3", "33333333333333333.333333333333", 10**17),
    ],
)
def test_a_stored_line_keeps_its_unit_amount_to_12_places_whatever_its_size(
    model: PricingModel, quantity: str, unit_amount: str, amount_minor: int
) -> None:
    stored = _usage_line(model, quantity)
    assert (stored["unit_amount"], stored["amount_minor"]) == (unit_amount, amount_minor)
