"""The entitlements cache: fresh after a command's position is reached, never refilled with stale reads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from billing_grpc.application.catalogue import NewPlan
from billing_grpc.application.context import system_context
from billing_grpc.application.entitlements import EntitlementQueries
from billing_grpc.application.organizations import NewOrganization
from billing_grpc.application.usage import Outcome
from billing_grpc.bootstrap import App, open_in_memory_app
from billing_grpc.domain.clock import TestClock
from billing_grpc.domain.entitlements import Reason
from billing_grpc.domain.errors import NotFound
from billing_grpc.domain.feature import FeatureRequest
from billing_grpc.domain.pricing import Charge, PerUnit
from billing_grpc.domain.usage import UsageInput
from billing_grpc.settings import Settings
from projections.model import Document, Query, Sort

CONTEXT = system_context()
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def app() -> AsyncIterator[App]:
    settings = Settings(key_hash_secret=SecretStr("unit-key-hash-secret-0123456789abcdef"), scheduler=False)
    async with open_in_memory_app(settings, clock=TestClock(START)) as opened:
        yield opened


async def customer(app: App) -> tuple[str, str]:
    """An organization subscribed to a plan granting 3 seats and 100 calls a period; (org, subscription)."""
    await app.catalogue.create_meter(CONTEXT, "calls", "Calls", "sum", "")
    await app.catalogue.create_feature(CONTEXT, "seats", "Seats", "limit", "")
    await app.catalogue.create_feature(CONTEXT, "api", "API", "metered", "calls")
    features = [FeatureRequest("seats", limit=3), FeatureRequest("api", cap="100")]
    charges = [Charge("calls", PerUnit(Decimal(1)))]
    plan_id, _ = await app.catalogue.create_plan(
        CONTEXT, NewPlan("basic", "Basic", "USD", "month", 1, 1000, 0, charges, features)
    )
    organization_id, _ = await app.organizations.create(CONTEXT, NewOrganization("Acme", "USD"))
    subscription_id, position = await app.subscriptions.start(CONTEXT, organization_id, plan_id, None, None)
    await app.projections.wait_until(position)
    return organization_id, subscription_id


async def test_a_check_after_the_commands_position_sees_the_command(app: App) -> None:
    organization_id, subscription_id = await customer(app)
    assert (await app.entitlements.check(CONTEXT, organization_id, "seats", Decimal(3))).decision.allowed
    assert (await app.entitlements.check(CONTEXT, organization_id, "api", None)).decision.remaining == 100

    assert isinstance(app.clock, TestClock)
    app.clock.advance(timedelta(hours=1))
    [result] = await app.usage.ingest(CONTEXT, [UsageInput(organization_id, "calls", "30", app.clock.now(), "k", {})])
    assert result.outcome is Outcome.ACCEPTED
    await app.projections.wait_until(await app.store.head_position())
    assert (await app.entitlements.check(CONTEXT, organization_id, "api", None)).decision.remaining == 70

    position = await app.subscriptions.cancel(CONTEXT, subscription_id, at_period_end=False)
    await app.projections.wait_until(position)
    decision = (await app.entitlements.check(CONTEXT, organization_id, "seats", Decimal(1))).decision
    assert (decision.allowed, decision.reason) == (False, Reason.NOT_ENTITLED)


async def test_unknown_features_and_organizations_are_not_found(app: App) -> None:
    organization_id, _ = await customer(app)
    with pytest.raises(NotFound) as unknown:
        await app.entitlements.check(CONTEXT, organization_id, "ghost", None)
    assert unknown.value.reason == "unknown_feature"
    with pytest.raises(NotFound):
        await app.entitlements.list(CONTEXT, "org_nobody")


class _GatedReader:
    """A read model reader whose entitlements query waits for a gate: a read in flight during a change."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.reading = asyncio.Event()
        self.reads = 0

    async def get(self, collection: str, key: str) -> Document | None:
        return await self.inner.get(collection, key)  # type: ignore[no-any-return]

    async def find(
        self, collection: str, query: Query, sort: Sort = (), limit: int | None = None, skip: int = 0
    ) -> list[Document]:
        self.reads += 1
        self.reading.set()
        found: list[Document] = await self.inner.find(collection, query, sort, limit, skip)
        await self.gate.wait()
        return found


async def test_a_read_that_overlaps_a_change_is_not_cached(app: App) -> None:
    organization_id, _ = await customer(app)
    reader = _GatedReader(app.read_models)
    queries = EntitlementQueries(reader, app.usage.catalog)
    pending = asyncio.create_task(queries.list(CONTEXT, organization_id))
    await reader.reading.wait()
    queries.changed(None)  # the runner applied something while the read was in flight
    reader.gate.set()
    assert "seats" in await pending
    await queries.list(CONTEXT, organization_id)
    assert reader.reads == 2  # the overlapping read was answered but not kept

    await queries.list(CONTEXT, organization_id)
    assert reader.reads == 2  # a clean read is kept


class _CountingReader(_GatedReader):
    """Counts entitlement reads per organization; never waits."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.gate.set()
        self.by_organization: dict[str, int] = {}

    async def find(
        self, collection: str, query: Query, sort: Sort = (), limit: int | None = None, skip: int = 0
    ) -> list[Document]:
        organization_id = str(query.get("organization_id", ""))
        self.by_organization[organization_id] = self.by_organization.get(organization_id, 0) + 1
        return await super().find(collection, query, sort, limit, skip)


async def test_a_full_cache_drops_the_least_recently_checked_organization(app: App) -> None:
    """It used to start over when full, so the busiest tenants were read again too."""
    busy, _ = await customer(app)
    others = []
    for name in ("Beta", "Gamma"):
        organization_id, _ = await app.organizations.create(CONTEXT, NewOrganization(name, "USD"))
        others.append(organization_id)
    await app.projections.wait_until(await app.store.head_position())
    reader = _CountingReader(app.read_models)
    queries = EntitlementQueries(reader, app.usage.catalog, max_cached=2)

    await queries.list(CONTEXT, busy)
    await queries.list(CONTEXT, others[0])
    await queries.list(CONTEXT, busy)  # the busy tenant is now the most recently used
    await queries.list(CONTEXT, others[1])  # full: drops others[0], not the busy tenant
    await queries.list(CONTEXT, busy)
    await queries.list(CONTEXT, others[0])

    assert reader.by_organization == {busy: 1, others[0]: 2, others[1]: 1}
