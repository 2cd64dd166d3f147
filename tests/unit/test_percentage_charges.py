"""Percentage charges priced transaction by transaction, Lago's rule (docs/billing-rules/percentage-charges.md)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_grpc.domain.errors import InvalidArgument
from billing_grpc.domain.pricing import (
    Charge,
    ChargeResult,
    Percentage,
    UsageTotals,
    charge_from_dict,
    describe_charge,
    model_from_dict,
    price,
)
from tests.unit.test_pricing import assert_consistent


def D(text: str | int) -> Decimal:
    return Decimal(text)


def priced(model: Percentage, *amounts: str | int, minimum: str = "0") -> ChargeResult:
    values = tuple(D(a) for a in amounts)
    usage = UsageTotals(sum(values, D(0)), len(values), sum(values, D(0)), values)
    result = price(Charge("payments", model, minimum=D(minimum)), usage)
    assert_consistent(result)
    return result


def lines(result: ChargeResult) -> list[tuple[str, str]]:
    return [(line.description, str(line.amount)) for line in result.lines]


# Lago's own figures (spec/services/charges/charge_models/percentage_service_spec.rb, "when
# applying min / max amount per transaction"): rate 1%, events 100, 1,000 and 10,000, minimum 1.75,
# maximum 12 per transaction.
LAGO_EVENTS = ("100", "1000", "10000")


def lago(**terms: object) -> Percentage:
    fields: dict[str, object] = {"per_transaction_min": D("1.75"), "per_transaction_max": D(12)}
    fields.update(terms)
    return Percentage(D(1), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # 1.75 (the minimum, as 100 * 1% < 1.75) + 10 + 12 (the maximum, as 10,000 * 1% > 12)
        (lago(), "23.75"),
        # a fixed fee of 1: 2 + 11 + 12
        (lago(fixed_fee_per_event=D(1)), "25"),
        # two free transactions: the minimum and maximum apply only to paying ones: 12
        (lago(free_transactions=2), "12"),
        # a free amount of 300: (100 + 1,000 - 300) * 1% + 12
        (lago(free_amount=D(300)), "20"),
        # 3 free transactions and a free amount of 10,000: (100 + 1,000 + 10,000 - 10,000) * 1%
        (lago(free_transactions=3, free_amount=D(10_000)), "11"),
    ],
)
def test_lagos_own_figures(model: Percentage, expected: str) -> None:
    assert priced(model, *LAGO_EVENTS).amount == D(expected)


# The worked example of docs/billing-rules/README.md: 2% + 10 cents per transaction, 3 free transactions, a free amount
# of 100.00, a minimum of 0.50 and a maximum of 5.00 per transaction (amounts in cents).
EXAMPLE = Percentage(
    D(2),
    D(10),
    free_transactions=3,
    free_amount=D(10_000),
    per_transaction_min=D(50),
    per_transaction_max=D(500),
)


def test_the_worked_example_before_the_late_event_runs_out_of_free_transactions_first() -> None:
    result = priced(EXAMPLE, 3000, 2000, 1000, 1500, 40000)
    assert lines(result) == [
        ("free: 3 transactions (free amount 6000)", "0"),
        ("2% of 41500 (2 transactions)", "830.00"),
        ("2 transactions at 10 each", "20"),
        ("1 transaction raised to the minimum 50", "10.00"),
        ("1 transaction capped at the maximum 500", "-310.00"),
    ]
    assert result.amount_minor == 550


def test_the_worked_example_with_the_late_event_first_runs_out_of_free_amount_inside_a_transaction() -> None:
    # The late 90.00 has the earliest timestamp: it is free, and the free amount runs out 10.00
    # into the next transaction, which pays the rate on its other 20.00 and the whole fixed fee.
    result = priced(EXAMPLE, 9000, 3000, 2000, 1000, 1500, 40000)
    assert lines(result) == [
        ("free: 1 transaction and 1000 of the next (free amount 10000)", "0"),
        ("2% of 46500 (5 transactions)", "930.00"),
        ("5 transactions at 10 each", "50"),
        ("2 transactions raised to the minimum 50", "30.00"),
        ("1 transaction capped at the maximum 500", "-310.00"),
    ]
    assert result.amount_minor == 700
    # In arrival order (the late event last) it would have cost 7.40: the order is the rule.
    assert priced(EXAMPLE, 3000, 2000, 1000, 1500, 40000, 9000).amount_minor == 740


def test_a_transaction_that_uses_the_free_amount_up_exactly_pays_the_fixed_fee_and_the_minimum() -> None:
    # Lago's test is "remaining free amount > value": 50 of 100 left, a 50 event is not wholly free.
    model = Percentage(D(10), D(1), free_amount=D(100), per_transaction_min=D(3))
    result = priced(model, 50, 50, 10)
    assert lines(result) == [
        ("free: 1 transaction and 50 of the next (free amount 100)", "0"),
        ("10% of 10 (2 transactions)", "1.0"),
        ("2 transactions at 1 each", "2"),
        ("2 transactions raised to the minimum 3", "3.0"),
    ]
    assert result.amount == 6


def test_free_transactions_are_wholly_free_even_above_the_minimum() -> None:
    model = Percentage(D(10), D(5), free_transactions=2, per_transaction_min=D(20))
    assert priced(model, 1000, 1000, 1000).amount == 105  # only the third: 100 + 5
    assert priced(model, 1000, 1000).amount == 0


def test_without_free_terms_the_fixed_fee_applies_to_every_transaction_before_the_bounds() -> None:
    # The bounds apply to rate + fixed fee together (Lago's apply_min_max on event_amount).
    model = Percentage(D(1), D(30), per_transaction_max=D(40))
    assert priced(model, 500, 5000).amount == D(35) + D(40)


def test_the_free_amount_stops_when_the_free_transactions_are_used_up_first() -> None:
    model = Percentage(D(10), D(0), free_transactions=2, free_amount=D(1000))
    assert priced(model, 10, 10, 10).amount == 1  # the third is paid although 980 of free amount remain


def test_a_first_transaction_larger_than_the_free_amount_straddles_it() -> None:
    model = Percentage(D(10), D(2), free_transactions=3, free_amount=D(100))
    assert lines(priced(model, 200, 10)) == [
        ("free: 0 transactions and 100 of the next (free amount 100)", "0"),
        ("10% of 110 (2 transactions)", "11.0"),
        ("2 transactions at 2 each", "4"),
    ]


def test_no_transactions_cost_nothing_but_the_charge_minimum() -> None:
    assert priced(EXAMPLE).lines == ()
    assert priced(EXAMPLE, minimum="100").amount == 100


def test_a_per_transaction_charge_needs_its_transactions() -> None:
    with pytest.raises(ValueError, match="needs the period's transactions"):
        price(Charge("payments", EXAMPLE), UsageTotals(D(10), 1, D(10)))
    with pytest.raises(ValueError, match="2 transactions for 1 events"):
        UsageTotals(D(2), 1, D(2), (D(1), D(1)))
    with pytest.raises(ValueError, match="non-negative"):
        UsageTotals(D(0), 1, D(0), (D(-1),))


def invalid(make: object) -> list[str]:
    with pytest.raises(InvalidArgument) as caught:
        make()  # type: ignore[operator]
    assert caught.value.reason == "invalid_pricing"
    return [violation.field for violation in caught.value.violations]


def test_bad_terms_are_refused_naming_each_field() -> None:
    assert invalid(lambda: Percentage(D(1), free_transactions=-1)) == ["free_transactions"]
    assert invalid(lambda: Percentage(D(1), free_amount=D(-1))) == ["free_amount"]
    assert sorted(invalid(lambda: Percentage(D(1), per_transaction_min=D(-1), per_transaction_max=D(-2)))) == [
        "per_transaction_max",
        "per_transaction_max",
        "per_transaction_min",
    ]
    assert invalid(lambda: Percentage(D(1), per_transaction_min=D(5), per_transaction_max=D(4))) == [
        "per_transaction_max"
    ]
    assert Percentage(D(1), per_transaction_min=D(5), per_transaction_max=D(5)).per_transaction
    assert invalid(lambda: Charge("payments", Percentage(D(1), free_amount=D(1)), free_units=D(1))) == ["free_units"]
    with pytest.raises(TypeError):
        Percentage(D(1), free_transactions=True)


def test_old_stored_percentages_read_back_as_todays_behaviour_and_new_terms_round_trip() -> None:
    old = model_from_dict({"type": "percentage", "rate_percent": "2.9", "fixed_fee_per_event": "30"})
    assert old == Percentage(D("2.9"), D(30)) and not old.per_transaction
    charge = Charge("payments", EXAMPLE)
    stored = describe_charge(charge)
    assert stored["model"] == {
        "type": "percentage",
        "rate_percent": "2",
        "fixed_fee_per_event": "10",
        "free_transactions": 3,
        "free_amount": "10000",
        "per_transaction_min": "50",
        "per_transaction_max": "500",
    }
    assert charge_from_dict(json.loads(json.dumps(stored))) == charge
    assert describe_charge(Charge("p", Percentage(D(1))))["model"] == {
        "type": "percentage",
        "rate_percent": "1",
        "fixed_fee_per_event": "0",
    }
    with pytest.raises(InvalidArgument) as caught:
        model_from_dict({"type": "percentage", "rate_percent": "1", "free_transactions": "3"})
    assert caught.value.violations[0].field == "free_transactions"


# -- properties ---------------------------------------------------------------------------------

money = st.decimals(min_value=0, max_value=100_000, places=2)
rates = st.decimals(min_value=0, max_value=100, places=3)
amount_lists = st.lists(money, max_size=30)


@st.composite
def terms(draw: st.DrawFn) -> Percentage:
    low = draw(st.none() | money)
    high = draw(st.none() | money)
    if low is not None and high is not None and high < low:
        low, high = high, low
    return Percentage(
        draw(rates),
        draw(money),
        draw(st.integers(min_value=0, max_value=10)),
        draw(money),
        low,
        high,
    )


@given(terms(), amount_lists)
def test_every_per_transaction_result_is_auditable_and_never_negative(
    model: Percentage, amounts: list[Decimal]
) -> None:
    result = priced(model, *amounts)
    assert result.amount >= 0


@given(rates, money, amount_lists)
def test_per_transaction_pricing_agrees_with_the_totals_when_nothing_is_free_or_bounded(
    rate: Decimal, fee: Decimal, amounts: list[Decimal]
) -> None:
    # A minimum of 0 never binds on non-negative amounts: the same charge, priced both ways.
    per_transaction = priced(Percentage(rate, fee, per_transaction_min=D(0)), *amounts)
    total = sum(amounts, D(0))
    on_totals = price(Charge("payments", Percentage(rate, fee)), UsageTotals(total, len(amounts), total))
    assert per_transaction.amount == on_totals.amount


@given(terms(), amount_lists)
def test_each_paid_transaction_costs_between_the_minimum_and_the_maximum(
    model: Percentage, amounts: list[Decimal]
) -> None:
    result = priced(model, *amounts)
    paid = max(len(amounts) - model.free_transactions, 0) if not model.free_amount else None
    if paid is not None and model.per_transaction_min is not None:
        assert result.amount >= paid * model.per_transaction_min
    if model.per_transaction_max is not None:
        assert result.amount <= len(amounts) * model.per_transaction_max


@given(terms(), amount_lists, st.integers(min_value=0, max_value=5), money)
def test_more_free_allowance_never_costs_more(
    model: Percentage, amounts: list[Decimal], more_transactions: int, more_amount: Decimal
) -> None:
    # Zero means "no such limit", so only an allowance that is set can grow (Lago's reading).
    grown = Percentage(
        model.rate_percent,
        model.fixed_fee_per_event,
        model.free_transactions + more_transactions if model.free_transactions else 0,
        model.free_amount + more_amount if model.free_amount else D(0),
        model.per_transaction_min,
        model.per_transaction_max,
    )
    assert priced(grown, *amounts).amount <= priced(model, *amounts).amount


@given(terms(), amount_lists, money)
def test_a_transaction_added_after_the_others_never_lowers_the_price(
    model: Percentage, amounts: list[Decimal], late: Decimal
) -> None:
    assert priced(model, *amounts, late).amount >= priced(model, *amounts).amount
