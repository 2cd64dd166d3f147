"""Meters: the billable metrics usage events are counted against, and how each one aggregates.

A meter's code is its identity: usage events and plan charges name it, and its stream is named
after it, so two meters can never share a code. A meter never changes once created: changing how
usage aggregates would silently reprice periods already billed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.validation import Violations


class Aggregation(StrEnum):
    """How a period's usage events of one meter become one quantity."""

    SUM = "sum"
    COUNT = "count"
    MAX = "max"
    UNIQUE_COUNT = "unique_count"
    LATEST = "latest"


class MeterCreated(DomainEvent):
    """A billable metric exists; `property` names the event property unique_count counts, else ""."""

    TYPE: ClassVar[str] = "meter.created"

    code: str
    name: str
    aggregation: Aggregation
    property: str
    created_at: datetime


@dataclass(frozen=True)
class Meter:
    """The state of one meter, folded from its stream."""

    code: str
    name: str
    aggregation: Aggregation
    property: str

    @classmethod
    def replay(cls, events: Iterable[DomainEvent]) -> Meter | None:
        """Fold the stream's events; None if the meter was never created."""
        state: Meter | None = None
        for event in events:
            if isinstance(event, MeterCreated):
                state = cls(event.code, event.name, event.aggregation, event.property)
        return state


def stream_of(code: str) -> str:
    """The stream that holds a meter's events; its code is its identity, so the name keeps it unique."""
    return f"meter-{code}"


def allows_negative(aggregation: Aggregation) -> bool:
    """Whether usage quantities of a meter with this aggregation may be negative."""
    # Only where a negative number can correct earlier usage: a negative sum event takes back
    # part of an over-report, and a latest value replaces the previous reading outright (a gauge
    # may well read below zero). A max would ignore a negative correction, and count and
    # unique_count do not use the quantity at all, so there a negative number is a mistake.
    return aggregation in (Aggregation.SUM, Aggregation.LATEST)


def create_meter(code: str, name: str, aggregation: str, property: str, now: datetime) -> MeterCreated:
    """Decide the creation of a meter; refuses bad input, listing every violation."""
    violations = Violations()
    violations.code(code, "code")
    violations.text(name, "name")
    kind = _parse(aggregation)
    violations.check(kind is not None, "aggregation", f"must be one of {', '.join(Aggregation)}")
    if kind is Aggregation.UNIQUE_COUNT:
        if violations.check(bool(property), "property", "is required for unique_count meters"):
            violations.code(property, "property")
    elif kind is not None:
        violations.check(not property, "property", f"must be empty for {kind.value} meters")
    # With an unknown aggregation, whether a property belongs is unknowable: it is not judged.
    violations.raise_if_any()
    return MeterCreated(code=code, name=name, aggregation=Aggregation(aggregation), property=property, created_at=now)


def _parse(aggregation: str) -> Aggregation | None:
    try:
        return Aggregation(aggregation)
    except ValueError:
        return None
