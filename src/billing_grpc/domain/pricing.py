"""What a metered charge costs for one period's usage: exact, with a breakdown an auditor can recompute.

Prices are in MINOR units of the plan's currency, as Decimal, and may be fractions of a minor
unit (0.05 cents per API call). Everything here is exact Decimal arithmetic: an operation that
would round raises instead. The only rounding is `money.round_minor`, applied once per invoice
line: a charge is one line, and `ChargeResult.amount_minor` is that rounding.

Semantics (Stripe's for tiers and packages, Lago's for free units and minimums):
- graduated: each unit is priced by the tier it falls in; a tier's flat fee is charged once as soon
  as any unit falls in it. Tier bounds (`up_to`) are inclusive: unit 100 of "up to 100" is tier 1.
- volume: the tier the total quantity reaches prices every unit, plus that tier's flat fee. Unlike
  the other models it is not monotonic (reaching a cheaper tier can lower the total), so free
  units can raise a volume charge; that is the model's nature, not something to correct.
- package: every started package is charged in full; no usage costs nothing.
- percentage: a percent of the summed amount property of the events, plus a fee per event. With
  free transactions, a free amount or a minimum/maximum per transaction it is priced event by
  event in time order, Lago's rule (`domain.percentage`, docs/billing-rules/percentage-charges.md).
- free units come off the aggregated quantity (or, for percentage, off the amount base) first.
- a charge's minimum is a floor on its total in every period, with or without usage: a minimum is
  a commitment, as in Stripe and Lago. The difference is its own "minimum adjustment" line.
Zero quantity produces no usage lines. Every line satisfies amount == quantity * unit_price +
flat_fee exactly, and the lines sum exactly to the charge's amount.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow, localcontext
from functools import partial
from typing import ClassVar, TypeAlias, TypeVar

from billing_grpc.domain.errors import FieldViolation, InvalidArgument
from billing_grpc.domain.money import decimal_problem, format_decimal, parse_decimal, round_minor
from billing_grpc.domain.percentage import TransactionPricing, TransactionTerms, price_transactions

ZERO = Decimal(0)
_HUNDRED = Decimal(100)
_T = TypeVar("_T")
# Inputs are bounded (money.decimal_problem), so products need well under 100 digits. Trapping
# Inexact turns any rounding we did not foresee into an error rather than a wrong bill.
_EXACT = Context(prec=200, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
# The same shape as every other machine code in the API (see domain.validation).
_METER_CODE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


def _invalid(*violations: FieldViolation) -> InvalidArgument:
    return InvalidArgument.of(*violations, reason="invalid_pricing")


def _validate(owner: object, *names: str, extra: tuple[FieldViolation | None, ...] = ()) -> None:
    """Refuse wrong types (TypeError) and bad amounts (InvalidArgument listing every bad field)."""
    found = [violation for violation in extra if violation is not None]
    for name in names:
        value = getattr(owner, name)
        if not isinstance(value, Decimal):
            raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
        problem = decimal_problem(value) or ("must not be negative" if value < 0 else None)
        if problem is not None:
            found.append(FieldViolation(name, problem))
    if found:
        raise _invalid(*found)


_text = format_decimal


def _line(description: str, quantity: Decimal, unit_price: Decimal, flat_fee: Decimal = ZERO) -> PriceLine:
    return PriceLine(description, quantity, unit_price, flat_fee, quantity * unit_price + flat_fee)


def _with_fee(description: str, flat_fee: Decimal) -> str:
    return f"{description} + flat fee {_text(flat_fee)}" if flat_fee else description


@dataclass(frozen=True)
class Tier:
    """One tier: units up to and including `up_to` (None: unbounded) at `unit_price`, plus `flat_fee`."""

    up_to: Decimal | None
    unit_price: Decimal
    flat_fee: Decimal = ZERO

    def __post_init__(self) -> None:
        bounded = ("up_to",) if self.up_to is not None else ()
        zero = FieldViolation("up_to", "must be positive") if self.up_to == 0 else None
        _validate(self, *bounded, "unit_price", "flat_fee", extra=(zero,))


@dataclass(frozen=True)
class PerUnit:
    """Every unit at the same price."""

    TYPE: ClassVar[str] = "per_unit"
    unit_price: Decimal

    def __post_init__(self) -> None:
        _validate(self, "unit_price")

    def _lines(self, quantity: Decimal, event_count: int) -> list[PriceLine]:
        if not quantity:
            return []
        return [_line(f"{_text(quantity)} units at {_text(self.unit_price)}", quantity, self.unit_price)]


@dataclass(frozen=True)
class _Tiered:
    tiers: tuple[Tier, ...]

    def __post_init__(self) -> None:
        if isinstance(self.tiers, list):  # a list would make the model unhashable
            object.__setattr__(self, "tiers", tuple(self.tiers))
        if not isinstance(self.tiers, tuple) or not all(isinstance(tier, Tier) for tier in self.tiers):
            raise TypeError("tiers must be a tuple of Tier")
        found = [] if self.tiers else [FieldViolation("tiers", "at least one tier is required")]
        previous = ZERO
        for index, tier in enumerate(self.tiers):
            field, last = f"tiers[{index}].up_to", index == len(self.tiers) - 1
            if tier.up_to is None:
                if not last:
                    found.append(FieldViolation(field, "only the last tier may be unbounded"))
                continue
            if last:
                found.append(FieldViolation(field, "the last tier must be unbounded (no up_to)"))
            if tier.up_to <= previous:
                found.append(FieldViolation(field, "must be greater than the previous tier's up_to"))
            previous = tier.up_to
        if found:
            raise _invalid(*found)


@dataclass(frozen=True)
class Graduated(_Tiered):
    """Each unit priced by the tier it falls in; each reached tier's flat fee once."""

    TYPE: ClassVar[str] = "graduated"

    def _lines(self, quantity: Decimal, event_count: int) -> list[PriceLine]:
        lines: list[PriceLine] = []
        lower = ZERO
        for number, tier in enumerate(self.tiers, start=1):
            if quantity <= lower:
                break
            upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
            # Whole units read as "units 101-150"; fractional bounds need the half-open wording.
            if lower == lower.to_integral_value() and upper == upper.to_integral_value():
                units = f"units {_text(lower + 1)}-{_text(upper)}"
            else:
                units = f"units over {_text(lower)} up to {_text(upper)}"
            text = _with_fee(f"tier {number}: {units} at {_text(tier.unit_price)}", tier.flat_fee)
            lines.append(_line(text, upper - lower, tier.unit_price, tier.flat_fee))
            lower = upper
        return lines


