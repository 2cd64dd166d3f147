"""The subscriptions read model's derived fields: when a close is due, whether usage is open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from projections.subscriptions import close_due_at, usage_open

START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)


def doc(status: str, **fields: Any) -> dict[str, Any]:
    base = {
        "status": status,
        "current_period_start": START,
        "current_period_end": END,
        "canceled_at": None,
        "usage_open_from": None,
        "final_period_closed": False,
    }
    return {**base, **fields}


@pytest.mark.parametrize("status", ["trialing", "active", "past_due"])
def test_a_live_subscription_is_due_at_its_period_end_and_takes_usage(status: str) -> None:
    assert close_due_at(doc(status)) == END
    assert usage_open(doc(status, usage_open_from=START))


def test_an_unpaid_subscription_is_never_due_and_takes_no_usage() -> None:
    assert close_due_at(doc("unpaid")) is None
    assert not usage_open(doc("unpaid"))


def test_a_canceled_subscription_is_due_at_the_earlier_of_its_cancellation_and_period_end() -> None:
    early = START + timedelta(days=3)
    assert close_due_at(doc("canceled", canceled_at=early)) == early
    assert close_due_at(doc("canceled", canceled_at=END + timedelta(days=3))) == END


def test_a_cancellation_at_the_period_start_leaves_no_period_to_close() -> None:
    assert close_due_at(doc("canceled", canceled_at=START)) is None


def test_nothing_is_due_once_the_final_period_is_closed() -> None:
    assert close_due_at(doc("canceled", canceled_at=END, final_period_closed=True)) is None


def test_a_canceled_subscription_takes_usage_until_its_last_period_is_sealed() -> None:
    canceled = START + timedelta(days=3)
    assert usage_open(doc("canceled", canceled_at=canceled, final_period_closed=True))
    assert usage_open(doc("canceled", canceled_at=canceled, usage_open_from=START))
    assert not usage_open(doc("canceled", canceled_at=canceled, usage_open_from=canceled))
