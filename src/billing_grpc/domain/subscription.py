"""Subscriptions: an organization billed by a plan, and the billing periods it moves through.

A trial is its own first period, [start, trial end), and the first paid period starts when the
trial ends (as in Stripe): the cycle is then anchored on the trial end, or on the billing anchor.
Canceling at period end only schedules the cancellation; the period close carries it out.

Closing a period rolls the subscription into the next one (or ends it) and names the invoice
that bills it. Sealing a period comes later, when that invoice is finalized: from then on no
usage is accepted into it. Both move the subscription's stream version, which usage ingestion
expects, so usage can never slip into a period after its seal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from billing_grpc.domain import periods
from billing_grpc.domain.cycle_changes import SubscriptionAnchorChangeScheduled, SubscriptionPaused, SubscriptionResumed
from billing_grpc.domain.entitlement_events import EntitlementsRestored, EntitlementsSuspended
from billing_grpc.domain.errors import FailedPrecondition
from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.invoicing import line_to_dict
from billing_grpc.domain.periods import Period
from billing_grpc.domain.plan import Plan
from billing_grpc.domain.plan_change import (
    SubscriptionPlanChanged,
    SubscriptionPlanChangeDropped,
    SubscriptionPlanChangeScheduled,
)
from billing_grpc.domain.proration import ProrationBehavior, credit_line
from billing_grpc.domain.subscription_events import (
    LIVE_STATUSES,
    SubscriptionCanceled,
    SubscriptionCancellationScheduled,
    SubscriptionMarkedUnpaid,
    SubscriptionPastDue,
    SubscriptionPeriodClosed,
    SubscriptionReactivated,
    SubscriptionStarted,
    SubscriptionStatus,
    SubscriptionUsageSealed,
)

__all__ = [
    "LIVE_STATUSES",
    "Segment",
    "Subscription",
    "SubscriptionCanceled",
    "SubscriptionCancellationScheduled",
    "SubscriptionMarkedUnpaid",
    "SubscriptionPastDue",
    "SubscriptionPeriodClosed",
    "SubscriptionReactivated",
    "SubscriptionStarted",
    "SubscriptionStatus",
    "SubscriptionUsageSealed",
    "evolve",
    "stream_of",
]



@dataclass(frozen=True)
class Segment:
    """A part of a period billed by one plan: the whole period, or the time between plan changes."""

    period: Period
    plan_id: str


@dataclass(frozen=True)
class Subscription:
    """The state of one subscription, folded from its stream."""

    subscription_id: str
    organization_id: str
    plan_id: str
    status: SubscriptionStatus
    started_at: datetime
    cycle_anchor: datetime
    current_period: Period
    trial_end: datetime | None
    cancel_at: datetime | None
    canceled_at: datetime | None
    # Usage stamped before this moment belongs to an invoiced (sealed) period.
    sealed_through: datetime | None = None
    # Whether the last period (ended by a cancellation) has been closed: nothing more to bill.
    final_period_closed: bool = False
    # Plan changes within the current period: where the current plan's segment starts, and the
    # segments before it (each rated by its own plan at the close).
    segment_start: datetime | None = None
    segments: tuple[Segment, ...] = ()
    # Proration lines waiting for the next invoice (create_prorations, a prorated cancellation).
    pending_prorations: tuple[dict[str, Any], ...] = ()
    scheduled_plan_id: str | None = None
    # Whether the past-due policy suspended the entitlements (restored when the invoice is paid).
    entitlements_suspended: bool = False
    # Where the current plan's fee in arrears starts counting, when not at its segment's start.
    arrears_from: datetime | None = None
    # What a period shortened by the billing anchor bills (see SubscriptionStarted).
    stub_proration: ProrationBehavior = ProrationBehavior.CREATE_PRORATIONS
    # A billing anchor change waiting for the current period's end, and what its stub bills.
    pending_anchor: datetime | None = None
    pending_stub_proration: ProrationBehavior = ProrationBehavior.CREATE_PRORATIONS
    # When a pause ended the current period (None unless paused).
    paused_at: datetime | None = None

    @classmethod
    def replay(cls, events: Iterable[DomainEvent]) -> Subscription | None:
        """Fold the stream's events; None if the subscription was never started."""
        state: Subscription | None = None
        for event in events:
            state = evolve(state, event)
        return state

    @property
    def is_live(self) -> bool:
        """Whether the subscription still accrues charges."""
        return self.status in LIVE_STATUSES

    def whole_period(self, interval: periods.Interval) -> Period:
        """The cycle's whole period the current one is part of: fees are prorated over it."""
        return periods.whole_period(self.cycle_anchor, interval, self.current_period)

    def base_fee_free(self, interval: periods.Interval) -> bool:
        """Whether the current period bills no base fee: a trial, or a stub under `stub_proration` none."""
        if self.trial_end is not None and self.current_period.end <= self.trial_end:
            return True
        shortened = self.whole_period(interval) != self.current_period
        return shortened and self.stub_proration is ProrationBehavior.NONE

    @property
    def following_stub_proration(self) -> ProrationBehavior:
        """What the period after the current one bills if it is a stub (a scheduled anchor change's choice)."""
        return self.pending_stub_proration if self.pending_anchor is not None else self.stub_proration

    def period_to_close(self, interval: periods.Interval, now: datetime) -> tuple[Period, Period | None] | None:
        """The period due for closing at `now` and the one that follows it (None: the subscription ends).

        None when nothing is due: the current period is still running, or the subscription ended
        and its last period is closed already.
        """
        if self.final_period_closed or self.status is SubscriptionStatus.UNPAID:
            return None
        if self.status is SubscriptionStatus.CANCELED or self.status is SubscriptionStatus.PAUSED:
            stopped = self.canceled_at or self.paused_at
            assert stopped is not None
            end = min(stopped, self.current_period.end)
            if end <= self.current_period.start:  # stopped the instant the period began: nothing to close
                return None
            return (Period(self.current_period.start, end), None) if now >= end else None
        if now < self.current_period.end:
            return None
        if self.cancel_at is not None and self.cancel_at <= self.current_period.end:
            return self.current_period, None
        return self.current_period, self._following(self.current_period, interval)

    def plan_segments(self, closed: Period) -> list[Segment]:
        """The closed period's parts and the plan that rates each one's usage."""
        earlier = [segment for segment in self.segments if segment.period.start < closed.end]
        start = self.segment_start if self.segment_start is not None else closed.start
        return [*earlier, Segment(Period(start, closed.end), self.plan_id)] if start < closed.end else earlier

    def _following(self, closed: Period, interval: periods.Interval) -> Period:
        """The period after `closed`: a stub up to the billing anchor (or a new one), else the next of the cycle."""
        if self.pending_anchor is not None and closed.end < self.pending_anchor:
            return Period(closed.end, self.pending_anchor)
        if closed.end < self.cycle_anchor:
            return Period(closed.end, self.cycle_anchor)
        return periods.next_period(self.cycle_anchor, interval, closed)

    def close_period(self, invoice_id: str, interval: periods.Interval, now: datetime) -> list[DomainEvent]:
        """Decide closing the due period: roll into the next one, or end (a scheduled cancellation)."""
        due = self.period_to_close(interval, now)
        if due is None:
            raise FailedPrecondition("period_not_ended", f"subscription {self.subscription_id} has no period to close")
        closed, following = due
        events: list[DomainEvent] = [
            SubscriptionPeriodClosed(
                subscription_id=self.subscription_id,
                period_start=closed.start,
                period_end=closed.end,
                next_period_start=following.start if following else None,
                next_period_end=following.end if following else None,
                invoice_id=invoice_id,
                closed_at=now,
                cycle_anchor=self._moved_anchor(following),
            )
        ]
        if following is None and self.status not in {SubscriptionStatus.CANCELED, SubscriptionStatus.PAUSED}:
            ended = SubscriptionCanceled(
                subscription_id=self.subscription_id, canceled_at=closed.end, at_period_end=True
            )
            events.append(ended)
        return events

    def _moved_anchor(self, following: Period | None) -> datetime | None:
        """The anchor the cycle moves to at this close: a scheduled anchor's, or (a pause) the same one.

        Naming it on the close tells the read side the closed period is no longer one of the
        cycle's, so late usage still finds its bounds until it is sealed.
        """
        if following is not None and self.pending_anchor is not None and following.end == self.pending_anchor:
            return self.pending_anchor
        return self.cycle_anchor if self.status is SubscriptionStatus.PAUSED else None

    def seal_usage(self, through: datetime, now: datetime) -> list[DomainEvent]:
        """Decide refusing usage before `through` from now on (nothing to do if sealed already)."""
        if self.sealed_through is not None and self.sealed_through >= through:
            return []
        return [SubscriptionUsageSealed(subscription_id=self.subscription_id, sealed_through=through, sealed_at=now)]

    def payment_failed(self, invoice_id: str, now: datetime) -> list[DomainEvent]:
        """Decide the subscription's side of a failed payment: past due, if it was active."""
        if self.status not in {SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING}:
            return []
        return [SubscriptionPastDue(subscription_id=self.subscription_id, invoice_id=invoice_id, at=now)]

    def invoice_paid(self, invoice_id: str, now: datetime) -> list[DomainEvent]:
        """Decide the subscription's side of a paid invoice: active again, if it was past due."""
        if self.status is not SubscriptionStatus.PAST_DUE:
            return []
        return [SubscriptionReactivated(subscription_id=self.subscription_id, invoice_id=invoice_id, at=now)]

    def dunning_exhausted(self, invoice_id: str, cancel: bool, now: datetime) -> list[DomainEvent]:
        """Decide the subscription's side of an uncollectible invoice: canceled now, or unpaid."""
        if not self.is_live:
            return []
        if cancel:
            return [SubscriptionCanceled(subscription_id=self.subscription_id, canceled_at=now, at_period_end=False)]
        return [SubscriptionMarkedUnpaid(subscription_id=self.subscription_id, invoice_id=invoice_id, at=now)]

    def cancel(
        self, now: datetime, at_period_end: bool, prorate: bool = False, plan: Plan | None = None
    ) -> list[DomainEvent]:
        """Decide canceling now (optionally crediting the unused base fee), or at the period's end."""
        if self.status is SubscriptionStatus.CANCELED:
            raise FailedPrecondition(
                "subscription_canceled", f"subscription {self.subscription_id} is already canceled"
            )
        if at_period_end:
            if self.cancel_at is not None:
                return []
            end = self.current_period.end
            return [
                SubscriptionCancellationScheduled(subscription_id=self.subscription_id, cancel_at=end, requested_at=now)
            ]
        lines: list[dict[str, Any]] = []
        # Only a fee paid in advance leaves unused time to credit: a trial or a free stub paid
        # none, and a fee in arrears bills the time served when the last period closes.
        if prorate and plan is not None and not plan.in_arrears and not self.base_fee_free(plan.interval):
            credit = credit_line(plan, self.whole_period(plan.interval), now)
            lines = [line_to_dict(credit)] if credit is not None else []
        return [
            SubscriptionCanceled(
                subscription_id=self.subscription_id, canceled_at=now, at_period_end=False, proration_lines=lines
            )
        ]