@dataclass(frozen=True)
class Volume(_Tiered):
    """Every unit priced by the tier the total quantity reaches, plus that tier's flat fee."""

    TYPE: ClassVar[str] = "volume"

    def _lines(self, quantity: Decimal, event_count: int) -> list[PriceLine]:
        if not quantity:
            return []
        number, tier = next((n, t) for n, t in enumerate(self.tiers, 1) if t.up_to is None or quantity <= t.up_to)
        text = _with_fee(f"tier {number}: all {_text(quantity)} units at {_text(tier.unit_price)}", tier.flat_fee)
        return [_line(text, quantity, tier.unit_price, tier.flat_fee)]


@dataclass(frozen=True)
class Package:
    """`price` per started package of `size` units."""

    TYPE: ClassVar[str] = "package"
    size: int
    price: Decimal

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise TypeError(f"size must be an int, not {type(self.size).__name__}")
        too_big = not 1 <= self.size <= 10**18
        _validate(self, "price", extra=(FieldViolation("size", "must be between 1 and 10^18") if too_big else None,))

    def _lines(self, quantity: Decimal, event_count: int) -> list[PriceLine]:
        if not quantity:
            return []
        whole, rest = divmod(quantity, Decimal(self.size))  # exact, unlike ceil(quantity / size)
        packages = whole + 1 if rest else whole
        text = f"{_text(packages)} packages of {self.size} started ({_text(quantity)} units) at {_text(self.price)}"
        return [_line(text, packages, self.price)]


