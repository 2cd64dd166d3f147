"""The subscriptions read model: status, current period and what the scheduler and ingestion ask of it.

`close_due_at` and `usage_open` are derived from the other fields after every event, mirroring
`Subscription.period_to_close` and the usage seal, so the scheduler and usage ingestion each
answer their question with one indexed query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from billing_grpc.domain.cycle_changes import SubscriptionAnchorChangeScheduled, SubscriptionPaused, SubscriptionResumed
from billing_grpc.domain.entitlement_events import ENTITLEMENT_EVENT_TYPES
from billing_grpc.domain.events import decode_event
from billing_grpc.domain.plan_change import (
    SubscriptionPlanChanged,
    SubscriptionPlanChangeDropped,
    SubscriptionPlanChangeScheduled,
)
from billing_grpc.domain.proration import ProrationBehavior
from billing_grpc.domain.subscription import (
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
from billing_grpc.eventstore import RecordedEvent
from projections.model import Document, Index, View

SUBSCRIPTIONS = "subscriptions"

_LIVE = frozenset(status.value for status in LIVE_STATUSES)
# Statuses whose last period may still take late usage until it is sealed.
_STOPPED = frozenset({SubscriptionStatus.CANCELED.value, SubscriptionStatus.PAUSED.value})

_Change = (
    SubscriptionCancellationScheduled
    | SubscriptionCanceled
    | SubscriptionPeriodClosed
    | SubscriptionUsageSealed
    | SubscriptionPastDue
    | SubscriptionReactivated
    | SubscriptionMarkedUnpaid
    | SubscriptionPlanChanged
    | SubscriptionPlanChangeScheduled
    | SubscriptionPlanChangeDropped
    | SubscriptionAnchorChangeScheduled
    | SubscriptionPaused
    | SubscriptionResumed
)


class SubscriptionsProjection:
    """One document per subscription; `version` is its stream's version (every event of it is handled)."""

    name = "subscriptions"
    handles = frozenset(
        {
            SubscriptionStarted.TYPE,
            SubscriptionCancellationScheduled.TYPE,
            SubscriptionCanceled.TYPE,
            SubscriptionPeriodClosed.TYPE,
            SubscriptionUsageSealed.TYPE,
            SubscriptionPastDue.TYPE,
            SubscriptionReactivated.TYPE,
            SubscriptionMarkedUnpaid.TYPE,
            SubscriptionPlanChanged.TYPE,
            SubscriptionPlanChangeScheduled.TYPE,
            SubscriptionPlanChangeDropped.TYPE,
            SubscriptionAnchorChangeScheduled.TYPE,
            SubscriptionPaused.TYPE,
            SubscriptionResumed.TYPE,
            # They share the subscription's stream: only the stream version is read from them.
            *ENTITLEMENT_EVENT_TYPES,
        }
    )
    collections: Mapping[str, Sequence[Index]] = {
        SUBSCRIPTIONS: [
            Index((("organization_id", 1), ("started_at", 1))),
            Index((("status", 1), ("current_period_end", 1))),
            # The scheduler's question: whose period close is due by now?
            Index((("close_due_at", 1),)),
            # Ingestion's question: which of an organization's subscriptions still take usage?
            Index((("organization_id", 1), ("usage_open", 1))),
        ]
    }

    async def prefetch(self, events: Sequence[RecordedEvent], view: View) -> None:
        """Load the subscriptions that the batch's changes update."""
        changed = (e.payload["subscription_id"] for e in events if e.type != SubscriptionStarted.TYPE)
        await view.prefetch(SUBSCRIPTIONS, changed)

    async def apply(self, event: RecordedEvent, view: View) -> None:
        """Create or update the subscription's document."""
        if event.type in ENTITLEMENT_EVENT_TYPES:
            stored = await view.get(SUBSCRIPTIONS, event.payload["subscription_id"])
            if stored is not None:
                view.put(SUBSCRIPTIONS, event.payload["subscription_id"], {**stored, "version": event.stream_version})
            return
        fact = decode_event(event.type, event.payload)
        if isinstance(fact, SubscriptionStarted):
            key = fact.subscription_id
            current: Document = {
                "organization_id": fact.organization_id,
                "plan_id": fact.plan_id,
                "status": fact.status.value,
                "started_at": fact.started_at,
                "cycle_anchor": fact.cycle_anchor,
                "current_period_start": fact.period_start,
                "current_period_end": fact.period_end,
                "trial_end": fact.trial_end,
                "stub_proration": fact.stub_proration.value,
                "pending_anchor": None,
                "pending_stub_proration": None,
                "paused_at": None,
                "pauses": [],
                "cancel_at": None,
                "canceled_at": None,
                "usage_open_from": None,
                "final_period_closed": False,
                "segment_start": None,
                "arrears_from": None,
                "segments": [],
                "pending_prorations": [],
                "scheduled_plan_id": None,
                # Every plan it has been on: ingestion keeps events one by one for the meters any
                # of them prices per transaction (a late event may belong to an earlier plan's period).
                "plan_history": [fact.plan_id],
            }
        else:
            assert isinstance(fact, _Change)
            key = fact.subscription_id
            stored = await view.get(SUBSCRIPTIONS, key)
            if stored is None:
                return
            current = stored
            _evolve(current, fact)
        current["version"] = event.stream_version
        current["close_due_at"] = close_due_at(current)
        current["usage_open"] = usage_open(current)
        view.put(SUBSCRIPTIONS, key, current)