def evolve(state: Subscription | None, event: DomainEvent) -> Subscription | None:
    """The subscription after one more event."""
    if isinstance(event, SubscriptionStarted):
        return _started(event)
    if state is None:
        return None
    if isinstance(event, SubscriptionCancellationScheduled):
        return replace(state, cancel_at=event.cancel_at)
    if isinstance(event, SubscriptionCanceled):
        pending = (*state.pending_prorations, *event.proration_lines)
        return replace(
            state, status=SubscriptionStatus.CANCELED, canceled_at=event.canceled_at, pending_prorations=pending
        )
    if isinstance(event, SubscriptionPlanChanged):
        return _plan_changed(state, event)
    if isinstance(event, SubscriptionPlanChangeScheduled):
        return replace(state, scheduled_plan_id=event.to_plan_id)
    if isinstance(event, SubscriptionPlanChangeDropped):
        return replace(state, scheduled_plan_id=None)
    if isinstance(event, SubscriptionAnchorChangeScheduled):
        return replace(state, pending_anchor=event.billing_anchor, pending_stub_proration=event.stub_proration)
    if isinstance(event, SubscriptionPaused):
        pending = (*state.pending_prorations, *event.proration_lines)
        return replace(state, status=SubscriptionStatus.PAUSED, paused_at=event.paused_at, pending_prorations=pending)
    if isinstance(event, SubscriptionResumed):
        return _resumed(state, event)
    if isinstance(event, SubscriptionPeriodClosed):
        return _period_closed(state, event)
    if isinstance(event, SubscriptionUsageSealed):
        return replace(state, sealed_through=event.sealed_through)
    if isinstance(event, SubscriptionPastDue):
        return replace(state, status=SubscriptionStatus.PAST_DUE)
    if isinstance(event, SubscriptionReactivated):
        return replace(state, status=SubscriptionStatus.ACTIVE)
    if isinstance(event, SubscriptionMarkedUnpaid):
        return replace(state, status=SubscriptionStatus.UNPAID)
    if isinstance(event, EntitlementsSuspended | EntitlementsRestored):
        return replace(state, entitlements_suspended=isinstance(event, EntitlementsSuspended))
    return state


