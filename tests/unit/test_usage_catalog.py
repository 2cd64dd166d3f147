"""The ingestion catalogue reads many tenants' live subscriptions in one query, then from cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from billing_grpc.application.usage_catalog import UsageCatalog
from projections.catalogue import PLANS
from projections.model import Query, Sort
from projections.store import InMemoryReadModels
from projections.subscriptions import SUBSCRIPTIONS

T0 = datetime(2026, 3, 1, tzinfo=UTC)


class CountingReader:
    """Read models that count the queries asked of them."""

    def __init__(self, inner: InMemoryReadModels) -> None:
        self.inner = inner
        self.finds = 0

    async def get(self, collection: str, key: str) -> dict[str, Any] | None:
        return await self.inner.get(collection, key)

    async def find(
        self, collection: str, query: Query, sort: Sort = (), limit: int | None = None, skip: int = 0
    ) -> list[dict[str, Any]]:
        self.finds += 1
        return await self.inner.find(collection, query, sort, limit, skip)


def subscription(subscription_id: str, organization_id: str, usage_open: bool) -> dict[str, Any]:
    return {
        "_id": subscription_id,
        "organization_id": organization_id,
        "usage_open": usage_open,
        "plan_id": "plan_1",
        "started_at": T0,
        "cycle_anchor": T0,
        "current_period_start": T0,
        "current_period_end": T0 + timedelta(days=31),
    }


async def test_stale_tenants_are_read_in_one_query_and_then_served_from_cache() -> None:
    stored = InMemoryReadModels()
    plan = {"_id": "plan_1", "charges": [{"meter_code": "calls"}], "interval_unit": "month", "interval_count": 1}
    subscriptions = {
        "sub_a": subscription("sub_a", "org_a", True),
        "sub_b": subscription("sub_b", "org_b", True),
        "sub_old": subscription("sub_old", "org_b", False),
    }
    await stored.commit("setup", {PLANS: {"plan_1": plan}, SUBSCRIPTIONS: subscriptions}, 0, 1)
    reader = CountingReader(stored)
    now = [0.0]
    catalog = UsageCatalog(reader, ttl=1.0, monotonic=lambda: now[0])

    live = await catalog.live_subscriptions_of(["org_a", "org_b", "org_none"])

    assert {org: [s.subscription_id for s in subs] for org, subs in live.items()} == {
        "org_a": ["sub_a"],
        "org_b": ["sub_b"],
        "org_none": [],
    }
    assert live["org_a"][0].meter_codes == frozenset({"calls"})
    assert reader.finds == 1
    await catalog.live_subscriptions_of(["org_a", "org_b"])
    assert reader.finds == 1  # fresh: no query
    now[0] = 1.5
    assert [s.subscription_id for s in await catalog.live_subscriptions("org_b")] == ["sub_b"]
    assert reader.finds == 2
