"""What usage ingestion looks up for every event, cached: organizations, meters, open subscriptions.

Meters and plans never change, so they are cached for good once found. Which subscriptions of
an organization take usage changes rarely; it is cached for `ttl` seconds. A stale entry cannot
let usage into a closed period: each view carries its subscription's stream version, which the
append expects, and the ingestor forgets its views when that expectation fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from billing_grpc.domain.meter import Aggregation, Meter
from billing_grpc.domain.periods import Interval, IntervalUnit, Period
from billing_grpc.domain.pricing import Percentage, charge_from_dict
from billing_grpc.domain.usage import LiveSubscription
from projections.catalogue import METERS, PLANS
from projections.model import ReadModelReader
from projections.organizations import ORGANIZATIONS
from projections.subscriptions import SUBSCRIPTIONS


@dataclass
class UsageCatalog:
    """Cached read-model lookups for the ingestion hot path."""

    read_models: ReadModelReader
    ttl: float = 1.0
    monotonic: Callable[[], float] = time.monotonic
    _meters: dict[str, tuple[float, Meter | None]] = field(default_factory=dict)
    _plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    _external_ids: dict[str, tuple[float, str | None]] = field(default_factory=dict)
    _known_organizations: dict[str, float] = field(default_factory=dict)
    _subscriptions: dict[str, tuple[float, list[LiveSubscription]]] = field(default_factory=dict)
    _per_transaction: dict[str, frozenset[str]] = field(default_factory=dict)

    def _fresh(self, stamp: float) -> bool:
        return self.monotonic() - stamp < self.ttl

    async def organization_id(self, organization_id: str, external_id: str) -> str | None:
        """The id of the organization named by id or external id, or None if there is none."""
        if external_id:
            cached = self._external_ids.get(external_id)
            if cached is None or (cached[1] is None and not self._fresh(cached[0])):
                found = await self.read_models.find(ORGANIZATIONS, {"external_id": external_id}, limit=1)
                cached = (self.monotonic(), found[0]["_id"] if found else None)
                self._external_ids[external_id] = cached
            return cached[1]
        if not organization_id:
            return None
        if organization_id in self._known_organizations:
            return organization_id
        if await self.read_models.get(ORGANIZATIONS, organization_id) is None:
            return None
        self._known_organizations[organization_id] = self.monotonic()
        return organization_id

    async def meter(self, code: str) -> Meter | None:
        """The meter with this code (absent ones are looked up again after `ttl`)."""
        cached = self._meters.get(code)
        if cached is not None and (cached[1] is not None or self._fresh(cached[0])):
            return cached[1]
        doc = await self.read_models.get(METERS, code) if code else None
        meter = Meter(doc["_id"], doc["name"], Aggregation(doc["aggregation"]), doc["property"]) if doc else None
        self._meters[code] = (self.monotonic(), meter)
        return meter

    async def live_subscriptions(self, organization_id: str) -> list[LiveSubscription]:
        """The organization's live subscriptions with the meters their plans charge."""
        return (await self.live_subscriptions_of([organization_id]))[organization_id]

    async def live_subscriptions_of(self, organization_ids: Iterable[str]) -> dict[str, list[LiveSubscription]]:
        """Live subscriptions of several organizations; the stale ones are read in one query.

        A batch names many tenants, and their caches expire together: one query instead of one
        per tenant keeps ingestion from waiting on a round trip per organization every `ttl`.
        """
        wanted = set(organization_ids)
        found: dict[str, list[LiveSubscription]] = {}
        stale = []
        for organization_id in wanted:
            cached = self._subscriptions.get(organization_id)
            if cached is not None and self._fresh(cached[0]):
                found[organization_id] = cached[1]
            else:
                stale.append(organization_id)
        if stale:
            stamp = self.monotonic()
            # Live subscriptions, and ended ones whose last period is not invoiced yet (late usage).
            query = {"organization_id": {"$in": sorted(stale)}, "usage_open": True}
            fresh: dict[str, list[LiveSubscription]] = {organization_id: [] for organization_id in stale}
            for doc in await self.read_models.find(SUBSCRIPTIONS, query):
                fresh[doc["organization_id"]].append(await self.live_from(doc))
            for organization_id, live in fresh.items():
                self._subscriptions[organization_id] = (stamp, live)
            found.update(fresh)
        return found

    async def live_from(self, doc: dict[str, Any]) -> LiveSubscription:
        """The ingestion view of a subscriptions read-model document."""
        plan = await self.plan_document(doc["plan_id"])
        # Every plan that may rate usage landing now: the current one, a change scheduled for the
        # period's end (usage may run a few minutes ahead of the clock), and every earlier plan
        # (late usage of a period closed, or a segment ended, under another plan).
        rating = {doc["plan_id"], doc.get("scheduled_plan_id"), *(doc.get("plan_history") or ())}
        per_transaction: frozenset[str] = frozenset()
        for plan_id in sorted(p for p in rating if p):
            per_transaction |= await self.per_transaction_meters(plan_id)
        return LiveSubscription(
            subscription_id=doc["_id"],
            meter_codes=frozenset(charge["meter_code"] for charge in plan["charges"]),
            started_at=doc["started_at"],
            trial_end=doc.get("trial_end"),
            cycle_anchor=doc["cycle_anchor"],
            interval=Interval(IntervalUnit(plan["interval_unit"]), plan["interval_count"]),
            open_from=doc.get("usage_open_from") or doc["started_at"],
            ends_at=doc.get("canceled_at") or doc.get("paused_at") or doc.get("cancel_at"),
            stream_version=doc.get("version", 0),
            # Plan changes (issue #7): segment bounds within and before the current period.
            boundaries=tuple(Period(b["start"], b["end"]) for b in doc.get("segments") or ()),
            segment_start=doc.get("segment_start"),
            per_transaction_meters=per_transaction,
            current=Period(doc["current_period_start"], doc["current_period_end"]),
            pauses=tuple(Period(p["start"], p["end"]) for p in doc.get("pauses") or ()),
        )

    async def per_transaction_meters(self, plan_id: str) -> frozenset[str]:
        """The meters the plan prices per transaction (plans never change: cached for good)."""
        if plan_id not in self._per_transaction:
            charges = (await self.plan_document(plan_id))["charges"]
            percentages = [c for c in charges if (c.get("model") or {}).get("type") == Percentage.TYPE]
            self._per_transaction[plan_id] = frozenset(
                charge.meter_code for charge in map(charge_from_dict, percentages) if charge.per_transaction
            )
        return self._per_transaction[plan_id]

    def forget_subscriptions(self, organization_ids: Iterable[str] | None = None) -> None:
        """Drop cached subscription views (every one, or these organizations'): one changed."""
        if organization_ids is None:
            self._subscriptions.clear()
            return
        for organization_id in organization_ids:
            self._subscriptions.pop(organization_id, None)

    def cached_subscriptions(self, organization_ids: Iterable[str]) -> frozenset[str]:
        """The organizations whose subscription views would come from the cache now (not read fresh)."""
        return frozenset(
            organization_id
            for organization_id in organization_ids
            if (cached := self._subscriptions.get(organization_id)) is not None and self._fresh(cached[0])
        )

    async def plan_document(self, plan_id: str) -> dict[str, Any]:
        """A plan read-model document (plans never change, so it is cached for good)."""
        if plan_id not in self._plans:
            doc = await self.read_models.get(PLANS, plan_id)
            if doc is None:
                raise LookupError(f"subscription refers to unknown plan {plan_id}")
            self._plans[plan_id] = doc
        return self._plans[plan_id]