@dataclass(frozen=True)
class Percentage:
    """`rate_percent` percent of the events' summed amount, plus a fixed fee per event.

    Free transactions, a free amount and a minimum/maximum per transaction (Lago's percentage
    model) make it priced transaction by transaction; without them (the defaults) it is priced
    on the period's totals, as before they existed, and the two agree when they apply alike.
    """

    TYPE: ClassVar[str] = "percentage"
    rate_percent: Decimal
    fixed_fee_per_event: Decimal = ZERO
    free_transactions: int = 0
    free_amount: Decimal = ZERO
    per_transaction_min: Decimal | None = None
    per_transaction_max: Decimal | None = None

    def __post_init__(self) -> None:
        rate = self.rate_percent
        over = isinstance(rate, Decimal) and decimal_problem(rate) is None and rate > _HUNDRED
        count = self.free_transactions
        if isinstance(count, bool) or not isinstance(count, int):
            raise TypeError(f"free_transactions must be an int, not {type(count).__name__}")
        bounds = tuple(
            name for name in ("per_transaction_min", "per_transaction_max") if getattr(self, name) is not None
        )
        low, high = self.per_transaction_min, self.per_transaction_max
        comparable = isinstance(low, Decimal) and isinstance(high, Decimal) and low.is_finite() and high.is_finite()
        inverted = comparable and high is not None and low is not None and high < low
        _validate(
            self,
            "rate_percent",
            "fixed_fee_per_event",
            "free_amount",
            *bounds,
            extra=(
                FieldViolation("rate_percent", "must be between 0 and 100") if over else None,
                FieldViolation("free_transactions", "must be between 0 and 10^18")
                if not 0 <= count <= 10**18
                else None,
                FieldViolation("per_transaction_max", "must not be below per_transaction_min") if inverted else None,
            ),
        )

    @property
    def per_transaction(self) -> bool:
        """Whether it is priced event by event (any of Lago's per-transaction terms is set)."""
        return bool(
            self.free_transactions
            or self.free_amount
            or self.per_transaction_min is not None
            or self.per_transaction_max is not None
        )

    def _lines(self, base: Decimal, event_count: int) -> list[PriceLine]:
        lines: list[PriceLine] = []
        if base:
            lines.append(_line(f"{_text(self.rate_percent)}% of {_text(base)}", base, self.rate_percent / _HUNDRED))
        if event_count and self.fixed_fee_per_event:
            text = f"{event_count} events at {_text(self.fixed_fee_per_event)} each"
            lines.append(_line(text, Decimal(event_count), self.fixed_fee_per_event))
        return lines

    def _transaction_lines(self, amounts: Sequence[Decimal]) -> list[PriceLine]:
        terms = TransactionTerms(
            self.rate_percent / _HUNDRED,
            self.fixed_fee_per_event,
            self.free_transactions,
            self.free_amount,
            self.per_transaction_min,
            self.per_transaction_max,
        )
        return _priced_lines(self, price_transactions(terms, amounts))