def _evolve(current: Document, fact: _Change) -> None:
    """Apply one event after the start to the document (the aggregate's `evolve`, on a dict)."""
    match fact:
        case SubscriptionCancellationScheduled():
            current["cancel_at"] = fact.cancel_at
        case SubscriptionCanceled():
            current["status"] = SubscriptionStatus.CANCELED.value
            current["canceled_at"] = fact.canceled_at
            current["pending_prorations"] = [*current.get("pending_prorations", []), *fact.proration_lines]
        case SubscriptionPlanChanged() | SubscriptionPlanChangeScheduled():
            _plan_change(current, fact)
        case SubscriptionPlanChangeDropped():
            current["scheduled_plan_id"] = None
        case SubscriptionAnchorChangeScheduled():
            current["pending_anchor"] = fact.billing_anchor
            current["pending_stub_proration"] = fact.stub_proration.value
        case SubscriptionPaused():
            current["status"], current["paused_at"] = SubscriptionStatus.PAUSED.value, fact.paused_at
            current["pending_prorations"] = [*current.get("pending_prorations", []), *fact.proration_lines]
        case SubscriptionResumed():
            _resumed(current, fact)
        case SubscriptionPeriodClosed():
            if current.get("segment_start") is not None and current["segment_start"] < fact.period_end:
                # The current plan's part of the closed period: once the next period starts, the
                # cycle alone would file its late usage under the period's first segment.
                last = {"start": current["segment_start"], "end": fact.period_end, "plan_id": current["plan_id"]}
                current["segments"] = [*current.get("segments", []), last]
            current["segment_start"], current["pending_prorations"], current["arrears_from"] = None, [], None
            pending = current.get("pending_anchor")
            if pending is not None and fact.cycle_anchor == pending and fact.next_period_start is not None:
                current["stub_proration"] = current["pending_stub_proration"]
            if fact.next_period_start is not None:
                current["pending_anchor"], current["pending_stub_proration"] = None, None
            if fact.cycle_anchor is not None:
                # The cycle restarts: the closed period is no longer a period of the new cycle,
                # so ingestion needs its bounds for late usage until it is sealed.
                bounds = {"start": fact.period_start, "end": fact.period_end}
                current["segments"] = [*current.get("segments", []), bounds]
                current["cycle_anchor"] = fact.cycle_anchor
            if fact.next_period_start is None or fact.next_period_end is None:
                current["final_period_closed"] = True
                return
            # The trial is the first period: closing it starts the paid cycle.
            if current["status"] == SubscriptionStatus.TRIALING.value:
                current["status"] = SubscriptionStatus.ACTIVE.value
            current["current_period_start"] = fact.next_period_start
            current["current_period_end"] = fact.next_period_end
        case SubscriptionUsageSealed():
            current["usage_open_from"] = fact.sealed_through
            current["segments"] = [s for s in current.get("segments", []) if s["end"] > fact.sealed_through]
            current["pauses"] = [p for p in current.get("pauses", []) if p["end"] > fact.sealed_through]
        case SubscriptionPastDue():
            current["status"] = SubscriptionStatus.PAST_DUE.value
        case SubscriptionReactivated():
            current["status"] = SubscriptionStatus.ACTIVE.value
        case SubscriptionMarkedUnpaid():
            current["status"] = SubscriptionStatus.UNPAID.value


