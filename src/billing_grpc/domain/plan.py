"""Plans: what a subscription costs, a base fee per billing interval plus metered charges.

A plan NEVER changes after creation, except that it may be archived (no new subscriptions). A new
price is a new plan: subscriptions and invoices name the plan they bill by, so every invoice can
be recomputed from exactly the terms it was issued under, and no price change reaches a customer
behind their back. Moving subscribers to new terms is a plan change on each subscription.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from pydantic import Field

from billing_grpc.domain.errors import FieldViolation, InvalidArgument
from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.feature import FeatureValue
from billing_grpc.domain.money import Money, is_currency
from billing_grpc.domain.periods import Interval, IntervalUnit
from billing_grpc.domain.plan_terms import BaseFeeTiming, ProrationUnit
from billing_grpc.domain.pricing import Charge, charge_from_dict, describe_charge
from billing_grpc.domain.validation import Violations

MAX_BASE_FEE_MINOR = 10**15
MAX_TRIAL_DAYS = 730
MAX_CHARGES = 50


class PlanCreated(DomainEvent):
    """A plan exists; `charges` hold each charge's stored form (`pricing.describe_charge`).

    `features` hold each feature value's stored form (`FeatureValue.to_dict`); plans created
    before features existed have none, which the default reads back as "grants nothing". Plans
    created before the fee timing and proration unit existed read back as in advance, by second.
    """

    TYPE: ClassVar[str] = "plan.created"

    plan_id: str
    code: str
    name: str
    currency: str
    interval_unit: IntervalUnit
    interval_count: int
    base_fee_minor: int
    trial_days: int
    charges: list[dict[str, Any]]
    created_at: datetime
    features: list[dict[str, Any]] = Field(default_factory=list)
    base_fee_timing: BaseFeeTiming = BaseFeeTiming.ADVANCE
    proration_unit: ProrationUnit = ProrationUnit.SECOND


class PlanArchived(DomainEvent):
    """A plan takes no new subscriptions; existing ones keep billing by it."""

    TYPE: ClassVar[str] = "plan.archived"

    plan_id: str
    archived_at: datetime


@dataclass(frozen=True)
class Plan:
    """The state of one plan, folded from its stream."""

    plan_id: str
    code: str
    name: str
    currency: str
    interval: Interval
    base_fee: Money
    trial_days: int
    charges: tuple[Charge, ...]
    archived: bool
    features: tuple[FeatureValue, ...] = ()
    base_fee_timing: BaseFeeTiming = BaseFeeTiming.ADVANCE
    proration_unit: ProrationUnit = ProrationUnit.SECOND

    @classmethod
    def replay(cls, events: Iterable[DomainEvent]) -> Plan | None:
        """Fold the stream's events; None if the plan was never created."""
        state: Plan | None = None
        for event in events:
            state = evolve(state, event)
        return state

    @property
    def in_arrears(self) -> bool:
        """Whether the base fee is invoiced at the end of the time it pays for."""
        return self.base_fee_timing is BaseFeeTiming.ARREARS

    @property
    def meter_codes(self) -> frozenset[str]:
        """The meters this plan charges for."""
        return frozenset(charge.meter_code for charge in self.charges)

    def charge_for(self, meter_code: str) -> Charge | None:
        """The plan's charge for a meter, or None if the plan does not charge for it."""
        return next((charge for charge in self.charges if charge.meter_code == meter_code), None)

    def archive(self, now: datetime) -> list[DomainEvent]:
        """Decide archiving the plan (idempotent)."""
        return [] if self.archived else [PlanArchived(plan_id=self.plan_id, archived_at=now)]


def evolve(state: Plan | None, event: DomainEvent) -> Plan | None:
    """The plan after one more event."""
    if isinstance(event, PlanCreated):
        return Plan(
            plan_id=event.plan_id,
            code=event.code,
            name=event.name,
            currency=event.currency,
            interval=Interval(event.interval_unit, event.interval_count),
            base_fee=Money(event.base_fee_minor, event.currency),
            trial_days=event.trial_days,
            charges=tuple(charge_from_dict(charge) for charge in event.charges),
            archived=False,
            features=tuple(FeatureValue.from_dict(value) for value in event.features),
            base_fee_timing=event.base_fee_timing,
            proration_unit=event.proration_unit,
        )
    if state is None:
        return None
    if isinstance(event, PlanArchived):
        return replace(state, archived=True)
    return state