def _count(n: int, noun: str = "transaction") -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _priced_lines(model: Percentage, priced: TransactionPricing) -> list[PriceLine]:
    """The breakdown of transactions priced one by one; the lines add up to `priced.amount`."""
    lines: list[PriceLine] = []
    if priced.free_transactions or priced.straddled:
        text = f"free: {_count(priced.free_transactions)}"
        if priced.straddled:
            text += f" and {_text(priced.straddled)} of the next"
        lines.append(_line(f"{text} (free amount {_text(priced.free_amount)})", priced.free_amount, ZERO))
    if priced.paid_amount:
        text = f"{_text(model.rate_percent)}% of {_text(priced.paid_amount)} ({_count(priced.paid_transactions)})"
        lines.append(_line(text, priced.paid_amount, model.rate_percent / _HUNDRED))
    if priced.paid_transactions and model.fixed_fee_per_event:
        text = f"{_count(priced.paid_transactions)} at {_text(model.fixed_fee_per_event)} each"
        lines.append(_line(text, Decimal(priced.paid_transactions), model.fixed_fee_per_event))
    if priced.raised:
        text = f"{_count(priced.raised)} raised to the minimum {_text(model.per_transaction_min or ZERO)}"
        lines.append(_line(text, Decimal(priced.raised), ZERO, priced.raised_by))
    if priced.capped:
        text = f"{_count(priced.capped)} capped at the maximum {_text(model.per_transaction_max or ZERO)}"
        lines.append(_line(text, Decimal(priced.capped), ZERO, -priced.capped_by))
    return lines


PricingModel: TypeAlias = PerUnit | Graduated | Volume | Package | Percentage
_MODELS: tuple[type[PricingModel], ...] = (PerUnit, Graduated, Volume, Package, Percentage)


@dataclass(frozen=True)
class Charge:
    """A plan's price for one meter: a model, free units first, and a minimum per period."""

    meter_code: str
    model: PricingModel
    free_units: Decimal = ZERO
    minimum: Decimal = ZERO

    def __post_init__(self) -> None:
        if not isinstance(self.model, _MODELS):
            raise TypeError(f"model must be a pricing model, not {type(self.model).__name__}")
        bad_code = not isinstance(self.meter_code, str) or not _METER_CODE.fullmatch(self.meter_code)
        code = FieldViolation("meter_code", "must match [a-z0-9][a-z0-9_.-]{0,63}") if bad_code else None
        # Free units off the period's amount and free transactions event by event cannot both apply.
        both = isinstance(self.model, Percentage) and self.model.per_transaction and self.free_units != 0
        mixed = FieldViolation("free_units", "a percentage priced per transaction takes percentage.free_amount instead")
        _validate(self, "free_units", "minimum", extra=(code, mixed if both else None))

    @property
    def per_transaction(self) -> bool:
        """Whether pricing needs the period's transactions one by one, in time order."""
        return isinstance(self.model, Percentage) and self.model.per_transaction


@dataclass(frozen=True)
class UsageTotals:
    """What usage aggregation produced for one meter and period."""

    quantity: Decimal
    event_count: int = 0
    amount_sum: Decimal = ZERO
    # Each event's amount in time order (usage timestamp, then log position); None when not read:
    # only a charge priced per transaction needs them.
    transactions: tuple[Decimal, ...] | None = None

    def __post_init__(self) -> None:
        # Produced by our own aggregation, not by callers: a bad value is a bug, hence ValueError.
        for name, kind in (("quantity", Decimal), ("event_count", int), ("amount_sum", Decimal)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, kind):
                raise TypeError(f"{name} must be a {kind.__name__}, not {type(value).__name__}")
            if (isinstance(value, Decimal) and not value.is_finite()) or value < 0:
                raise ValueError(f"{name} must be finite and non-negative, not {value}")
        if self.transactions is not None:
            if len(self.transactions) != self.event_count:
                raise ValueError(f"{len(self.transactions)} transactions for {self.event_count} events")
            if not all(isinstance(t, Decimal) and t.is_finite() and t >= 0 for t in self.transactions):
                raise ValueError("transaction amounts must be finite non-negative Decimals")


@dataclass(frozen=True)
class PriceLine:
    """One step of the breakdown; amount == quantity * unit_price + flat_fee, exactly."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    flat_fee: Decimal
    amount: Decimal


@dataclass(frozen=True)
class ChargeResult:
    """A charge's exact amount, its one rounding to minor units, and the lines that add up to it."""

    amount: Decimal
    amount_minor: int
    lines: tuple[PriceLine, ...]


