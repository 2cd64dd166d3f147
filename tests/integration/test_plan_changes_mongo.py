"""The plan-change and credit handler tests again, on the MongoDB-wire store (real transactions)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient

from billing_grpc.bootstrap import open_app
from billing_grpc.domain.clock import TestClock
from tests.unit.test_plan_change_handlers import (
    START,
    Shop,
    open_shop,
    shop_settings,
)
from tests.unit.test_plan_change_handlers import (
    test_a_prorated_immediate_cancellation_credits_the_unused_fee_and_the_credit_pays_the_next_invoice as test_cancel,
)
from tests.unit.test_plan_change_handlers import (
    test_an_interval_change_ends_the_period_at_the_change_and_restarts_the_cycle as test_interval,
)
from tests.unit.test_plan_change_handlers import (
    test_an_upgrade_mid_period_prorates_to_the_second_and_rates_usage_by_each_plan as test_upgrade,
)
from tests.unit.test_plan_change_handlers import (
    test_two_finalizations_racing_for_one_credit_spend_it_once as test_credit_race,
)

__all__ = ["test_cancel", "test_credit_race", "test_interval", "test_upgrade"]


@pytest.fixture
async def shop(mongo_uri: str, database_name: str) -> AsyncIterator[Shop]:
    clock = TestClock(START)
    settings = shop_settings(database_name).model_copy(update={"mongo_uri": mongo_uri})
    async with open_app(settings, clock=clock) as app:
        yield await open_shop(app, clock)
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_uri)
    await client.drop_database(database_name)
    await client.close()
