"""A subscription that moves under a usage batch holds back only its own organization's events."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import pytest

from billing_grpc.application.context import system_context
from billing_grpc.application.organizations import NewOrganization
from billing_grpc.application.usage import REJUDGE_RETRIES, Outcome
from billing_grpc.domain import subscription as subscriptions
from billing_grpc.domain.errors import ConcurrencyConflict
from billing_grpc.domain.usage import UsageInput
from billing_grpc.eventstore import WrongExpectedVersion
from tests.unit.test_plan_change_handlers import START, Shop

CONTEXT = system_context()
WHEN = START + timedelta(days=3)


class MovingSubscription:
    """Wraps the store's append: while `moves` lasts, an append expecting the busy subscription's
    stream meets it one version further, as when a billing run appends to it meanwhile."""

    def __init__(self, append: Callable[..., Any], busy_stream: str, moves: int) -> None:
        self._append = append
        self.busy_stream = busy_stream
        self.moves = moves
        self.expectations: list[set[str]] = []  # the streams each append expected, in order

    async def __call__(self, *appends: Any, claims: Sequence[str] = (), expect: Mapping[str, int] | None = None) -> Any:
        expected = dict(expect or {})
        self.expectations.append(set(expected))
        if self.busy_stream in expected and self.moves > 0:
            self.moves -= 1
            version = expected[self.busy_stream]
            raise WrongExpectedVersion(self.busy_stream, version, version + 1)
        return await self._append(*appends, claims=claims, expect=expect)


async def _two_tenants(shop: Shop, monkeypatch: pytest.MonkeyPatch, moves: int) -> tuple[str, MovingSubscription]:
    """The shop's organization (its subscription will be busy) and a quiet second one, both on Basic."""
    busy = await shop.subscribe(shop.basic)
    quiet_org, _ = await shop.app.organizations.create(CONTEXT, NewOrganization("Quiet", "USD", payment_method="pm_ok"))
    _, position = await shop.app.subscriptions.start(CONTEXT, quiet_org, shop.basic, None, None)
    await shop.app.projections.wait_until(position)
    shop.clock.advance_to(WHEN)
    store = shop.app.usage.writer.store
    moving = MovingSubscription(store.append, subscriptions.stream_of(busy), moves)
    monkeypatch.setattr(store, "append", moving)
    return quiet_org, moving


def _batch(busy_org: str, quiet_org: str) -> list[UsageInput]:
    return [
        UsageInput(organization, "calls", "1", WHEN, f"{organization}-{n}", {})
        for n in range(3)
        for organization in (busy_org, quiet_org)
    ]


async def test_a_batch_is_recorded_when_a_subscription_keeps_moving_for_as_many_tries_as_a_batch_had(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The soak benchmark found whole batches aborted `usage_contended` during billing runs."""
    quiet_org, moving = await _two_tenants(shop, monkeypatch, moves=REJUDGE_RETRIES)

    results = await shop.app.usage.ingest(CONTEXT, _batch(shop.organization_id, quiet_org))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 6
    quiet_appends = [streams for streams in moving.expectations if moving.busy_stream not in streams]
    assert len(quiet_appends) == 1, "the quiet organization's events waited for the busy subscription"
    again = await shop.app.usage.ingest(CONTEXT, _batch(shop.organization_id, quiet_org))
    assert [r.outcome for r in again] == [Outcome.DUPLICATE] * 6  # each counted once


async def test_a_subscription_that_never_settles_aborts_the_call_but_the_rest_is_recorded_once(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet_org, moving = await _two_tenants(shop, monkeypatch, moves=1_000)

    with pytest.raises(ConcurrencyConflict, match="resend the batch"):
        await shop.app.usage.ingest(CONTEXT, _batch(shop.organization_id, quiet_org))

    moving.moves = 0  # the run is over: the client resends the whole batch
    results = await shop.app.usage.ingest(CONTEXT, _batch(shop.organization_id, quiet_org))
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.DUPLICATE] * 3