def price(charge: Charge, usage: UsageTotals) -> ChargeResult:
    """Price one period's usage of a charge: exact amount, its rounding, and the breakdown."""
    model = charge.model
    percentage = isinstance(model, Percentage)
    with localcontext(_EXACT):
        if isinstance(model, Percentage) and model.per_transaction:
            if usage.transactions is None and usage.event_count:
                raise ValueError("a charge priced per transaction needs the period's transactions")
            lines = model._transaction_lines(usage.transactions or ())
        else:
            base = usage.amount_sum if percentage else usage.quantity
            free = min(charge.free_units, base)
            lines = [_line(f"free {'amount' if percentage else 'units'} {_text(free)}", free, ZERO)] if free else []
            lines.extend(model._lines(base - free, usage.event_count))
        subtotal = sum((line.amount for line in lines), ZERO)
        if subtotal < charge.minimum:
            lines.append(_line("minimum adjustment", ZERO, ZERO, charge.minimum - subtotal))
        amount = sum((line.amount for line in lines), ZERO)
    return ChargeResult(amount, round_minor(amount), tuple(lines))


# Stored form: JSON-compatible dicts, decimals as canonical strings (never floats).


def _stored_tier(tier: Tier) -> dict[str, object]:
    up_to = None if tier.up_to is None else _text(tier.up_to)
    return {"up_to": up_to, "unit_price": _text(tier.unit_price), "flat_fee": _text(tier.flat_fee)}


def describe_model(model: PricingModel) -> dict[str, object]:
    """Return the JSON-compatible form of a pricing model, as stored in event payloads."""
    if isinstance(model, PerUnit):
        return {"type": model.TYPE, "unit_price": _text(model.unit_price)}
    if isinstance(model, Graduated | Volume):
        return {"type": model.TYPE, "tiers": [_stored_tier(tier) for tier in model.tiers]}
    if isinstance(model, Package):
        return {"type": model.TYPE, "size": model.size, "price": _text(model.price)}
    if isinstance(model, Percentage):
        fee = _text(model.fixed_fee_per_event)
        stored: dict[str, object] = {
            "type": model.TYPE,
            "rate_percent": _text(model.rate_percent),
            "fixed_fee_per_event": fee,
        }
        # Lago's per-transaction terms only when set: plans without them keep their stored form.
        if model.free_transactions:
            stored["free_transactions"] = model.free_transactions
        if model.free_amount:
            stored["free_amount"] = _text(model.free_amount)
        for name in ("per_transaction_min", "per_transaction_max"):
            bound = getattr(model, name)
            if bound is not None:
                stored[name] = _text(bound)
        return stored
    raise TypeError(f"not a pricing model: {type(model).__name__}")


def describe_charge(charge: Charge) -> dict[str, object]:
    """Return the JSON-compatible form of a charge, as stored in event payloads."""
    model, free_units, minimum = describe_model(charge.model), _text(charge.free_units), _text(charge.minimum)
    return {"meter_code": charge.meter_code, "model": model, "free_units": free_units, "minimum": minimum}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Reader:
    """Reads one stored object strictly: unknown keys refused, fields named by their path."""

    def __init__(self, data: object, path: str, allowed: set[str]) -> None:
        if not isinstance(data, Mapping):
            raise _invalid(FieldViolation(path or "charge", "must be an object"))
        unknown = [str(key) for key in data if key not in allowed]
        if unknown:  # a misspelt optional key would otherwise silently price at zero
            raise _invalid(FieldViolation(_join(path, unknown[0]), "unknown field"))
        self.data: Mapping[object, object] = data
        self.path = path

    def optional(self, key: str) -> Decimal | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise _invalid(FieldViolation(_join(self.path, key), "must be a decimal string"))
        return parse_decimal(value, _join(self.path, key))

    def decimal(self, key: str, default: Decimal | None = None) -> Decimal:
        value = self.optional(key)
        if value is not None:
            return value
        if default is not None:
            return default
        raise _invalid(FieldViolation(_join(self.path, key), "is required"))

    def build(self, make: Callable[[], _T]) -> _T:
        # The models name fields relative to themselves; prefix them with where they are stored.
        try:
            return make()
        except InvalidArgument as error:
            violations = (FieldViolation(_join(self.path, v.field), v.description) for v in error.violations)
            raise InvalidArgument.of(*violations, reason=error.reason) from None