def _period_closed(state: Subscription, event: SubscriptionPeriodClosed) -> Subscription:
    # The close's invoice took the segments and the pending prorations.
    state = replace(state, segment_start=None, segments=(), pending_prorations=(), arrears_from=None)
    if event.next_period_start is None or event.next_period_end is None:
        return replace(state, final_period_closed=True)
    # The trial is the first period: closing it starts the paid cycle.
    status = SubscriptionStatus.ACTIVE if state.status is SubscriptionStatus.TRIALING else state.status
    anchor = event.cycle_anchor or state.cycle_anchor
    following = Period(event.next_period_start, event.next_period_end)
    stub = state.following_stub_proration if state.pending_anchor == event.cycle_anchor else state.stub_proration
    return replace(
        state, status=status, current_period=following, cycle_anchor=anchor, pending_anchor=None, stub_proration=stub
    )


def _resumed(state: Subscription, event: SubscriptionResumed) -> Subscription:
    return replace(
        state,
        status=SubscriptionStatus.ACTIVE,
        paused_at=None,
        current_period=Period(event.period_start, event.period_end),
        cycle_anchor=event.cycle_anchor,
        stub_proration=event.stub_proration,
        final_period_closed=False,
    )


def _plan_changed(state: Subscription, event: SubscriptionPlanChanged) -> Subscription:
    start = state.segment_start or state.current_period.start
    segments = state.segments
    if start < event.changed_at:  # a change at the very start of a period splits nothing
        segments = (*segments, Segment(Period(start, event.changed_at), state.plan_id))
    pending = state.pending_prorations
    if event.behavior is not ProrationBehavior.ALWAYS_INVOICE:  # those are on the change's invoice
        pending = (*pending, *event.proration_lines)
    segment_start = event.changed_at if event.changed_at > state.current_period.start else None
    return replace(
        state,
        plan_id=event.to_plan_id,
        segment_start=segment_start,
        segments=segments,
        pending_prorations=pending,
        scheduled_plan_id=None,
        arrears_from=event.arrears_from,
    )


def _started(event: SubscriptionStarted) -> Subscription:
    return Subscription(
        subscription_id=event.subscription_id,
        organization_id=event.organization_id,
        plan_id=event.plan_id,
        status=event.status,
        started_at=event.started_at,
        cycle_anchor=event.cycle_anchor,
        current_period=Period(event.period_start, event.period_end),
        trial_end=event.trial_end,
        cancel_at=None,
        canceled_at=None,
        stub_proration=event.stub_proration,
    )


def stream_of(subscription_id: str) -> str:
    """The stream that holds a subscription's events."""
    return f"subscription-{subscription_id}"