def stream_of(plan_id: str) -> str:
    """The stream that holds a plan's events."""
    return f"plan-{plan_id}"


def create_plan(
    plan_id: str,
    code: str,
    name: str,
    currency: str,
    interval_unit: str,
    interval_count: int,
    base_fee_minor: int,
    trial_days: int,
    charges: Sequence[Charge],
    now: datetime,
    features: Sequence[FeatureValue] = (),
    base_fee_timing: str = "",
    proration_unit: str = "",
) -> PlanCreated:
    """Decide the creation of a plan; refuses bad input, listing every violation.

    An empty `base_fee_timing` or `proration_unit` takes the default (in advance, by second).
    """
    violations = Violations()
    violations.code(code, "code")
    violations.text(name, "name")
    violations.check(is_currency(currency), "currency", f"unknown ISO 4217 currency {currency!r}")
    unit = _unit(interval_unit, violations)
    if _is_int(interval_count, "interval_count", violations):
        if unit is not None:
            _check_interval(unit, interval_count, violations)
        else:  # the upper bound depends on the unit; without one, only the lower bound is known
            violations.check(interval_count >= 1, "interval_count", "must be at least 1")
    _in_range(base_fee_minor, 0, MAX_BASE_FEE_MINOR, "base_fee_minor", violations)
    _in_range(trial_days, 0, MAX_TRIAL_DAYS, "trial_days", violations)
    timing = _choice(BaseFeeTiming, base_fee_timing, BaseFeeTiming.ADVANCE, "base_fee_timing", violations)
    unit_of_proration = _choice(ProrationUnit, proration_unit, ProrationUnit.SECOND, "proration_unit", violations)
    violations.check(len(charges) <= MAX_CHARGES, "charges", f"at most {MAX_CHARGES} charges")
    first_index: dict[str, int] = {}
    for index, charge in enumerate(charges):
        seen = first_index.setdefault(charge.meter_code, index)
        violations.check(
            seen == index,
            f"charges[{index}].meter_code",
            f"meter {charge.meter_code!r} is already charged by charges[{seen}]",
        )
    violations.raise_if_any()
    return PlanCreated(
        plan_id=plan_id,
        code=code,
        name=name,
        currency=currency,
        interval_unit=IntervalUnit(interval_unit),
        interval_count=interval_count,
        base_fee_minor=base_fee_minor,
        trial_days=trial_days,
        charges=[describe_charge(charge) for charge in charges],
        created_at=now,
        features=[value.to_dict() for value in features],
        base_fee_timing=timing,
        proration_unit=unit_of_proration,
    )


_E = TypeVar("_E", BaseFeeTiming, ProrationUnit)


def _choice(kind: type[_E], text: str, default: _E, field_path: str, violations: Violations) -> _E:
    if not text:
        return default
    try:
        return kind(text)
    except ValueError:
        violations.check(False, field_path, f"must be one of {', '.join(kind)}")
        return default


def _unit(interval_unit: str, violations: Violations) -> IntervalUnit | None:
    try:
        return IntervalUnit(interval_unit)
    except ValueError:
        violations.check(False, "interval_unit", f"must be one of {', '.join(IntervalUnit)}")
        return None


def _check_interval(unit: IntervalUnit, count: int, violations: Violations) -> None:
    # periods.Interval owns the rule; only the field path is this request's.
    try:
        Interval(unit, count)
    except InvalidArgument as error:
        violations.found.extend(FieldViolation("interval_count", v.description) for v in error.violations)


def _is_int(value: object, field_path: str, violations: Violations) -> bool:
    # bool is an int subclass: True months is a bug, not a count.
    return violations.check(isinstance(value, int) and not isinstance(value, bool), field_path, "must be an integer")


def _in_range(value: int, low: int, high: int, field_path: str, violations: Violations) -> None:
    if _is_int(value, field_path, violations):
        violations.check(low <= value <= high, field_path, f"must be between {low} and {high}")
