"""Read models of the catalogue: meters, features and plans, as created (plans may be archived)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from billing_grpc.domain.events import decode_event
from billing_grpc.domain.feature import FeatureCreated
from billing_grpc.domain.meter import MeterCreated
from billing_grpc.domain.plan import PlanArchived, PlanCreated
from billing_grpc.eventstore import RecordedEvent
from projections.model import Index, View

METERS = "meters"
PLANS = "plans"
FEATURES = "features"


class MetersProjection:
    """One document per meter, keyed by its code."""

    name = "meters"
    handles = frozenset({MeterCreated.TYPE})
    collections: Mapping[str, Sequence[Index]] = {METERS: []}

    async def apply(self, event: RecordedEvent, view: View) -> None:
        """Record a created meter."""
        fact = decode_event(event.type, event.payload)
        assert isinstance(fact, MeterCreated)
        view.put(METERS, fact.code, fact.model_dump(mode="python"))


class PlansProjection:
    """One document per plan, with its charges exactly as created."""

    name = "plans"
    handles = frozenset({PlanCreated.TYPE, PlanArchived.TYPE})
    collections: Mapping[str, Sequence[Index]] = {PLANS: [Index((("code", 1),))]}

    async def apply(self, event: RecordedEvent, view: View) -> None:
        """Record a created plan, or mark it archived."""
        fact = decode_event(event.type, event.payload)
        if isinstance(fact, PlanCreated):
            # The charges keep their stored JSON form: decimals as exact strings.
            view.put(PLANS, fact.plan_id, {**fact.model_dump(mode="python"), "archived_at": None})
            return
        assert isinstance(fact, PlanArchived)
        current = await view.get(PLANS, fact.plan_id)
        if current is not None:
            view.put(PLANS, fact.plan_id, {**current, "archived_at": fact.archived_at})


class FeaturesProjection:
    """One document per feature, keyed by its code."""

    name = "features"
    handles = frozenset({FeatureCreated.TYPE})
    collections: Mapping[str, Sequence[Index]] = {FEATURES: []}

    async def apply(self, event: RecordedEvent, view: View) -> None:
        """Record a created feature."""
        fact = decode_event(event.type, event.payload)
        assert isinstance(fact, FeatureCreated)
        view.put(FEATURES, fact.code, fact.model_dump(mode="python"))
