"""Property: the upcoming-invoice preview is the invoice the same clock later issues.

Hypothesis draws a plan's fee terms (in advance or in arrears, prorated by second or by day), a
start with or without a billing anchor, trial and `proration_behavior`, usage, and an optional
plan change now. The preview taken just before the period's end must have exactly the lines and
total of the invoice its close issues (before finalization re-prices late usage: there is none).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_grpc.application.catalogue import NewPlan
from billing_grpc.application.organizations import NewOrganization
from billing_grpc.application.usage_queries import preview_lines
from billing_grpc.bootstrap import open_in_memory_app
from billing_grpc.domain.clock import TestClock
from billing_grpc.domain.pricing import Charge, PerUnit
from billing_grpc.domain.usage import UsageInput
from tests.unit.test_plan_change_handlers import CONTEXT, shop_settings

START = datetime(2026, 1, 31, 10, tzinfo=UTC)  # a month end: the calendar's hardest anchor
terms = st.tuples(st.sampled_from(["advance", "arrears"]), st.sampled_from(["second", "day"]))
fees = st.integers(min_value=0, max_value=10**7)


def comparable(lines: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Lines as comparable tuples: times as UTC instants, whether stored as datetimes or ISO strings."""

    def moment(value: datetime | str) -> str:
        return (value if isinstance(value, datetime) else datetime.fromisoformat(value)).isoformat()

    return sorted(
        (
            line["kind"],
            line["description"],
            str(line["amount_minor"]),
            str(line["quantity"]),
            moment(line["period_start"]),
            moment(line["period_end"]),
        )
        for line in lines
    )


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.tuples(fees, terms),
    second=st.tuples(fees, terms),
    anchor_days=st.one_of(st.none(), st.integers(min_value=1, max_value=27)),
    trial_days=st.sampled_from([None, 5]),
    stub_behavior=st.sampled_from(["", "none"]),
    usage=st.lists(st.integers(min_value=0, max_value=20 * 24), max_size=4),
    change=st.one_of(st.none(), st.tuples(st.integers(min_value=1, max_value=400), st.sampled_from(["", "none"]))),
)
def test_the_preview_before_a_close_is_the_invoice_the_close_issues(
    first: tuple[int, tuple[str, str]],
    second: tuple[int, tuple[str, str]],
    anchor_days: int | None,
    trial_days: int | None,
    stub_behavior: str,
    usage: list[int],
    change: tuple[int, str] | None,
) -> None:
    async def scenario() -> None:
        clock = TestClock(START)
        async with open_in_memory_app(shop_settings("preview_property"), clock=clock) as app:
            await app.catalogue.create_meter(CONTEXT, "calls", "Calls", "sum", "")
            plans = []
            for code, (fee, (timing, unit)) in (("a", first), ("b", second)):
                charges = [Charge("calls", PerUnit(Decimal("0.5")))]
                plan_id, _ = await app.catalogue.create_plan(
                    CONTEXT, NewPlan(code, code.upper(), "USD", "month", 1, fee, 0, charges, (), timing, unit)
                )
                plans.append(plan_id)
            organization_id, _ = await app.organizations.create(
                CONTEXT, NewOrganization("Acme", "USD", payment_method="pm_ok")
            )
            paid_start = START + timedelta(days=trial_days or 0)
            anchor = None if anchor_days is None else paid_start + timedelta(days=anchor_days)
            sub, _ = await app.subscriptions.start(
                CONTEXT, organization_id, plans[0], None, anchor, trial_days, stub_behavior
            )
            await app.projections.wait_until(await app.store.head_position())
            doc = await app.read_models.get("subscriptions", sub)
            assert doc is not None
            period_end: datetime = doc["current_period_end"]
            span = period_end - START
            moments = sorted(START + min(timedelta(hours=h), span - timedelta(hours=1)) for h in usage)
            for index, moment in enumerate(moments):
                clock.advance_to(max(moment, clock.now()))
                await app.usage.ingest(CONTEXT, [UsageInput(organization_id, "calls", "3", moment, f"k{index}", {})])
            if change is not None and START + timedelta(hours=change[0]) < period_end - timedelta(hours=1):
                clock.advance_to(max(START + timedelta(hours=change[0]), clock.now()))
                await app.plan_changes.change(CONTEXT, sub, plans[1], change[1], False)
            clock.advance_to(max(period_end - timedelta(minutes=1), clock.now()))
            await app.projections.wait_until(await app.store.head_position())
            doc = await app.read_models.get("subscriptions", sub)
            assert doc is not None
            currency, previewed, _ = await preview_lines(app.read_models, app.usage.catalog, doc)
            await app.cycle.advance(clock, period_end + timedelta(minutes=1))
            await app.projections.wait_until(await app.store.head_position())
            issued = [
                i
                for i in await app.read_models.find("invoices", {"subscription_id": sub})
                if i["usage_period_end"] == period_end
            ]
            assert len(issued) == 1, issued
            assert currency == issued[0]["currency"]
            assert comparable(previewed) == comparable(issued[0]["lines"])

    asyncio.run(scenario())