def _read_tiers(reader: _Reader) -> tuple[Tier, ...]:
    items, path = reader.data.get("tiers"), _join(reader.path, "tiers")
    if not isinstance(items, list) or not items:
        raise _invalid(FieldViolation(path, "must be a non-empty list of tiers"))
    tiers: list[Tier] = []
    for index, item in enumerate(items):
        tier = _Reader(item, f"{path}[{index}]", {"up_to", "unit_price", "flat_fee"})
        up_to, unit_price, flat_fee = tier.optional("up_to"), tier.decimal("unit_price"), tier.decimal("flat_fee", ZERO)
        tiers.append(tier.build(partial(Tier, up_to, unit_price, flat_fee)))
    return tuple(tiers)


def _read_model(data: object, path: str) -> PricingModel:
    if not isinstance(data, Mapping):
        raise _invalid(FieldViolation(path or "model", "must be an object"))
    kind = data.get("type")
    if kind == PerUnit.TYPE:
        reader = _Reader(data, path, {"type", "unit_price"})
        return reader.build(partial(PerUnit, reader.decimal("unit_price")))
    if kind in (Graduated.TYPE, Volume.TYPE):
        reader = _Reader(data, path, {"type", "tiers"})
        tiers = _read_tiers(reader)
        if kind == Graduated.TYPE:
            return reader.build(partial(Graduated, tiers))
        return reader.build(partial(Volume, tiers))
    if kind == Package.TYPE:
        reader = _Reader(data, path, {"type", "size", "price"})
        size = reader.data.get("size")
        if isinstance(size, bool) or not isinstance(size, int):
            raise _invalid(FieldViolation(_join(path, "size"), "must be an integer"))
        return reader.build(partial(Package, size, reader.decimal("price")))
    if kind == Percentage.TYPE:
        reader = _Reader(data, path, {"type", "rate_percent", "fixed_fee_per_event", *_PER_TRANSACTION})
        rate, fee = reader.decimal("rate_percent"), reader.decimal("fixed_fee_per_event", ZERO)
        count = reader.data.get("free_transactions", 0)
        if isinstance(count, bool) or not isinstance(count, int):
            raise _invalid(FieldViolation(_join(path, "free_transactions"), "must be an integer"))
        free_amount = reader.decimal("free_amount", ZERO)
        low, high = reader.optional("per_transaction_min"), reader.optional("per_transaction_max")
        return reader.build(partial(Percentage, rate, fee, count, free_amount, low, high))
    raise _invalid(FieldViolation(_join(path, "type"), f"must be one of {', '.join(m.TYPE for m in _MODELS)}"))


_PER_TRANSACTION = ("free_transactions", "free_amount", "per_transaction_min", "per_transaction_max")


def model_from_dict(data: Mapping[str, object]) -> PricingModel:
    """Rebuild a pricing model from its stored form (see `describe_model`), validating it."""
    return _read_model(data, "")


def charge_from_dict(data: Mapping[str, object]) -> Charge:
    """Rebuild a charge from its stored form (see `describe_charge`), validating it."""
    reader = _Reader(data, "", {"meter_code", "model", "free_units", "minimum"})
    meter_code = reader.data.get("meter_code")
    if not isinstance(meter_code, str):
        raise _invalid(FieldViolation("meter_code", "must be a string"))
    model = _read_model(reader.data.get("model"), "model")
    free_units, minimum = reader.decimal("free_units", ZERO), reader.decimal("minimum", ZERO)
    return reader.build(partial(Charge, meter_code, model, free_units, minimum))
