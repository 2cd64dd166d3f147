"""Plans: validation of every field, immutability but for archiving, and a lossless stored form."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_grpc.domain.currencies import minor_units
from billing_grpc.domain.errors import InvalidArgument
from billing_grpc.domain.events import decode_event
from billing_grpc.domain.money import Money
from billing_grpc.domain.periods import Interval, IntervalUnit
from billing_grpc.domain.plan import Plan, PlanArchived, PlanCreated, create_plan, stream_of
from billing_grpc.domain.pricing import (
    Charge,
    Graduated,
    Package,
    Percentage,
    PerUnit,
    Tier,
    Volume,
    charge_from_dict,
)

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
D = Decimal

CHARGES = (
    Charge("api_calls", PerUnit(D("0.05")), free_units=D(1000)),
    Charge("storage_gb", Graduated((Tier(D(100), D(2), D(500)), Tier(None, D("1.5")))), minimum=D(1000)),
    Charge("seats", Volume((Tier(D(10), D(900)), Tier(None, D(700))))),
    Charge("messages", Package(1000, D(250))),
    Charge("payments", Percentage(D("2.9"), D(30))),
)

VALID: dict[str, Any] = {
    "plan_id": "plan-1",
    "code": "pro_monthly",
    "name": "Pro (monthly)",
    "currency": "USD",
    "interval_unit": "month",
    "interval_count": 1,
    "base_fee_minor": 4900,
    "trial_days": 14,
    "charges": CHARGES,
}


def make(**changes: Any) -> PlanCreated:
    return create_plan(**{**VALID, **changes}, now=NOW)


def per_unit(meter_code: str) -> Charge:
    return Charge(meter_code, PerUnit(D(1)))


def test_a_valid_plan_is_created_and_replays_to_its_terms() -> None:
    plan = Plan.replay([make()])

    assert plan == Plan(
        plan_id="plan-1",
        code="pro_monthly",
        name="Pro (monthly)",
        currency="USD",
        interval=Interval.monthly(),
        base_fee=Money(4900, "USD"),
        trial_days=14,
        charges=CHARGES,
        archived=False,
    )
    assert plan.meter_codes == {"api_calls", "storage_gb", "seats", "messages", "payments"}
    assert plan.charge_for("seats") == CHARGES[2]
    assert plan.charge_for("unknown") is None
    assert stream_of("plan-1") == "plan-plan-1"


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"code": ""}, ["code"]),
        ({"code": "Pro Monthly"}, ["code"]),
        ({"name": ""}, ["name"]),
        ({"name": "x" * 201}, ["name"]),
        ({"currency": "XXX"}, ["currency"]),
        ({"currency": "usd"}, ["currency"]),
        ({"currency": "DEM"}, ["currency"]),
        ({"currency": "XAU"}, ["currency"]),
        ({"currency": ""}, ["currency"]),
        ({"interval_unit": "week"}, ["interval_unit"]),
        ({"interval_unit": ""}, ["interval_unit"]),
        ({"interval_count": 0}, ["interval_count"]),
        ({"interval_count": 37}, ["interval_count"]),
        ({"interval_unit": "year", "interval_count": 11}, ["interval_count"]),
        ({"interval_unit": "week", "interval_count": 0}, ["interval_unit", "interval_count"]),
        ({"interval_count": True}, ["interval_count"]),
        ({"base_fee_minor": -1}, ["base_fee_minor"]),
        ({"base_fee_minor": 10**15 + 1}, ["base_fee_minor"]),
        ({"trial_days": -1}, ["trial_days"]),
        ({"trial_days": 731}, ["trial_days"]),
        ({"charges": [per_unit("a"), per_unit("b"), per_unit("a")]}, ["charges[2].meter_code"]),
        ({"charges": [per_unit(f"m{i}") for i in range(51)]}, ["charges"]),
        (
            {"code": "", "name": "", "currency": "XXX", "base_fee_minor": -1, "trial_days": -1},
            ["code", "name", "currency", "base_fee_minor", "trial_days"],
        ),
    ],
)
def test_every_violation_is_reported_with_its_field_path(changes: dict[str, Any], fields: list[str]) -> None:
    with pytest.raises(InvalidArgument) as error:
        make(**changes)

    assert [violation.field for violation in error.value.violations] == fields


@pytest.mark.parametrize(
    ("changes", "interval"),
    [
        ({"interval_count": 36}, Interval.monthly(36)),
        ({"interval_unit": "year", "interval_count": 10}, Interval.yearly(10)),
        ({"interval_unit": "year"}, Interval.yearly()),
    ],
)
def test_interval_bounds_are_those_of_periods(changes: dict[str, Any], interval: Interval) -> None:
    plan = Plan.replay([make(**changes)])

    assert plan is not None and plan.interval == interval


def test_the_boundaries_of_the_amounts_are_accepted() -> None:
    made = [make(base_fee_minor=0, trial_days=0, charges=()), make(base_fee_minor=10**15, trial_days=730)]

    assert [(e.base_fee_minor, e.trial_days) for e in made] == [(0, 0), (10**15, 730)]
    assert make(charges=[per_unit(f"m{i}") for i in range(50)]).charges[49]["meter_code"] == "m49"


def test_archiving_is_idempotent_and_changes_nothing_else() -> None:
    created = make()
    plan = Plan.replay([created])
    assert plan is not None

    events = plan.archive(NOW)
    archived = Plan.replay([created, *events])

    assert events == [PlanArchived(plan_id="plan-1", archived_at=NOW)]
    assert archived is not None and archived.archived
    assert archived.archive(NOW + timedelta(days=1)) == []
    assert Plan.replay([created, *events, *events]) == archived
    assert archived == replace(plan, archived=True)


def test_events_before_creation_are_ignored() -> None:
    assert Plan.replay([PlanArchived(plan_id="plan-1", archived_at=NOW)]) is None


def test_every_plan_event_round_trips_through_its_payload() -> None:
    for event in (make(), PlanArchived(plan_id="plan-1", archived_at=NOW)):
        assert decode_event(event.TYPE, event.payload()) == event


def test_stored_charges_rebuild_to_equal_charges() -> None:
    decoded = decode_event(PlanCreated.TYPE, make().payload())

    assert isinstance(decoded, PlanCreated)
    assert tuple(charge_from_dict(charge) for charge in decoded.charges) == CHARGES


prices = st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False)
meter_codes = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,20}", fullmatch=True)
charges = st.builds(
    Charge,
    meter_code=meter_codes,
    model=st.one_of(
        st.builds(PerUnit, prices),
        st.builds(Package, st.integers(1, 10**6), prices),
        st.builds(Percentage, st.decimals(min_value=0, max_value=100, places=2), prices),
    ),
    free_units=prices,
    minimum=prices,
)


@given(
    st.lists(charges, max_size=8, unique_by=lambda charge: charge.meter_code),
    st.sampled_from(list(IntervalUnit)),
    st.integers(1, 10),
    st.integers(0, 10**15),
    st.sampled_from(sorted(minor_units())),
)
def test_a_plan_replayed_from_stored_payloads_equals_its_terms(
    charges: Sequence[Charge], unit: IntervalUnit, count: int, base_fee: int, currency: str
) -> None:
    created = make(
        charges=charges, interval_unit=unit.value, interval_count=count, base_fee_minor=base_fee, currency=currency
    )
    stored = [decode_event(e.TYPE, e.payload()) for e in (created, PlanArchived(plan_id="plan-1", archived_at=NOW))]

    plan = Plan.replay(stored)

    assert plan is not None
    assert plan.charges == tuple(charges)
    assert plan.interval == Interval(unit, count)
    assert plan.base_fee == Money(base_fee, currency)
    assert plan.archived
