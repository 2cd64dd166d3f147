"""Draft invoices outside the period close: a new subscription's first one, and how segments are stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from billing_grpc.domain.base_fees import advance_fee_line
from billing_grpc.domain.invoice import InvoiceIssued, InvoiceReason
from billing_grpc.domain.invoicing import line_to_dict, stored_total
from billing_grpc.domain.periods import Period
from billing_grpc.domain.plan import Plan
from billing_grpc.domain.proration import ProrationBehavior
from billing_grpc.domain.subscription import SubscriptionStarted


def opening_invoice(invoice_id: str, started: SubscriptionStarted, plan: Plan, now: datetime) -> InvoiceIssued | None:
    """The invoice of a new subscription's first period, base fee in advance (none for a trial, as in Stripe).

    A first period shortened by the billing anchor bills its prorated share, or nothing under
    `stub_proration` none; a fee in arrears is billed when the period closes.
    """
    if started.trial_end is not None:
        return None
    first = Period(started.period_start, started.period_end)
    return advance_invoice(
        invoice_id,
        started.organization_id,
        started.subscription_id,
        plan,
        (first, started.cycle_anchor, started.stub_proration),
        InvoiceReason.SUBSCRIPTION_CREATE,
        now,
    )


def advance_invoice(
    invoice_id: str,
    organization_id: str,
    subscription_id: str,
    plan: Plan,
    period_of: tuple[Period, datetime, ProrationBehavior],
    reason: InvoiceReason,
    now: datetime,
) -> InvoiceIssued | None:
    """The invoice of a period's base fee in advance, `period_of` being (period, cycle anchor, stub proration).

    None when nothing is billed now: a fee in arrears, or a stub under `none`.
    """
    period, anchor, stub_proration = period_of
    fee = advance_fee_line(plan, period, anchor, stub_proration)
    if fee is None:
        return None
    lines = [line_to_dict(fee)]
    return InvoiceIssued(
        invoice_id=invoice_id,
        organization_id=organization_id,
        subscription_id=subscription_id,
        plan_id=plan.plan_id,
        currency=plan.currency,
        reason=reason,
        usage_period_start=None,
        usage_period_end=None,
        lines=lines,
        total_minor=stored_total(lines),
        issued_at=now,
        finalize_at=now,  # no usage to wait for: finalized and charged on the next cycle
    )


def segment_dicts(segments: Sequence[tuple[Period, Plan]], plan: Plan) -> list[dict[str, Any]]:
    """The stored form of a closed period's segments (none when one plan rated all of it)."""
    if len(segments) == 1 and segments[0][1].plan_id == plan.plan_id:
        return []
    return [{"period_start": p.start, "period_end": p.end, "plan_id": rated.plan_id} for p, rated in segments]


def segment_period(segment: Mapping[str, Any]) -> Period:
    """A stored segment's period (its times come back from an event payload as ISO strings)."""
    return Period(_moment(segment["period_start"]), _moment(segment["period_end"]))


def _moment(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
