"""Usage charges between their wire form (protobuf) and their stored form (pricing's JSON dicts).

Parsing goes through the stored form, so a charge sent over gRPC is validated by exactly the
code that reads it back from the log; field paths are rewritten to the request's names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from billing.v1 import catalogue_pb2
from billing_grpc.domain.errors import FieldViolation, InvalidArgument
from billing_grpc.domain.pricing import Charge, charge_from_dict


def _decimals(**fields: str) -> dict[str, str]:
    """Only the decimal fields that were sent (proto3 strings are empty when unset)."""
    return {key: value for key, value in fields.items() if value}


def _stored_model(charge: catalogue_pb2.Charge) -> tuple[str, dict[str, Any]] | None:
    kind = charge.WhichOneof("model")
    if kind is None:
        return None
    if kind == "per_unit":
        return kind, {"type": "per_unit", **_decimals(unit_price=charge.per_unit.unit_price)}
    if kind in ("graduated", "volume"):
        tiers = getattr(charge, kind).tiers
        return kind, {
            "type": kind,
            "tiers": [_decimals(up_to=t.up_to, unit_price=t.unit_price, flat_fee=t.flat_fee) for t in tiers],
        }
    if kind == "package":
        return kind, {"type": "package", "size": charge.package.size, **_decimals(price=charge.package.price)}
    percentage = charge.percentage
    stored: dict[str, Any] = {
        "type": "percentage",
        **_decimals(
            rate_percent=percentage.rate_percent,
            fixed_fee_per_event=percentage.fixed_fee_per_event,
            free_amount=percentage.free_amount,
            per_transaction_min=percentage.per_transaction_min,
            per_transaction_max=percentage.per_transaction_max,
        ),
    }
    if percentage.free_transactions:  # proto3 0 is unset; a negative count is refused by the model
        stored["free_transactions"] = percentage.free_transactions
    return kind, stored


def charges_from_pb(charges: Sequence[catalogue_pb2.Charge]) -> list[Charge]:
    """Domain charges from a request, or INVALID_ARGUMENT naming every bad field of every charge."""
    parsed: list[Charge] = []
    violations: list[FieldViolation] = []
    for index, charge in enumerate(charges):
        prefix = f"charges[{index}]"
        model = _stored_model(charge)
        if model is None:
            violations.append(
                FieldViolation(f"{prefix}.model", "set one of per_unit, graduated, volume, package, percentage")
            )
            continue
        kind, stored_model = model
        stored = {
            "meter_code": charge.meter_code,
            "model": stored_model,
            **_decimals(free_units=charge.free_units, minimum=charge.minimum),
        }
        try:
            parsed.append(charge_from_dict(stored))
        except InvalidArgument as error:
            for violation in error.violations:
                path = (
                    kind + violation.field.removeprefix("model")
                    if violation.field.startswith("model")
                    else violation.field
                )
                violations.append(FieldViolation(f"{prefix}.{path}", violation.description))
    if violations:
        raise InvalidArgument.of(*violations, reason="invalid_pricing")
    return parsed


def charge_to_pb(stored: Mapping[str, Any]) -> catalogue_pb2.Charge:
    """The wire form of a stored charge (see pricing.describe_charge)."""
    model = stored["model"]
    charge = catalogue_pb2.Charge(
        meter_code=stored["meter_code"], free_units=stored.get("free_units", "0"), minimum=stored.get("minimum", "0")
    )
    kind = model["type"]
    if kind == "per_unit":
        charge.per_unit.unit_price = model["unit_price"]
    elif kind in ("graduated", "volume"):
        tiers = [
            catalogue_pb2.Tier(up_to=t.get("up_to") or "", unit_price=t["unit_price"], flat_fee=t.get("flat_fee", "0"))
            for t in model["tiers"]
        ]
        getattr(charge, kind).tiers.extend(tiers)
    elif kind == "package":
        charge.package.size, charge.package.price = model["size"], model["price"]
    else:
        percentage = charge.percentage
        percentage.rate_percent = model["rate_percent"]
        percentage.fixed_fee_per_event = model.get("fixed_fee_per_event", "0")
        # Lago's per-transaction terms: absent from plans created before them (unset on the wire).
        percentage.free_transactions = model.get("free_transactions", 0)
        percentage.free_amount = model.get("free_amount", "")
        percentage.per_transaction_min = model.get("per_transaction_min", "")
        percentage.per_transaction_max = model.get("per_transaction_max", "")
    return charge