def _resumed(current: Document, fact: SubscriptionResumed) -> None:
    """Billing starts again: a new current period; the pause is a gap that never takes usage."""
    pause = {"start": current["paused_at"], "end": fact.resumed_at}
    current["pauses"] = [*current.get("pauses", []), pause]
    current["status"], current["paused_at"] = SubscriptionStatus.ACTIVE.value, None
    current["final_period_closed"] = False
    current["current_period_start"], current["current_period_end"] = fact.period_start, fact.period_end
    current["cycle_anchor"], current["stub_proration"] = fact.cycle_anchor, fact.stub_proration.value


def _plan_change(current: Document, fact: SubscriptionPlanChanged | SubscriptionPlanChangeScheduled) -> None:
    """A plan change splits the current period into usage segments (the aggregate's `_plan_changed`)."""
    if isinstance(fact, SubscriptionPlanChangeScheduled):
        current["scheduled_plan_id"] = fact.to_plan_id
        return
    start = current.get("segment_start") or current["current_period_start"]
    if start < fact.changed_at:
        segment = {"start": start, "end": fact.changed_at, "plan_id": fact.from_plan_id}
        current["segments"] = [*current.get("segments", []), segment]
    if fact.behavior is not ProrationBehavior.ALWAYS_INVOICE:  # those are on the change's invoice
        current["pending_prorations"] = [*current.get("pending_prorations", []), *fact.proration_lines]
    current["arrears_from"] = fact.arrears_from
    current["segment_start"] = fact.changed_at if fact.changed_at > current["current_period_start"] else None
    current["plan_id"], current["scheduled_plan_id"] = fact.to_plan_id, None
    history = current.get("plan_history") or [fact.from_plan_id]
    current["plan_history"] = history if fact.to_plan_id in history else [*history, fact.to_plan_id]


def close_due_at(doc: Mapping[str, Any]) -> datetime | None:
    """When the next period close is due (None: never again), as `Subscription.period_to_close` decides."""
    if doc["final_period_closed"] or doc["status"] == SubscriptionStatus.UNPAID.value:
        return None
    if doc["status"] in _LIVE:
        end: datetime = doc["current_period_end"]
        return end
    final_end = _final_period_end(doc)
    return final_end if final_end is not None and final_end > doc["current_period_start"] else None


def usage_open(doc: Mapping[str, Any]) -> bool:
    """Whether usage is still accepted: live, or canceled or paused with its last period not sealed yet."""
    if doc["status"] in _LIVE:
        return True
    final_end = _final_period_end(doc)
    if doc["status"] not in _STOPPED or final_end is None:
        return False
    sealed: datetime | None = doc["usage_open_from"]
    return sealed is None or sealed < final_end


def _final_period_end(doc: Mapping[str, Any]) -> datetime | None:
    """The end of a canceled (or paused) subscription's last period: when it stopped, or its period's end if earlier."""
    stopped: datetime | None = doc["canceled_at"] or doc.get("paused_at")
    if stopped is None:
        return None
    period_end: datetime = doc["current_period_end"]
    return min(stopped, period_end)
