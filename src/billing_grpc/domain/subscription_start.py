"""Deciding a subscription's start: its status, first period and cycle anchor.

A trial is its own first period, [start, trial end), and the first paid period starts when the
trial ends (as in Stripe): the cycle is then anchored on the trial end, or on the billing anchor.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from billing_grpc.domain import periods
from billing_grpc.domain.clock import ensure_utc
from billing_grpc.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument
from billing_grpc.domain.money import CurrencyMismatch
from billing_grpc.domain.periods import Period
from billing_grpc.domain.plan import MAX_TRIAL_DAYS, Plan
from billing_grpc.domain.proration import ProrationBehavior
from billing_grpc.domain.subscription_events import SubscriptionStarted, SubscriptionStatus

# How far a start may be backdated (importing existing customers) or ahead of the server clock
# (a caller whose clock runs slightly fast). Anything further is a mistake in the request.
MAX_BACKDATE = timedelta(days=366)
MAX_CLOCK_SKEW = timedelta(minutes=5)


def start_subscription(
    subscription_id: str,
    organization_id: str,
    plan: Plan,
    organization_currency: str,
    start: datetime,
    billing_anchor: datetime | None,
    now: datetime,
    trial_days: int | None = None,
    stub_proration: ProrationBehavior = ProrationBehavior.CREATE_PRORATIONS,
) -> SubscriptionStarted:
    """Decide subscribing an organization to a plan: its status, first period and cycle anchor.

    `trial_days` (0 to 730) overrides the plan's trial; None keeps the plan's. `stub_proration`
    is what a first paid period shortened by `billing_anchor` bills: its prorated share of the
    fee, or (`none`) nothing until the anchor (see `cycle_changes.stub_behavior`).
    """
    start, now = ensure_utc(start), ensure_utc(now)
    if not now - MAX_BACKDATE <= start <= now + MAX_CLOCK_SKEW:
        violation = FieldViolation("start_time", f"must be between {now - MAX_BACKDATE} and {now + MAX_CLOCK_SKEW}")
        raise InvalidArgument.of(violation)
    if trial_days is not None and not 0 <= trial_days <= MAX_TRIAL_DAYS:
        raise InvalidArgument.of(FieldViolation("trial_days", f"must be between 0 and {MAX_TRIAL_DAYS}"))
    days = plan.trial_days if trial_days is None else trial_days
    trial_end = start + timedelta(days=days) if days > 0 else None
    # The billing anchor shapes the first paid period, which starts when the trial (if any) ends.
    paid_start = trial_end if trial_end is not None else start
    first_paid = periods.first_period(paid_start, plan.interval, billing_anchor)
    if plan.archived:
        raise FailedPrecondition("plan_archived", f"plan {plan.plan_id} is archived and takes no new subscriptions")
    if plan.currency != organization_currency:
        theirs = organization_currency or "no currency"
        message = f"plan {plan.plan_id} bills in {plan.currency}, the organization in {theirs}"
        raise CurrencyMismatch("currency_mismatch", message)
    first = first_paid if trial_end is None else Period(start, trial_end)
    return SubscriptionStarted(
        subscription_id=subscription_id,
        organization_id=organization_id,
        plan_id=plan.plan_id,
        status=SubscriptionStatus.ACTIVE if trial_end is None else SubscriptionStatus.TRIALING,
        started_at=start,
        cycle_anchor=periods.cycle_anchor(paid_start, billing_anchor),
        period_start=first.start,
        period_end=first.end,
        trial_end=trial_end,
        stub_proration=stub_proration,
    )
