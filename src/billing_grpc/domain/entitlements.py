"""Entitlements: what an organization may use, following its subscriptions.

Three pure steps. `follow` decides the entitlements events a subscription's own facts cause
(granted at the start, changed with the plan, suspended or kept while past due, revoked at
the end), so every handler that appends subscription facts appends their consequence in the
same atomic append. `union` merges what an organization's live subscriptions grant. `check`
answers "may it use this much of X?".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from billing_grpc.domain.cycle_changes import SubscriptionPaused, SubscriptionResumed
from billing_grpc.domain.entitlement_events import (
    EntitlementsChanged,
    EntitlementsGranted,
    EntitlementsRestored,
    EntitlementsRevoked,
    EntitlementsSuspended,
    PastDuePolicy,
)
from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.feature import FeatureKind, FeatureValue
from billing_grpc.domain.plan import Plan
from billing_grpc.domain.plan_change import SubscriptionPlanChanged
from billing_grpc.domain.subscription import Subscription, evolve
from billing_grpc.domain.subscription_events import (
    SubscriptionCanceled,
    SubscriptionMarkedUnpaid,
    SubscriptionPastDue,
    SubscriptionReactivated,
    SubscriptionStarted,
    SubscriptionStatus,
)


def follow(
    sub: Subscription | None,
    changes: Sequence[DomainEvent],
    plans: Mapping[str, Plan],
    past_due: PastDuePolicy = PastDuePolicy.KEEP,
) -> list[DomainEvent]:
    """The subscription's changes with each one's entitlements consequence right after it.

    `sub` is the state the changes apply to (None before a start); `plans` must hold every plan
    the changes leave the subscription on. Only a payment's outcome makes a subscription past
    due, so only its handler needs to pass the operator's `past_due` policy.
    """
    out: list[DomainEvent] = []
    state = sub
    for change in changes:
        out.append(change)
        consequence = _consequence(state, change, plans, past_due)
        state = evolve(state, change)
        if consequence is not None:
            out.append(consequence)
            state = evolve(state, consequence)
    return out


def _consequence(
    state: Subscription | None, change: DomainEvent, plans: Mapping[str, Plan], past_due: PastDuePolicy
) -> DomainEvent | None:
    """The entitlements event one subscription fact causes, if any."""
    if isinstance(change, SubscriptionStarted):
        reason = "trial_started" if change.status is SubscriptionStatus.TRIALING else "subscription_started"
        plan = plans[change.plan_id]
        return EntitlementsGranted(
            organization_id=change.organization_id,
            subscription_id=change.subscription_id,
            plan_id=plan.plan_id,
            features=_snapshot(plan),
            reason=reason,
            at=change.started_at,
        )
    if state is None:
        return None
    common = {"organization_id": state.organization_id, "subscription_id": state.subscription_id}
    if isinstance(change, SubscriptionPlanChanged):
        plan = plans[change.to_plan_id]
        return EntitlementsChanged(
            **common,
            plan_id=plan.plan_id,
            from_plan_id=change.from_plan_id,
            features=_snapshot(plan),
            reason="plan_changed",
            at=change.changed_at,
        )
    current = _snapshot(plans[state.plan_id])
    if isinstance(change, SubscriptionPastDue):
        if past_due is PastDuePolicy.SUSPEND and not state.entitlements_suspended:
            return EntitlementsSuspended(
                **common, plan_id=state.plan_id, features=current, reason="past_due", at=change.at
            )
        return None
    if isinstance(change, SubscriptionReactivated) and state.entitlements_suspended:
        return EntitlementsRestored(**common, plan_id=state.plan_id, features=current, reason="paid", at=change.at)
    if isinstance(change, SubscriptionPaused) and not state.entitlements_suspended:
        return EntitlementsSuspended(
            **common, plan_id=state.plan_id, features=current, reason="paused", at=change.paused_at
        )
    if isinstance(change, SubscriptionResumed) and state.entitlements_suspended:
        return EntitlementsRestored(
            **common, plan_id=state.plan_id, features=current, reason="resumed", at=change.resumed_at
        )
    paused = state.status is SubscriptionStatus.PAUSED
    if isinstance(change, SubscriptionCanceled | SubscriptionMarkedUnpaid) and (state.is_live or paused):
        reason, at = (
            ("canceled", change.canceled_at) if isinstance(change, SubscriptionCanceled) else ("unpaid", change.at)
        )
        return EntitlementsRevoked(**common, plan_id=state.plan_id, features=current, reason=reason, at=at)
    return None


def _snapshot(plan: Plan) -> list[dict[str, object]]:
    return [value.to_dict() for value in plan.features]


@dataclass(frozen=True)
class Grant:
    """What one subscription of an organization grants now."""

    subscription_id: str
    suspended: bool
    features: tuple[FeatureValue, ...]


@dataclass(frozen=True)
class Entitlement:
    """An organization's merged right to one feature; `subscription_id` is the grant measured for usage."""

    value: FeatureValue
    subscription_id: str


