"""Reading usage back: a period's aggregated usage, and the invoice an open period would produce."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from billing_grpc.application.usage_catalog import UsageCatalog
from billing_grpc.domain import billing_alignment
from billing_grpc.domain import plan as plans
from billing_grpc.domain.base_fees import closing_fee_lines
from billing_grpc.domain.cycle_changes import CycleAnchor
from billing_grpc.domain.invoicing import MeterUsage, line_to_dict, usage_lines
from billing_grpc.domain.meter import Aggregation
from billing_grpc.domain.periods import Period
from billing_grpc.domain.pricing import Charge
from billing_grpc.domain.proration import ProrationBehavior
from billing_grpc.domain.subscription import Subscription, SubscriptionStatus
from billing_grpc.domain.subscription_changes import (
    alignment_of,
    change_proration,
    check_restart,
    closes_period,
)
from billing_grpc.domain.usage import stamp
from projections.model import ReadModelReader
from projections.usage import USAGE_TOTALS, transactions_in_time_order


@dataclass(frozen=True)
class UsageSummary:
    """A subscription period and its usage per charged meter."""

    period: Period
    meters: dict[str, MeterUsage]


def plan_from_document(doc: dict[str, Any]) -> plans.Plan:
    """The domain plan a plans read-model document describes."""
    state = plans.Plan.replay([plans.PlanCreated.model_validate(doc)])
    assert state is not None
    return state


async def usage_summary(
    read_models: ReadModelReader, catalog: UsageCatalog, subscription: dict[str, Any], at: datetime | None
) -> UsageSummary:
    """The usage of the period containing `at` (default: the current period).

    After a plan change the period is split into segments, each rated by its plan: the summary
    is then of the segment (the current plan's, by default).
    """
    live = await catalog.live_from(subscription)
    period = (
        Period(
            subscription.get("segment_start") or subscription["current_period_start"],
            subscription["current_period_end"],
        )
        if at is None
        else live.period_at(max(at, live.started_at))
    )
    plan_id = _plan_of(subscription, period)
    meters = await _metered(read_models, catalog, subscription["_id"], period, plan_id, priced=False)
    return UsageSummary(period, meters)


async def _metered(
    read_models: ReadModelReader,
    catalog: UsageCatalog,
    subscription_id: str,
    period: Period,
    plan_id: str,
    *,
    priced: bool = True,
) -> dict[str, MeterUsage]:
    """Per meter the plan charges: the period's (or segment's) aggregated usage (`priced`: as pricing needs it)."""
    docs = await read_models.find(
        USAGE_TOTALS, {"subscription_id": subscription_id, "period_start": stamp(period.start)}
    )
    meters: dict[str, MeterUsage] = {}
    plan = plan_from_document(await catalog.plan_document(plan_id))
    by_meter = {doc["meter_code"]: doc for doc in docs}
    for charge in plan.charges:
        meter = await catalog.meter(charge.meter_code)
        if meter is None:
            continue
        doc = by_meter.get(meter.code)
        meters[meter.code] = (
            await charged_usage(read_models, charge, meter.aggregation, doc, subscription_id, period)
            if priced
            else meter_usage(meter.aggregation, doc)
        )
    return meters


async def charged_usage(
    read_models: ReadModelReader,
    charge: Charge,
    aggregation: Aggregation,
    doc: dict[str, Any] | None,
    subscription_id: str,
    period: Period,
) -> MeterUsage:
    """A charge's usage of a (segment of a) period, with its transactions in time order if it prices them."""
    transactions = None
    if charge.per_transaction and doc is not None:
        transactions = await transactions_in_time_order(
            read_models, subscription_id, stamp(period.start), charge.meter_code
        )
    return meter_usage(aggregation, doc, transactions)


def _plan_of(subscription: dict[str, Any], period: Period) -> str:
    """The plan that rates a segment: a finished segment's own plan, else the current one."""
    for segment in subscription.get("segments") or ():
        if segment["start"] == period.start and segment.get("plan_id"):
            return str(segment["plan_id"])
    return str(subscription["plan_id"])


def _current_segments(subscription: dict[str, Any], cut: datetime | None = None) -> list[tuple[Period, str]]:
    """The current period's segments (one without a plan change) and their plans, up to `cut` (default: the end)."""
    start = subscription["current_period_start"]
    earlier = [
        (Period(s["start"], s["end"]), str(s["plan_id"]))
        for s in subscription.get("segments") or ()
        if s.get("plan_id") and s["start"] >= start
    ]
    current_start, end = subscription.get("segment_start") or start, cut or subscription["current_period_end"]
    if current_start >= end:  # a cut at the current segment's first instant leaves it empty
        return earlier
    return [*earlier, (Period(current_start, end), str(subscription["plan_id"]))]


