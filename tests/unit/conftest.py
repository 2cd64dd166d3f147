"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from billing_grpc.bootstrap import open_in_memory_app
from billing_grpc.domain.clock import TestClock
from tests.unit.test_plan_change_handlers import START, Shop, open_shop, shop_settings


@pytest.fixture
async def shop(database_name: str) -> AsyncIterator[Shop]:
    """The plan-change shop (an organization, three plans) on the in-memory store, at January 1."""
    clock = TestClock(START)
    async with open_in_memory_app(shop_settings(database_name), clock=clock) as app:
        yield await open_shop(app, clock)
