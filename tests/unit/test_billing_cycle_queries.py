"""The billing run reads what is due once per pass, however much is due.

On the MongoDB-wire store a range query costs as much as the documents it matches, limit or not,
so a run that paged through due items by querying again after every page was quadratic in the
number of subscriptions. These tests count the run's queries instead of timing it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from billing_grpc.application.billing_cycle import CHUNK
from billing_grpc.application.catalogue import NewPlan
from billing_grpc.application.context import system_context
from billing_grpc.application.organizations import NewOrganization
from billing_grpc.bootstrap import App, open_in_memory_app
from billing_grpc.domain.clock import TestClock
from billing_grpc.settings import Settings
from projections.model import Document, Key, Query, ReadModelReader, Sort
from tests.e2e.conftest import TEST_KEY_HASH_SECRET

START = datetime(2026, 1, 1, tzinfo=UTC)
FEB_1 = datetime(2026, 2, 1, tzinfo=UTC)
CONTEXT = system_context()


@dataclass
class CountingReader:
    """A read-model reader that counts the range queries of each collection."""

    inner: ReadModelReader
    finds: Counter[str] = field(default_factory=Counter)

    async def get(self, collection: str, key: Key) -> Document | None:
        return await self.inner.get(collection, key)

    async def find(
        self,
        collection: str,
        query: Query,
        sort: Sort = (),
        limit: int | None = None,
        skip: int = 0,
        fields: Sequence[str] | None = None,
    ) -> list[Document]:
        self.finds[collection] += 1
        return await self.inner.find(collection, query, sort, limit, skip, fields)


async def _subscribed(app: App, count: int) -> None:
    plan_id, _ = await app.catalogue.create_plan(CONTEXT, NewPlan("flat", "Flat", "USD", "month", 1, 1000, 0, []))
    for number in range(count):
        organization_id, _ = await app.organizations.create(
            CONTEXT, NewOrganization(f"Customer {number}", "USD", payment_method="pm_ok")
        )
        await app.subscriptions.start(CONTEXT, organization_id, plan_id, None, None)
    await app.projections.wait_until(await app.store.head_position())


async def _billing_run_queries(count: int) -> tuple[Counter[str], dict[str, Any]]:
    clock = TestClock(START)
    settings = Settings(key_hash_secret=TEST_KEY_HASH_SECRET, grace_period_seconds=0, scheduler=False)
    async with open_in_memory_app(settings, clock=clock) as app:
        await _subscribed(app, count)
        await app.cycle.run()  # the opening invoices
        clock.advance_to(FEB_1)
        counting = CountingReader(app.cycle.read_models)
        app.cycle.read_models = counting
        report = await app.cycle.run()
        return counting.finds, vars(report)


async def test_a_run_queries_what_is_due_as_often_for_many_subscriptions_as_for_few() -> None:
    few, few_report = await _billing_run_queries(3)
    many, many_report = await _billing_run_queries(2 * CHUNK + 50)  # more than two chunks

    assert few_report == {"periods_closed": 3, "invoices_finalized": 3, "payments_attempted": 3, "failures": 0}
    assert many_report["periods_closed"] == many_report["payments_attempted"] == 2 * CHUNK + 50
    assert many_report["failures"] == 0
    assert many == few  # per collection: the same number of queries, whatever the number due