@dataclass(frozen=True)
class ChangePreview:
    """A plan change to preview: the plan to change to, when, and the billing alignment asked for (None: default)."""

    plan_id: str
    at: datetime
    alignment: CycleAnchor | None = None


async def preview_lines(
    read_models: ReadModelReader,
    catalog: UsageCatalog,
    subscription: dict[str, Any],
    change: ChangePreview | None = None,
) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """The lines (stored form) the current period would be invoiced with if it closed now, and a change's prorations.

    Pending prorations are included, and the base fees the close bills (`base_fees`): the
    current plan's time served if it bills in arrears, the next period's fee if in advance. A
    previewed change adds its proration lines and bills the new plan from the change; when the
    change ends the period (a new interval, or `billing_cycle_anchor=now`) the preview is the
    invoice the change issues: the new plan's first period as the change would make it.
    """
    plan = plan_from_document(await catalog.plan_document(subscription["plan_id"]))
    live = await catalog.live_from(subscription)
    sub = _aggregate_of(subscription)
    target = None if change is None else plan_from_document(await catalog.plan_document(change.plan_id))
    alignment = None
    closes = False
    if change is not None and target is not None:
        alignment = alignment_of(sub, plan, target, change.alignment, at_period_end=False)
        closes = closes_period(sub, plan, target, alignment)
        if closes:
            check_restart(sub.current_period.start, change.at, sub.pending_anchor)
    lines: list[dict[str, Any]] = []
    # A change that ends the period cuts its last segment at the change, as its invoice does.
    for period, plan_id in _current_segments(subscription, change.at if change is not None and closes else None):
        rating = plan_from_document(await catalog.plan_document(plan_id))
        metered = await _metered(read_models, catalog, subscription["_id"], period, plan_id)
        lines += [line_to_dict(line) for line in usage_lines(rating, metered, period)]
    lines += subscription.get("pending_prorations") or []
    end = sub.current_period.end
    ends = sub.cancel_at or sub.canceled_at
    following = live.period_at(end) if ends is None or ends > end else None
    whole, next_anchor = sub.whole_period(plan.interval), sub.cycle_anchor
    served_plan, next_plan = plan, plan
    served_from = sub.arrears_from or sub.segment_start or sub.current_period.start
    served_to = min(ends or end, end)
    prorations: list[dict[str, Any]] = []
    if change is not None and target is not None and alignment is not None:
        prorations = change_proration(sub, plan, target, change.at, closes=closes)
        lines += prorations
        next_plan = target
        if closes:
            # The change ends the period: its invoice bills the old fee's time served in arrears.
            following, next_anchor = billing_alignment.first_period(
                alignment, sub.cycle_anchor, target.interval, change.at
            )
            served_to = change.at
        else:
            served_plan, served_from = target, change.at
    served = None if sub.base_fee_free(plan.interval) or served_from >= served_to else Period(served_from, served_to)
    fees = closing_fee_lines(served_plan, served, whole, next_plan, following, next_anchor, sub.stub_proration)
    lines += [line_to_dict(line) for line in fees]
    return next_plan.currency, lines, prorations


def _aggregate_of(doc: dict[str, Any]) -> Subscription:
    """The parts of the subscription aggregate a subscriptions read-model document holds (for fee rules)."""
    return Subscription(
        subscription_id=doc["_id"],
        organization_id=doc["organization_id"],
        plan_id=doc["plan_id"],
        status=SubscriptionStatus(doc["status"]),
        started_at=doc["started_at"],
        cycle_anchor=doc["cycle_anchor"],
        current_period=Period(doc["current_period_start"], doc["current_period_end"]),
        trial_end=doc.get("trial_end"),
        cancel_at=doc.get("cancel_at"),
        canceled_at=doc.get("canceled_at"),
        segment_start=doc.get("segment_start"),
        arrears_from=doc.get("arrears_from"),
        pending_anchor=doc.get("pending_anchor"),
        stub_proration=ProrationBehavior(doc.get("stub_proration") or ProrationBehavior.CREATE_PRORATIONS),
    )


def meter_usage(
    aggregation: Aggregation, doc: dict[str, Any] | None, transactions: tuple[Decimal, ...] | None = None
) -> MeterUsage:
    """A usage-totals read-model document as the domain's MeterUsage (no document: no usage)."""
    if doc is None:
        return MeterUsage(aggregation, 0, Decimal(0), None, None, 0, () if transactions is not None else None)
    return MeterUsage(
        aggregation=aggregation,
        event_count=doc["event_count"],
        total=Decimal(doc["sum"]),
        maximum=Decimal(doc["max"]) if doc["max"] is not None else None,
        latest=Decimal(doc["latest"]) if doc["latest"] is not None else None,
        unique_count=doc["unique_count"],
        transactions=transactions,
    )
