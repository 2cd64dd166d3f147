"""Features: what a plan lets an organization do, and how much of it.

A feature's code is its identity (its stream is named after it, like a meter's) and it never
changes once created. Its kind decides what a plan says about it: `boolean` (on or off),
`limit` (an integer quota such as seats; or unlimited) or `metered` (tied to a meter, with an
optional cap per period). A plan lists features with values (`FeatureValue`); plans never
change, so neither does what a subscription to one grants.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from billing_grpc.domain.errors import InvalidArgument
from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.money import format_decimal, parse_decimal
from billing_grpc.domain.validation import Violations

MAX_PLAN_FEATURES = 100
MAX_LIMIT = 2**62  # fits int64 on the wire with room to spare


class FeatureKind(StrEnum):
    """What a plan's value for a feature means."""

    BOOLEAN = "boolean"
    LIMIT = "limit"
    METERED = "metered"


class FeatureCreated(DomainEvent):
    """A feature exists; `meter_code` names the meter of a metered feature, else ""."""

    TYPE: ClassVar[str] = "feature.created"

    code: str
    name: str
    kind: FeatureKind
    meter_code: str
    created_at: datetime


@dataclass(frozen=True)
class Feature:
    """The state of one feature, folded from its stream."""

    code: str
    name: str
    kind: FeatureKind
    meter_code: str

    @classmethod
    def replay(cls, events: Iterable[DomainEvent]) -> Feature | None:
        """Fold the stream's events; None if the feature was never created."""
        state: Feature | None = None
        for event in events:
            if isinstance(event, FeatureCreated):
                state = cls(event.code, event.name, event.kind, event.meter_code)
        return state


def stream_of(code: str) -> str:
    """The stream that holds a feature's events; its code is its identity, so the name keeps it unique."""
    return f"feature-{code}"


def create_feature(code: str, name: str, kind: str, meter_code: str, now: datetime) -> FeatureCreated:
    """Decide the creation of a feature; refuses bad input, listing every violation.

    Whether a metered feature's meter exists is the handler's question (it needs the log).
    """
    violations = Violations()
    violations.code(code, "code")
    violations.text(name, "name")
    parsed = _kind(kind)
    violations.check(parsed is not None, "kind", f"must be one of {', '.join(FeatureKind)}")
    if parsed is FeatureKind.METERED:
        if violations.check(bool(meter_code), "meter_code", "is required for metered features"):
            violations.code(meter_code, "meter_code")
    elif parsed is not None:
        violations.check(not meter_code, "meter_code", f"must be empty for {parsed.value} features")
    violations.raise_if_any()
    return FeatureCreated(code=code, name=name, kind=FeatureKind(kind), meter_code=meter_code, created_at=now)


def _kind(kind: str) -> FeatureKind | None:
    try:
        return FeatureKind(kind)
    except ValueError:
        return None


@dataclass(frozen=True)
class FeatureValue:
    """What one plan grants of one feature.

    `limit` None means unlimited (limit features); `cap` None means uncapped (metered features).
    """

    code: str
    kind: FeatureKind
    enabled: bool = True
    limit: int | None = None
    cap: Decimal | None = None
    meter_code: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The stored (JSON) form: decimals as canonical strings."""
        return {
            "code": self.code,
            "kind": self.kind.value,
            "enabled": self.enabled,
            "limit": self.limit,
            "cap": None if self.cap is None else format_decimal(self.cap),
            "meter_code": self.meter_code,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureValue:
        """Read the stored form back."""
        cap = data.get("cap")
        return cls(
            code=data["code"],
            kind=FeatureKind(data["kind"]),
            enabled=bool(data.get("enabled", True)),
            limit=data.get("limit"),
            cap=None if cap is None else Decimal(cap),
            meter_code=data.get("meter_code", ""),
        )


@dataclass(frozen=True)
class FeatureRequest:
    """A plan's value for a feature as asked for, before it is checked against the feature's kind."""

    code: str
    enabled: bool = False
    limit: int | None = None
    unlimited: bool = False
    cap: str = ""


def plan_features(
    requested: Sequence[FeatureRequest], definitions: Mapping[str, Feature], charged_meters: frozenset[str]
) -> list[FeatureValue]:
    """Check a plan's feature values against the features' kinds; refuses bad input, listing every violation.

    A metered feature's meter must be one the plan charges: its usage is then the usage of the
    subscription that grants it, which is what a cap per period is measured against.
    """
    violations = Violations()
    violations.check(len(requested) <= MAX_PLAN_FEATURES, "features", f"at most {MAX_PLAN_FEATURES} features")
    values: list[FeatureValue] = []
    first_index: dict[str, int] = {}
    for index, request in enumerate(requested):
        path = f"features[{index}]"
        seen = first_index.setdefault(request.code, index)
        if not violations.check(seen == index, f"{path}.feature_code", f"feature {request.code!r} is listed twice"):
            continue
        feature = definitions.get(request.code)
        if not violations.check(feature is not None, f"{path}.feature_code", f"no feature {request.code!r}"):
            continue
        assert feature is not None
        value = _value(feature, request, charged_meters, path, violations)
        if value is not None:
            values.append(value)
    violations.raise_if_any()
    return values


def _value(
    feature: Feature, request: FeatureRequest, charged_meters: frozenset[str], path: str, violations: Violations
) -> FeatureValue | None:
    """One feature's value, or None after recording why the request does not fit its kind."""
    found = len(violations.found)
    if feature.kind is not FeatureKind.BOOLEAN:
        violations.check(not request.enabled, f"{path}.enabled", f"only for boolean features, not {feature.kind}")
    if feature.kind is not FeatureKind.LIMIT:
        violations.check(request.limit is None, f"{path}.limit", f"only for limit features, not {feature.kind}")
        violations.check(not request.unlimited, f"{path}.unlimited", f"only for limit features, not {feature.kind}")
    if feature.kind is not FeatureKind.METERED:
        violations.check(not request.cap, f"{path}.cap", f"only for metered features, not {feature.kind}")
    if feature.kind is FeatureKind.LIMIT:
        if request.unlimited:
            violations.check(request.limit is None, f"{path}.limit", "must be unset when unlimited")
        elif violations.check(request.limit is not None, f"{path}.limit", "is required (or set unlimited)"):
            assert request.limit is not None
            violations.check(0 <= request.limit <= MAX_LIMIT, f"{path}.limit", f"must be between 0 and {MAX_LIMIT}")
    cap: Decimal | None = None
    if feature.kind is FeatureKind.METERED:
        violations.check(
            feature.meter_code in charged_meters,
            f"{path}.feature_code",
            f"the plan must charge meter {feature.meter_code!r} to grant metered feature {feature.code!r}",
        )
        if request.cap:
            cap = _cap(request.cap, f"{path}.cap", violations)
    if len(violations.found) > found:
        return None
    return FeatureValue(
        code=feature.code,
        kind=feature.kind,
        enabled=request.enabled if feature.kind is FeatureKind.BOOLEAN else True,
        limit=None if request.unlimited else request.limit,
        cap=cap,
        meter_code=feature.meter_code,
    )


def _cap(text: str, field_path: str, violations: Violations) -> Decimal | None:
    try:
        cap = parse_decimal(text, field_path)
    except InvalidArgument as error:
        violations.found.extend(error.violations)
        return None
    violations.check(cap >= 0, field_path, "must not be negative")
    return cap
