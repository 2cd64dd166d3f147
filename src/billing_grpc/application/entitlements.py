"""Answering "may this organization use X, and how much?" on hot paths, from memory.

An indexed read costs the embedded store ~1 ms, so a check cannot read the store. Each
organization's merged entitlements and the usage of its metered features are cached here and
dropped when this instance's projection runner applies an event of that organization (an
entitlements event, a subscription event moving its period, a usage batch). Every instance
follows the log, so a change made anywhere is seen here within the runner's poll interval
(0.5 s) plus its lag; a command's caller who waited for its position (read-your-writes) is
answered from fresh state, because the runner drops the copies before it reports the position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from billing_grpc.application.context import CommandContext
from billing_grpc.application.usage_catalog import UsageCatalog
from billing_grpc.application.usage_queries import meter_usage
from billing_grpc.domain.access import Action
from billing_grpc.domain.entitlements import Decision, Entitlement, Grant, check, union
from billing_grpc.domain.errors import NotFound
from billing_grpc.domain.feature import FeatureKind, FeatureValue
from billing_grpc.domain.usage import stamp
from billing_grpc.eventstore import RecordedEvent
from projections.catalogue import FEATURES
from projections.entitlements import ENTITLEMENTS, SUSPENDED
from projections.model import ReadModelReader
from projections.subscriptions import SUBSCRIPTIONS
from projections.usage import USAGE_TOTALS, totals_key

# A bound on memory (a few KB each): past it the least recently checked organization is dropped.
MAX_CACHED_ORGANIZATIONS = 100_000


@dataclass(frozen=True)
class FeatureStanding:
    """One feature an organization is entitled to: its merged value and, for metered ones, this period's usage."""

    entitlement: Entitlement
    used: Decimal | None


@dataclass(frozen=True)
class OrganizationEntitlements:
    """Everything a check of one organization needs, read once."""

    features: dict[str, FeatureStanding]
    held_back: frozenset[str]  # granted only by suspended subscriptions


@dataclass(frozen=True)
class CheckResult:
    """A check's decision, with the figures it was made on."""

    decision: Decision
    standing: FeatureStanding | None


@dataclass
class EntitlementQueries:
    """ListEntitlements and CheckEntitlement, cached per organization."""

    read_models: ReadModelReader
    catalog: UsageCatalog
    max_cached: int = MAX_CACHED_ORGANIZATIONS
    _cache: dict[str, OrganizationEntitlements] = field(default_factory=dict)  # least recently used first
    # Bumped by every drop, so a read that started before a drop does not store what it read.
    _generation: int = 0
    _features: set[str] = field(default_factory=set)  # features never change: known ones stay known

    def changed(self, events: Sequence[RecordedEvent] | None) -> None:
        """Drop the organizations the applied events belong to (None: drop everything)."""
        self._generation += 1
        if events is None:
            self._cache.clear()
            return
        for event in events:
            if event.organization_id:
                self._cache.pop(event.organization_id, None)

    async def list(self, context: CommandContext, organization_id: str) -> dict[str, FeatureStanding]:
        """Every feature the organization is entitled to, by code."""
        return (await self._organization(context, organization_id)).features

    async def check(
        self, context: CommandContext, organization_id: str, feature_code: str, requested: Decimal | None
    ) -> CheckResult:
        """Whether the organization may use `requested` of the feature (see `entitlements.check`)."""
        current = await self._organization(context, organization_id)
        standing = current.features.get(feature_code)
        if standing is None:
            await self._require_feature(feature_code)
            return CheckResult(check(None, feature_code in current.held_back, requested), None)
        used = standing.used if standing.used is not None else Decimal(0)
        return CheckResult(check(standing.entitlement, False, requested, used), standing)

    async def _organization(self, context: CommandContext, organization_id: str) -> OrganizationEntitlements:
        context.require(Action.ENTITLEMENTS_CHECK, organization_id, "organization")
        cached = self._cache.pop(organization_id, None)
        if cached is not None:
            self._cache[organization_id] = cached  # now the most recently used (dicts keep order)
            return cached
        if not organization_id or await self.catalog.organization_id(organization_id, "") is None:
            raise NotFound("organization_not_found", "organization not found")
        generation = self._generation
        loaded = await self._load(organization_id)
        if generation == self._generation:
            if len(self._cache) >= self.max_cached:
                del self._cache[next(iter(self._cache))]  # the least recently used
            self._cache[organization_id] = loaded
        return loaded

    async def _load(self, organization_id: str) -> OrganizationEntitlements:
        docs = await self.read_models.find(ENTITLEMENTS, {"organization_id": organization_id})
        grants = [
            Grant(
                doc["subscription_id"],
                doc["status"] == SUSPENDED,
                tuple(FeatureValue.from_dict(value) for value in doc["features"]),
            )
            for doc in docs
        ]
        merged, held_back = union(grants)
        features = {
            code: FeatureStanding(entitlement, await self._used(entitlement))
            for code, entitlement in sorted(merged.items())
        }
        return OrganizationEntitlements(features, held_back)

    async def _used(self, entitlement: Entitlement) -> Decimal | None:
        """This period's usage of a metered feature's meter by the subscription granting it."""
        value = entitlement.value
        if value.kind is not FeatureKind.METERED:
            return None
        subscription = await self.read_models.get(SUBSCRIPTIONS, entitlement.subscription_id)
        meter = await self.catalog.meter(value.meter_code)
        if subscription is None or meter is None:
            return Decimal(0)
        # Usage is totalled per segment of a period (a plan change starts a new one): the current
        # plan's segment is what its cap is measured against.
        start = subscription.get("segment_start") or subscription["current_period_start"]
        key = totals_key(entitlement.subscription_id, stamp(start), value.meter_code)
        totals: dict[str, Any] | None = await self.read_models.get(USAGE_TOTALS, key)
        return meter_usage(meter.aggregation, totals).quantity

    async def _require_feature(self, code: str) -> None:
        """NOT_FOUND for a code no feature has (a typo on the caller's side must not read as "not entitled")."""
        if code in self._features:
            return
        if not code or await self.read_models.get(FEATURES, code) is None:
            raise NotFound("unknown_feature", f"no feature {code!r}")
        self._features.add(code)