def union(grants: Iterable[Grant]) -> tuple[dict[str, Entitlement], frozenset[str]]:
    """Merge the grants of an organization's subscriptions: the most generous value of each feature wins.

    Boolean: enabled if any grant enables it. Limit: the highest (unlimited wins). Metered: the
    highest cap (uncapped wins), measured on the subscription granting it. Suspended grants add
    nothing; the second result names the features only they would grant (to say why not).
    """
    merged: dict[str, Entitlement] = {}
    held_back: set[str] = set()
    for grant in sorted(grants, key=lambda g: g.subscription_id):  # ties resolve the same on every instance
        for value in grant.features:
            if grant.suspended:
                held_back.add(value.code)
                continue
            current = merged.get(value.code)
            if current is None or _more_generous(value, current.value):
                merged[value.code] = Entitlement(value, grant.subscription_id)
    return merged, frozenset(held_back - merged.keys())


def _more_generous(candidate: FeatureValue, current: FeatureValue) -> bool:
    """Whether `candidate` grants strictly more than `current` (same feature, so the same kind)."""
    if candidate.kind is FeatureKind.BOOLEAN:
        return candidate.enabled and not current.enabled
    if candidate.kind is FeatureKind.LIMIT:
        return _exceeds(candidate.limit, current.limit)
    return _exceeds(candidate.cap, current.cap)


def _exceeds(candidate: int | Decimal | None, current: int | Decimal | None) -> bool:
    """None is unlimited."""
    if current is None:
        return False
    return candidate is None or candidate > current


class Reason(StrEnum):
    """Why a check answered as it did (stable codes: callers branch on them)."""

    ENTITLED = "entitled"
    NOT_ENTITLED = "not_entitled"
    DISABLED = "disabled"
    LIMIT_EXCEEDED = "limit_exceeded"
    CAP_REACHED = "cap_reached"
    SUSPENDED = "suspended"
    UNKNOWN_FEATURE = "unknown_feature"


@dataclass(frozen=True)
class Decision:
    """A check's answer; `remaining` None means unlimited (or not a quantity: boolean features)."""

    allowed: bool
    reason: Reason
    remaining: Decimal | None = None


def check(
    entitlement: Entitlement | None, suspended: bool, requested: Decimal | None, used: Decimal = Decimal(0)
) -> Decision:
    """May the organization use `requested` of the feature?

    Limit: `requested` is the total it would hold (the product counts its seats, not us); with
    none, whether it may hold any. Metered: `requested` is more usage on top of `used` this
    period; with none, whether any more fits. `remaining` is what is left after the request,
    never below zero.
    """
    if entitlement is None:
        return Decision(False, Reason.SUSPENDED if suspended else Reason.NOT_ENTITLED, Decimal(0))
    value = entitlement.value
    if value.kind is FeatureKind.BOOLEAN:
        return Decision(True, Reason.ENTITLED) if value.enabled else Decision(False, Reason.DISABLED)
    if value.kind is FeatureKind.LIMIT:
        if value.limit is None:
            return Decision(True, Reason.ENTITLED)
        limit = Decimal(value.limit)
        fits = requested <= limit if requested is not None else limit >= 1
        remaining = max(limit - (requested or 0), Decimal(0))
        return Decision(fits, Reason.ENTITLED if fits else Reason.LIMIT_EXCEEDED, remaining)
    if value.cap is None:
        return Decision(True, Reason.ENTITLED)
    wanted = requested or Decimal(0)
    fits = used < value.cap and used + wanted <= value.cap
    remaining = max(value.cap - used - wanted, Decimal(0))
    return Decision(fits, Reason.ENTITLED if fits else Reason.CAP_REACHED, remaining)
