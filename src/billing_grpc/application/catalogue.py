"""Commands on the catalogue: meters, features and plans (created once, never changed; plans can be archived)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from billing_grpc.application.context import CommandContext
from billing_grpc.application.streams import Writer, load, load_existing, new_id
from billing_grpc.domain import feature, meter, plan
from billing_grpc.domain.access import Action
from billing_grpc.domain.errors import AlreadyExists, FieldViolation, InvalidArgument
from billing_grpc.domain.pricing import Charge
from billing_grpc.domain.uniqueness import UniqueKeyClaimed, claim_stream, digest
from billing_grpc.eventstore import WrongExpectedVersion

PLAN_CODE_SCOPE = "plan_code"


@dataclass(frozen=True)
class NewPlan:
    """The fields of CreatePlan, with charges already parsed."""

    code: str
    name: str
    currency: str
    interval_unit: str
    interval_count: int
    base_fee_minor: int
    trial_days: int
    charges: Sequence[Charge]
    features: Sequence[feature.FeatureRequest] = field(default_factory=tuple)
    base_fee_timing: str = ""
    proration_unit: str = ""


@dataclass(frozen=True)
class CatalogueHandlers:
    """Catalogue commands; each returns the log position its events reached."""

    writer: Writer

    async def create_meter(self, context: CommandContext, code: str, name: str, aggregation: str, prop: str) -> int:
        """Create a meter; its code is its identity (the stream must be new)."""
        context.require(Action.CATALOGUE_MANAGE, None, "meter")
        created = meter.create_meter(code, name, aggregation, prop, self.writer.clock.now())
        try:
            return await self.writer.append(self.writer.append_of(meter.stream_of(code), 0, [created], context, None))
        except WrongExpectedVersion:
            raise AlreadyExists("meter_code_taken", f"a meter with code {code!r} exists") from None

    async def create_feature(self, context: CommandContext, code: str, name: str, kind: str, meter_code: str) -> int:
        """Create a feature; its code is its identity (the stream must be new); a metered one names a meter."""
        context.require(Action.CATALOGUE_MANAGE, None, "feature")
        created = feature.create_feature(code, name, kind, meter_code, self.writer.clock.now())
        if (
            meter_code
            and meter.Meter.replay((await load(self.writer.store, meter.stream_of(meter_code))).events) is None
        ):
            raise InvalidArgument.of(FieldViolation("meter_code", f"no meter {meter_code!r}"), reason="unknown_meter")
        try:
            return await self.writer.append(self.writer.append_of(feature.stream_of(code), 0, [created], context, None))
        except WrongExpectedVersion:
            raise AlreadyExists("feature_code_taken", f"a feature with code {code!r} exists") from None

    async def create_plan(self, context: CommandContext, new: NewPlan) -> tuple[str, int]:
        """Create a plan whose charges use existing meters and whose features exist; its code is claimed atomically."""
        context.require(Action.CATALOGUE_MANAGE, None, "plan")
        plan_id = new_id("plan")
        definitions = await self._features([request.code for request in new.features])
        # Both checks run, so a refusal lists the plan's and its features' violations together.
        features_refused: InvalidArgument | None = None
        try:
            values = feature.plan_features(new.features, definitions, frozenset(c.meter_code for c in new.charges))
        except InvalidArgument as refused:
            values, features_refused = [], refused
        try:
            created = plan.create_plan(
                plan_id,
                new.code,
                new.name,
                new.currency,
                new.interval_unit,
                new.interval_count,
                new.base_fee_minor,
                new.trial_days,
                new.charges,
                self.writer.clock.now(),
                values,
                new.base_fee_timing,
                new.proration_unit,
            )
        except InvalidArgument as refused:
            extra = features_refused.violations if features_refused else []
            raise InvalidArgument.of(*refused.violations, *extra) from None
        if features_refused is not None:
            raise features_refused
        await self._require_meters([c.meter_code for c in new.charges])
        claim = UniqueKeyClaimed(scope=PLAN_CODE_SCOPE, key_digest=digest(new.code), owner_id=plan_id)
        try:
            position = await self.writer.append(
                self.writer.append_of(plan.stream_of(plan_id), 0, [created], context, None),
                self.writer.append_of(claim_stream(PLAN_CODE_SCOPE, new.code), 0, [claim], context, None),
            )
        except WrongExpectedVersion:
            raise AlreadyExists("plan_code_taken", f"a plan with code {new.code!r} exists") from None
        return plan_id, position

    async def archive_plan(self, context: CommandContext, plan_id: str) -> int:
        """Stop a plan from taking new subscriptions; existing ones keep it."""
        context.require(Action.CATALOGUE_MANAGE, None, "plan")
        state, version = await load_plan(self.writer, plan_id)
        events = state.archive(self.writer.clock.now())
        return await self.writer.append(self.writer.append_of(plan.stream_of(plan_id), version, events, context, None))

    async def _features(self, codes: Sequence[str]) -> dict[str, feature.Feature]:
        """The definitions of the named features that exist (plan_features reports the others)."""
        found: dict[str, feature.Feature] = {}
        for code in set(codes):
            state = feature.Feature.replay((await load(self.writer.store, feature.stream_of(code))).events)
            if state is not None:
                found[code] = state
        return found

    async def _require_meters(self, codes: Sequence[str]) -> None:
        missing = [
            FieldViolation(f"charges[{i}].meter_code", f"no meter {code!r}")
            for i, code in enumerate(codes)
            if meter.Meter.replay((await load(self.writer.store, meter.stream_of(code))).events) is None
        ]
        if missing:
            raise InvalidArgument.of(*missing, reason="unknown_meter")


async def load_plan(writer: Writer, plan_id: str) -> tuple[plan.Plan, int]:
    """A plan's state and stream version, or NOT_FOUND."""
    return await load_existing(writer.store, plan.stream_of(plan_id), plan.Plan.replay, "plan")
