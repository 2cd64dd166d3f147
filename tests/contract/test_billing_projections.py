"""The billing read models on every store: subscriptions, invoices, payments, balances, entitlements.

Events come from the domain's own decisions (close a period, finalize, collect, void) and are
appended the way the billing handlers append them; the runner then folds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from billing_grpc.domain import credit as credits
from billing_grpc.domain import invoice as invoices
from billing_grpc.domain import invoice_numbering
from billing_grpc.domain import subscription as subscriptions
from billing_grpc.domain.dunning import UNRESOLVED_RECHECK, DunningPolicy, FinalAction
from billing_grpc.domain.entitlement_events import PastDuePolicy
from billing_grpc.domain.entitlements import follow
from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.feature import FeatureKind, FeatureValue
from billing_grpc.domain.invoice import (
    BillingCalculated,
    Invoice,
    InvoiceIssued,
    InvoiceReason,
    PaymentStarted,
)
from billing_grpc.domain.invoicing import line_to_dict
from billing_grpc.domain.periods import Interval, IntervalUnit
from billing_grpc.domain.plan import Plan, create_plan
from billing_grpc.domain.plan_change import SubscriptionPlanChanged, SubscriptionPlanChangeScheduled
from billing_grpc.domain.proration import ProrationBehavior, change_lines
from billing_grpc.domain.subscription import Subscription, SubscriptionStarted, SubscriptionStatus
from billing_grpc.eventstore import EventStore, NewEvent, StreamAppend
from projections.balances import BALANCE_INVOICES, BALANCES, BalancesProjection, balance_key
from projections.entitlements import ENTITLEMENTS, EntitlementsProjection
from projections.invoices import BILLING_RECORDS, INVOICES, InvoicesProjection
from projections.model import Document, Projection
from projections.payments import PAYMENTS, PaymentsProjection
from projections.runner import ProjectionRunner
from projections.store import ReadModelStore
from projections.subscriptions import SUBSCRIPTIONS, SubscriptionsProjection

T0 = datetime(2026, 3, 1, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, tzinfo=UTC)
MAY = datetime(2026, 5, 1, tzinfo=UTC)
MONTHLY = Interval(IntervalUnit.MONTH)
DUNNING = DunningPolicy(retry_days=(1, 3), final_action=FinalAction.UNPAID)


def billing_projections() -> list[Projection]:
    return [
        SubscriptionsProjection(),
        InvoicesProjection(),
        PaymentsProjection(),
        BalancesProjection(),
        EntitlementsProjection(),
    ]


def entitled_plan(plan_id: str, seats: int) -> Plan:
    values = (FeatureValue("seats", FeatureKind.LIMIT, limit=seats), FeatureValue("sso", FeatureKind.BOOLEAN))
    state = Plan.replay([create_plan(plan_id, plan_id, "P", "USD", "month", 1, 4900, 0, (), T0, values)])
    assert state is not None
    return state


# The plans the World's subscriptions move between, with features, for worlds that follow entitlements.
ENTITLED_PLANS = {p.plan_id: p for p in (entitled_plan("plan-pro", 5), entitled_plan("plan-max", 50))}


def line(amount_minor: int, start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "kind": "base_fee",
        "description": "Pro",
        "meter_code": "",
        "quantity": "1",
        "unit_amount": str(amount_minor),
        "amount_minor": amount_minor,
        "period_start": start,
        "period_end": end,
        "breakdown": [],
    }


class World:
    """Subscriptions and invoices driven by their domain decisions, appended to one store."""

    def __init__(self, store: EventStore, entitled: bool = False) -> None:
        self.store = store
        # Append each subscription fact's entitlements consequence, as the handlers do (policy: suspend).
        self.entitled = entitled
        self.subs: dict[str, Subscription] = {}
        self.invoices: dict[str, Invoice] = {}
        self.payments = 0

    async def emit(self, events: Sequence[DomainEvent]) -> None:
        """Append each event to its aggregate's stream and fold it into that aggregate."""
        for event in events:
            if self.entitled and event.TYPE.startswith("subscription."):
                current = self.subs.get(event.payload()["subscription_id"])
                await self._append(follow(current, [event], ENTITLED_PLANS, PastDuePolicy.SUSPEND))
            else:
                await self._append([event])

    async def _append(self, events: Sequence[DomainEvent]) -> None:
        for event in events:
            fields = event.payload()
            if event.TYPE.startswith("credit."):
                organization = fields["organization_id"]
                stream = credits.stream_of(organization)
            elif event.TYPE.startswith(("subscription.", "entitlements.")):
                sub_id: str = fields["subscription_id"]
                state = subscriptions.evolve(self.subs.get(sub_id), event)
                assert state is not None
                self.subs[sub_id] = state
                stream, organization = subscriptions.stream_of(sub_id), state.organization_id
            else:
                inv_id: str = fields["invoice_id"]
                current = self.invoices.get(inv_id)
                if not isinstance(event, BillingCalculated):
                    folded = invoices.evolve(current, event)
                    assert folded is not None
                    self.invoices[inv_id] = folded
                stream, organization = invoices.stream_of(inv_id), self.invoices[inv_id].organization_id
            new = NewEvent(type=event.TYPE, payload=fields, occurred_at=T0, organization_id=organization)
            await self.store.append(StreamAppend(stream, None, (new,)))

    async def start(self, sub_id: str, org: str = "org-1", trial_days: int = 0) -> None:
        if trial_days:
            trial_end = T0 + timedelta(days=trial_days)
            started = SubscriptionStarted(
                subscription_id=sub_id,
                organization_id=org,
                plan_id="plan-pro",
                status=SubscriptionStatus.TRIALING,
                started_at=T0,
                cycle_anchor=trial_end,
                period_start=T0,
                period_end=trial_end,
                trial_end=trial_end,
            )
        else:
            started = SubscriptionStarted(
                subscription_id=sub_id,
                organization_id=org,
                plan_id="plan-pro",
                status=SubscriptionStatus.ACTIVE,
                started_at=T0,
                cycle_anchor=T0,
                period_start=T0,
                period_end=APRIL,
                trial_end=None,
            )
        await self.emit([started])

    async def issue(self, inv_id: str, sub_id: str, total: int, currency: str = "USD") -> None:
        sub = self.subs[sub_id]
        issued = InvoiceIssued(
            invoice_id=inv_id,
            organization_id=sub.organization_id,
            subscription_id=sub_id,
            plan_id=sub.plan_id,
            currency=currency,
            reason=InvoiceReason.SUBSCRIPTION_CYCLE,
            usage_period_start=T0,
            usage_period_end=APRIL,
            lines=[line(total, T0, APRIL)],
            total_minor=total,
            issued_at=APRIL,
            finalize_at=APRIL + timedelta(hours=1),
        )
        await self.emit([issued])

    async def finalize(
        self, inv_id: str, sequence: int = 1, now: datetime = APRIL + timedelta(hours=1), credit: int = 0
    ) -> None:
        """Finalize, spending `credit` of the organization's (granted beforehand) as the handler would."""
        inv = self.invoices[inv_id]
        lines = [line(inv.total_minor, T0, APRIL)]
        calculation = BillingCalculated(
            invoice_id=inv_id,
            subscription_id=inv.subscription_id,
            plan_id=inv.plan_id,
            currency=inv.currency,
            usage_period_start=inv.usage_period_start,
            usage_period_end=inv.usage_period_end,
            sealed_at_position=7,
            usage=[{"meter_code": "api", "aggregation": "sum", "quantity": "0", "event_count": 0}],
            lines=lines,
            subtotal_minor=inv.total_minor,
            total_minor=inv.total_minor,
            calculated_at=now,
        )
        number = invoice_numbering.invoice_number(inv.organization_id, sequence)
        spent: list[DomainEvent] = []
        if credit:
            applied, spent = credits.CustomerCredit(inv.organization_id, credit).settle(
                inv.currency, inv_id, inv.total_minor, now
            )
            assert applied == credit
        await self.emit([*spent, *inv.finalization(number, sequence, lines, calculation, now, credit_applied=credit)])

    async def collect(self, inv_id: str, now: datetime, succeeded: bool) -> str:
        """One payment attempt and its outcome, with the subscription's side, as the billing handlers decide."""
        self.payments += 1
        attempt = self.invoices[inv_id].start_payment(f"pay-{self.payments}", "card", now)
        assert isinstance(attempt, PaymentStarted)
        await self.emit([attempt])
        inv = self.invoices[inv_id]
        failure = ("", "") if succeeded else ("card_declined", "Your card was declined.")
        outcome = inv.payment_outcome(f"ch-{self.payments}", succeeded, *failure, DUNNING, now)
        await self.emit(outcome)
        sub = self.subs[inv.subscription_id]
        kinds = {type(e) for e in outcome}
        if invoices.InvoicePaid in kinds:
            await self.emit(sub.invoice_paid(inv_id, now))
        elif invoices.InvoiceMarkedUncollectible in kinds:
            await self.emit(sub.dunning_exhausted(inv_id, DUNNING.final_action is FinalAction.CANCEL, now))
        else:
            await self.emit(sub.payment_failed(inv_id, now))
        return attempt.payment_id

    async def void(self, inv_id: str, now: datetime) -> None:
        await self.emit(self.invoices[inv_id].void(now))


async def fold(store: EventStore, read_models: ReadModelStore) -> ProjectionRunner:
    runner = ProjectionRunner(store, read_models, billing_projections(), batch_size=3)
    await runner.catch_up()
    return runner


async def get(read_models: ReadModelStore, collection: str, key: str) -> Document:
    doc = await read_models.get(collection, key)
    assert doc is not None, f"no {collection} document {key}"
    return doc


async def assert_balanced(read_models: ReadModelStore) -> list[Document]:
    """Every balance satisfies invoiced = paid + credit applied + outstanding + uncollectible + voided,
    each bucket the sum of its finalized invoices' figures, and every invoice's figures agree."""
    balances = await read_models.find(BALANCES, {})
    invoiced = [i for i in await read_models.find(INVOICES, {}) if i["finalized_at"] is not None]
    for i in invoiced:
        total, credit, due, paid, remaining = figures(i)
        assert due == total - credit >= 0 and paid in {0, due}, i
        assert remaining == (0 if i["status"] in {"paid", "void"} else due - paid), i
    for b in balances:
        parts = b["paid_minor"] + b["credit_applied_minor"] + b["outstanding_minor"]
        parts += b["uncollectible_minor"] + b["voided_minor"]
        assert b["credit_minor"] >= 0, b
        assert b["invoiced_minor"] == parts, b
        assert all(isinstance(b[f], int) for f in b if f.endswith("_minor"))
        mine = [i for i in invoiced if (i["organization_id"], i["currency"]) == (b["organization_id"], b["currency"])]
        assert b["invoiced_minor"] == summed(mine, "total_minor"), b
        assert b["credit_applied_minor"] == summed(mine, "credit_applied_minor"), b
        assert b["paid_minor"] == summed(mine, "amount_paid_minor", "paid"), b
        assert b["outstanding_minor"] == summed(mine, "amount_remaining_minor", "open"), b
        assert b["uncollectible_minor"] == summed(mine, "amount_remaining_minor", "uncollectible"), b
        assert b["voided_minor"] == summed(mine, "amount_due_minor", "void"), b
    return balances


def summed(invoices: Sequence[Document], field: str, status: str | None = None) -> int:
    """The sum of one figure over the invoices (in one status)."""
    return sum(i[field] for i in invoices if status is None or i["status"] == status)


def figures(doc: Document) -> tuple[int, int, int, int, int]:
    """An invoice document's (total, credit applied, amount due, amount paid, amount remaining)."""
    return (
        doc["total_minor"],
        doc["credit_applied_minor"],
        doc["amount_due_minor"],
        doc["amount_paid_minor"],
        doc["amount_remaining_minor"],
    )


def money(balance: Document) -> dict[str, int]:
    return {k: v for k, v in balance.items() if k.endswith("_minor")}


async def test_an_invoice_goes_from_draft_to_paid_through_a_failed_attempt_and_a_retry(
    store: EventStore, read_models: ReadModelStore
) -> None:
    world = World(store)
    await world.start("sub-1")
    await world.issue("in-1", "sub-1", 4900)
    await fold(store, read_models)

    draft = await get(read_models, INVOICES, "in-1")
    assert draft["status"] == "draft" and draft["number"] == "" and draft["sequence"] == 0
    assert draft["next_attempt_at"] is None
    assert figures(draft) == (4900, 0, 4900, 0, 4900)  # a draft's provisional total, no credit yet
    assert draft["lines"][0]["period_start"] == T0 and draft["lines"][0]["amount_minor"] == 4900
    assert await read_models.find(BALANCES, {}) == []  # a draft is not invoiced yet

    finalized_at = APRIL + timedelta(hours=1)
    await world.finalize("in-1", sequence=1, now=finalized_at)
    await fold(store, read_models)
    opened = await get(read_models, INVOICES, "in-1")
    assert (opened["status"], opened["number"], opened["sequence"]) == ("open", "ORG-1-0001", 1)
    assert opened["finalized_at"] == finalized_at and opened["next_attempt_at"] == finalized_at
    assert figures(opened) == (4900, 0, 4900, 0, 4900)
    record = await get(read_models, BILLING_RECORDS, "in-1")
    assert record["total_minor"] == 4900 and record["sealed_at_position"] == 7
    assert record["usage_period_end"] == APRIL and record["lines"][0]["period_end"] == APRIL
    assert record["usage"][0]["meter_code"] == "api" and record["position"] == opened["position"] - 1

    first = await world.collect("in-1", finalized_at, succeeded=False)
    await fold(store, read_models)
    failed = await get(read_models, INVOICES, "in-1")
    retry_at = finalized_at + timedelta(days=1)
    assert (failed["status"], failed["attempts"], failed["failures"]) == ("open", 1, 1)
    assert failed["last_failure_code"] == "card_declined" and failed["next_attempt_at"] == retry_at
    payment = await get(read_models, PAYMENTS, first)
    assert payment == {
        "_id": first,
        "invoice_id": "in-1",
        "organization_id": "org-1",
        "attempt": 1,
        "idempotency_key": "in-1:attempt-1",
        "amount_minor": 4900,
        "currency": "USD",
        "payment_method": "card",
        "status": "failed",
        "charge_id": "ch-1",
        "failure_code": "card_declined",
        "message": "Your card was declined.",
        "started_at": finalized_at,
        "resolved_at": finalized_at,
    }
    sub = await get(read_models, SUBSCRIPTIONS, "sub-1")
    assert sub["status"] == "past_due" and sub["close_due_at"] == APRIL and sub["usage_open"] is True

    # The retry: recorded as started first (the recheck time), then its outcome.
    second_attempt = world.invoices["in-1"].start_payment("pay-pending", "card", retry_at)
    assert isinstance(second_attempt, PaymentStarted)
    await world.emit([second_attempt])
    await fold(store, read_models)
    pending = await get(read_models, INVOICES, "in-1")
    assert pending["attempts"] == 2 and pending["next_attempt_at"] == retry_at + UNRESOLVED_RECHECK
    assert (await get(read_models, PAYMENTS, "pay-pending"))["status"] == "pending"
    outcome = world.invoices["in-1"].payment_outcome("ch-2", True, "", "", DUNNING, retry_at)
    await world.emit(outcome)
    await world.emit(world.subs["sub-1"].invoice_paid("in-1", retry_at))
    await fold(store, read_models)

    paid = await get(read_models, INVOICES, "in-1")
    assert (paid["status"], paid["paid_at"], paid["next_attempt_at"]) == ("paid", retry_at, None)
    assert figures(paid) == (4900, 0, 4900, 4900, 0)  # the amount due stays what was asked for
    assert (paid["attempts"], paid["failures"]) == (2, 1)
    second = await get(read_models, PAYMENTS, "pay-pending")
    assert (second["status"], second["charge_id"], second["resolved_at"]) == ("succeeded", "ch-2", retry_at)
    attempts = await read_models.find(PAYMENTS, {"invoice_id": "in-1"}, sort=[("attempt", 1)])
    assert [p["attempt"] for p in attempts] == [1, 2]
    assert (await get(read_models, SUBSCRIPTIONS, "sub-1"))["status"] == "active"
    [balance] = await assert_balanced(read_models)
    assert balance["_id"] == balance_key("org-1", "USD")
    assert money(balance) == {
        "invoiced_minor": 4900,
        "paid_minor": 4900,
        "outstanding_minor": 0,
        "uncollectible_minor": 0,
        "voided_minor": 0,
        "credit_applied_minor": 0,
        "credit_minor": 0,
    }


async def test_exhausted_dunning_leaves_the_invoice_uncollectible_and_voiding_it_moves_the_amount(
    store: EventStore, read_models: ReadModelStore
) -> None:
    world = World(store)
    await world.start("sub-1")
    await world.issue("in-1", "sub-1", 2500)
    await world.finalize("in-1")
    first_failure = APRIL + timedelta(hours=1)
    for days in (0, 1, 3):
        await world.collect("in-1", first_failure + timedelta(days=days), succeeded=False)
    await fold(store, read_models)

    gone = await get(read_models, INVOICES, "in-1")
    given_up = first_failure + timedelta(days=3)
    assert (gone["status"], gone["marked_uncollectible_at"], gone["next_attempt_at"]) == (
        "uncollectible",
        given_up,
        None,
    )
    assert (gone["attempts"], gone["failures"]) == (3, 3)
    assert figures(gone) == (2500, 0, 2500, 0, 2500)
    sub = await get(read_models, SUBSCRIPTIONS, "sub-1")
    assert (sub["status"], sub["close_due_at"], sub["usage_open"]) == ("unpaid", None, False)
    [balance] = await assert_balanced(read_models)
    assert (balance["outstanding_minor"], balance["uncollectible_minor"]) == (0, 2500)

    await world.void("in-1", given_up + timedelta(days=1))
    await fold(store, read_models)
    voided = await get(read_models, INVOICES, "in-1")
    assert (voided["status"], voided["voided_at"]) == ("void", given_up + timedelta(days=1))
    assert figures(voided) == (2500, 0, 2500, 0, 0)
    [balance] = await assert_balanced(read_models)
    assert (balance["invoiced_minor"], balance["uncollectible_minor"], balance["voided_minor"]) == (2500, 0, 2500)


async def test_voiding_a_draft_moves_no_money_and_voiding_an_open_invoice_does(
    store: EventStore, read_models: ReadModelStore
) -> None:
    world = World(store)
    await world.start("sub-1")
    await world.issue("draft", "sub-1", 1000)
    await world.issue("open", "sub-1", 3000)
    await world.finalize("open")
    await fold(store, read_models)
    [balance] = await assert_balanced(read_models)
    assert (balance["invoiced_minor"], balance["outstanding_minor"]) == (3000, 3000)

    voided_at = APRIL + timedelta(hours=2)
    await world.void("draft", voided_at)
    await fold(store, read_models)
    draft = await get(read_models, INVOICES, "draft")
    assert (draft["status"], draft["voided_at"], draft["finalized_at"]) == ("void", voided_at, None)
    assert figures(draft) == (1000, 0, 1000, 0, 0)
    [balance] = await assert_balanced(read_models)
    assert (balance["invoiced_minor"], balance["outstanding_minor"], balance["voided_minor"]) == (3000, 3000, 0)

    await world.void("open", voided_at)
    await fold(store, read_models)
    opened = await get(read_models, INVOICES, "open")
    assert (opened["status"], opened["next_attempt_at"]) == ("void", None)
    assert figures(opened) == (3000, 0, 3000, 0, 0)
    [balance] = await assert_balanced(read_models)
    assert (balance["invoiced_minor"], balance["outstanding_minor"], balance["voided_minor"]) == (3000, 0, 3000)
    assert (await get(read_models, BALANCE_INVOICES, "draft"))["status"] == "void"


async def test_an_invoice_with_nothing_due_is_paid_when_finalized(
    store: EventStore, read_models: ReadModelStore
) -> None:
    world = World(store)
    await world.start("sub-1")
    await world.issue("in-0", "sub-1", 0)
    at = APRIL + timedelta(hours=1)
    await world.finalize("in-0", now=at)
    await fold(store, read_models)

    doc = await get(read_models, INVOICES, "in-0")
    assert (doc["status"], doc["finalized_at"], doc["paid_at"], doc["next_attempt_at"]) == ("paid", at, at, None)
    assert doc["attempts"] == 0 and figures(doc) == (0, 0, 0, 0, 0)
    assert await read_models.find(PAYMENTS, {}) == []
    [balance] = await assert_balanced(read_models)
    assert set(money(balance).values()) == {0}


async def test_credited_invoices_keep_their_figures_paid_written_off_or_voided(
    store: EventStore, read_models: ReadModelStore
) -> None:
    world = World(store)
    await world.start("sub-1")
    await world.emit([grant("org-1", 1000 + 400 + 400)])
    for inv_id, total in (("paid", 3420), ("written-off", 2900), ("voided", 2900)):
        await world.issue(inv_id, "sub-1", total)
    await fold(store, read_models)
    assert figures(await get(read_models, INVOICES, "paid")) == (3420, 0, 3420, 0, 3420)  # a draft: no credit yet

    await world.finalize("paid", sequence=1, credit=1000)
    await world.finalize("written-off", sequence=2, credit=400)
    await world.finalize("voided", sequence=3, credit=400)
    at = APRIL + timedelta(hours=1)
    await world.collect("paid", at, succeeded=False)
    await fold(store, read_models)
    assert figures(await get(read_models, INVOICES, "paid")) == (3420, 1000, 2420, 0, 2420)
    await world.collect("paid", at + timedelta(days=1), succeeded=True)  # the dunning retry
    for days in (0, 1, 3):
        await world.collect("written-off", at + timedelta(days=days), succeeded=False)
    await world.void("voided", at)
    await fold(store, read_models)

    expected = {
        "paid": ("paid", (3420, 1000, 2420, 2420, 0)),
        "written-off": ("uncollectible", (2900, 400, 2500, 0, 2500)),
        "voided": ("void", (2900, 400, 2500, 0, 0)),
    }
    for inv_id, (status, amounts) in expected.items():
        doc = await get(read_models, INVOICES, inv_id)
        aggregate = world.invoices[inv_id]
        assert (doc["status"], figures(doc)) == (status, amounts), inv_id
        # The read model and the aggregate fold the same events to the same figures.
        assert amounts == (
            aggregate.total_minor,
            aggregate.credit_applied_minor,
            aggregate.amount_due_minor,
            aggregate.amount_paid_minor,
            aggregate.amount_remaining_minor,
        )
    [balance] = await assert_balanced(read_models)
    assert money(balance) == {
        "invoiced_minor": 9220,
        "paid_minor": 2420,
        "outstanding_minor": 0,
        "uncollectible_minor": 2500,
        "voided_minor": 2500,
        "credit_applied_minor": 1800,
        "credit_minor": 0,
    }


async def test_closing_a_trial_starts_the_paid_cycle(store: EventStore, read_models: ReadModelStore) -> None:
    world = World(store)
    await world.start("sub-t", trial_days=14)
    await fold(store, read_models)
    trial_end = T0 + timedelta(days=14)
    trialing = await get(read_models, SUBSCRIPTIONS, "sub-t")
    assert (trialing["status"], trialing["close_due_at"], trialing["version"]) == ("trialing", trial_end, 1)
    assert (trialing["usage_open"], trialing["usage_open_from"], trialing["final_period_closed"]) == (True, None, False)

    await world.emit(world.subs["sub-t"].close_period("in-t", MONTHLY, trial_end))
    await world.emit(world.subs["sub-t"].seal_usage(trial_end, trial_end + timedelta(hours=1)))
    await fold(store, read_models)

    active = await get(read_models, SUBSCRIPTIONS, "sub-t")
    next_end = datetime(2026, 4, 15, tzinfo=UTC)
    assert active["status"] == "active" and active["version"] == 3
    assert (active["current_period_start"], active["current_period_end"]) == (trial_end, next_end)
    assert active["close_due_at"] == next_end and active["usage_open"] is True
    assert active["usage_open_from"] == trial_end
    due = await read_models.find(SUBSCRIPTIONS, {"close_due_at": {"$lte": next_end}})
    assert [d["_id"] for d in due] == ["sub-t"]


async def test_a_cancellation_at_period_end_is_closed_once_and_then_stops_taking_usage(
    store: EventStore, read_models: ReadModelStore
) -> None:
    world = World(store)
    await world.start("sub-1")
    await world.emit(world.subs["sub-1"].cancel(T0 + timedelta(days=3), at_period_end=True))
    await fold(store, read_models)
    scheduled = await get(read_models, SUBSCRIPTIONS, "sub-1")
    assert (scheduled["status"], scheduled["cancel_at"], scheduled["close_due_at"]) == ("active", APRIL, APRIL)

    await world.emit(world.subs["sub-1"].close_period("in-1", MONTHLY, APRIL))
    await fold(store, read_models)
    closed = await get(read_models, SUBSCRIPTIONS, "sub-1")
    assert (closed["status"], closed["canceled_at"], closed["final_period_closed"]) == ("canceled", APRIL, True)
    assert closed["close_due_at"] is None
    assert closed["usage_open"] is True  # late usage of the last period still counts until its seal
    assert (closed["current_period_start"], closed["current_period_end"]) == (T0, APRIL)

    await world.emit(world.subs["sub-1"].seal_usage(APRIL, APRIL + timedelta(hours=1)))
    await fold(store, read_models)
    sealed = await get(read_models, SUBSCRIPTIONS, "sub-1")
    assert (sealed["usage_open"], sealed["usage_open_from"], sealed["version"]) == (False, APRIL, 5)
    assert await read_models.find(SUBSCRIPTIONS, {"organization_id": "org-1", "usage_open": True}) == []


async def test_an_immediate_cancellation_is_due_to_close_at_the_moment_it_happened(
    store: EventStore, read_models: ReadModelStore
) -> None:
    world = World(store)
    await world.start("sub-1")
    canceled_at = T0 + timedelta(days=10, hours=5)
    await world.emit(world.subs["sub-1"].cancel(canceled_at, at_period_end=False))
    await fold(store, read_models)
    canceled = await get(read_models, SUBSCRIPTIONS, "sub-1")
    assert (canceled["status"], canceled["canceled_at"], canceled["close_due_at"]) == (
        "canceled",
        canceled_at,
        canceled_at,
    )
    assert canceled["usage_open"] is True and canceled["version"] == 2

    await world.emit(world.subs["sub-1"].close_period("in-1", MONTHLY, canceled_at + timedelta(minutes=1)))
    await world.emit(world.subs["sub-1"].seal_usage(canceled_at, canceled_at + timedelta(hours=1)))
    await fold(store, read_models)
    done = await get(read_models, SUBSCRIPTIONS, "sub-1")
    assert (done["close_due_at"], done["final_period_closed"], done["usage_open"]) == (None, True, False)


async def test_balances_are_kept_per_organization_and_currency(store: EventStore, read_models: ReadModelStore) -> None:
    world = World(store)
    await world.start("sub-a", org="org-a")
    await world.start("sub-b", org="org-b")
    await world.issue("a-usd", "sub-a", 1000)
    await world.issue("a-eur", "sub-a", 700, currency="EUR")
    await world.issue("b-usd", "sub-b", 300)
    for inv_id in ("a-usd", "a-eur", "b-usd"):
        await world.finalize(inv_id)
    await world.collect("a-usd", APRIL + timedelta(hours=1), succeeded=True)
    await fold(store, read_models)

    balances = {b["_id"]: money(b) for b in await assert_balanced(read_models)}
    assert balances[balance_key("org-a", "USD")]["paid_minor"] == 1000
    assert balances[balance_key("org-a", "EUR")]["outstanding_minor"] == 700
    assert balances[balance_key("org-b", "USD")]["outstanding_minor"] == 300
    org_a = await read_models.find(BALANCES, {"organization_id": "org-a"})
    assert sorted(b["currency"] for b in org_a) == ["EUR", "USD"]
    open_a = await read_models.find(INVOICES, {"organization_id": "org-a", "status": "open"})
    assert [d["_id"] for d in open_a] == ["a-eur"]


async def everything(world: World, store: EventStore, read_models: ReadModelStore) -> None:
    """Every life above in one log, folded as it goes (so state crosses batches)."""
    await world.start("sub-1")
    await world.start("sub-t", org="org-2", trial_days=14)
    await world.start("sub-c")
    await world.issue("paid", "sub-1", 4900)
    await world.issue("zero", "sub-1", 0)
    await world.issue("draft", "sub-c", 100)
    await world.issue("dunned", "sub-t", 2500, currency="EUR")
    await world.issue("credited", "sub-1", 3420)
    await world.emit([grant("org-1", 1000)])
    await fold(store, read_models)
    for inv_id in ("paid", "zero", "dunned"):
        await world.finalize(inv_id)
    await world.finalize("credited", credit=1000)
    await fold(store, read_models)
    at = APRIL + timedelta(hours=1)
    await world.collect("paid", at, succeeded=False)
    await world.collect("paid", at + timedelta(days=1), succeeded=True)
    for days in (0, 1, 3):
        await world.collect("dunned", at + timedelta(days=days), succeeded=False)
    await world.collect("credited", at + timedelta(days=1), succeeded=True)
    await fold(store, read_models)
    await world.void("draft", at)
    await world.void("dunned", at + timedelta(days=5))
    await world.emit(world.subs["sub-c"].cancel(T0 + timedelta(days=2), at_period_end=False))
    await world.emit([change("sub-1", T0 + timedelta(days=10)), schedule("sub-t")])
    await world.emit([grant("org-1", 300), spend("org-1", 100)])
    await world.emit(world.subs["sub-1"].close_period("in-next", MONTHLY, APRIL))
    await world.emit(world.subs["sub-1"].seal_usage(APRIL, at))


def change(sub_id: str, at: datetime) -> SubscriptionPlanChanged:
    period = subscriptions.Period(T0, APRIL)
    lines = [line_to_dict(line) for line in change_lines(plan_of(4900), plan_of(9900), period, at)]
    return SubscriptionPlanChanged(
        subscription_id=sub_id,
        from_plan_id="plan-pro",
        to_plan_id="plan-max",
        changed_at=at,
        behavior=ProrationBehavior.CREATE_PRORATIONS,
        proration_lines=lines,
    )


def schedule(sub_id: str) -> SubscriptionPlanChangeScheduled:
    return SubscriptionPlanChangeScheduled(subscription_id=sub_id, to_plan_id="plan-max", at=APRIL, requested_at=T0)


def grant(org: str, amount: int) -> credits.CreditGranted:
    return credits.CustomerCredit(org).grant("USD", amount, "goodwill", T0)


def spend(org: str, amount: int) -> DomainEvent:
    _, [spent] = credits.CustomerCredit(org, amount).settle("USD", "paid", amount, T0)
    return spent


def plan_of(fee: int) -> Plan:
    state = Plan.replay([create_plan(f"plan-{fee}", f"p{fee}", "P", "USD", "month", 1, fee, 0, (), T0)])
    assert state is not None
    return state


async def test_a_plan_change_splits_the_period_into_segments_until_the_close_and_the_seal(
    store: EventStore, read_models: ReadModelStore
) -> None:
    world = World(store)
    await world.start("sub-1")
    changed_at = T0 + timedelta(days=10)
    await world.emit([change("sub-1", changed_at), schedule("sub-1")])
    await fold(store, read_models)
    doc = await get(read_models, SUBSCRIPTIONS, "sub-1")
    assert (doc["plan_id"], doc["segment_start"], doc["scheduled_plan_id"]) == ("plan-max", changed_at, "plan-max")
    assert doc["segments"] == [{"start": T0, "end": changed_at, "plan_id": "plan-pro"}]
    assert [line["amount_minor"] for line in doc["pending_prorations"]] == [-3319, 6706]
    assert world.subs["sub-1"].plan_segments(subscriptions.Period(T0, APRIL)) == [
        subscriptions.Segment(subscriptions.Period(T0, changed_at), "plan-pro"),
        subscriptions.Segment(subscriptions.Period(changed_at, APRIL), "plan-max"),
    ]

    await world.emit(world.subs["sub-1"].close_period("in-next", MONTHLY, APRIL))
    await fold(store, read_models)
    doc = await get(read_models, SUBSCRIPTIONS, "sub-1")
    assert (doc["segment_start"], doc["pending_prorations"]) == (None, [])
    # Late usage needs both segments' bounds until the seal: the cycle alone would file usage of
    # the new plan's part under the period's first segment.
    assert doc["segments"] == [
        {"start": T0, "end": changed_at, "plan_id": "plan-pro"},
        {"start": changed_at, "end": APRIL, "plan_id": "plan-max"},
    ]
    await world.emit(world.subs["sub-1"].seal_usage(APRIL, APRIL))
    await fold(store, read_models)
    assert (await get(read_models, SUBSCRIPTIONS, "sub-1"))["segments"] == []


async def test_credit_shows_on_the_balance(store: EventStore, read_models: ReadModelStore) -> None:
    world = World(store)
    await world.emit([grant("org-1", 300), spend("org-1", 100)])
    await fold(store, read_models)
    [balance] = await assert_balanced(read_models)
    assert (balance["credit_minor"], balance["invoiced_minor"]) == (200, 0)


async def test_rebuilding_from_zero_reproduces_every_billing_read_model(
    store: EventStore, read_models: ReadModelStore
) -> None:
    await everything(World(store, entitled=True), store, read_models)
    await fold(store, read_models)
    # sub-1 was suspended while past due, restored when paid, then changed to plan-max; sub-t was
    # suspended until dunning gave up (revoked: deleted); sub-c was canceled (revoked: deleted).
    granted = await read_models.find(ENTITLEMENTS, {"organization_id": "org-1"})
    assert [(d["_id"], d["plan_id"], d["status"], d["reason"]) for d in granted] == [
        ("sub-1", "plan-max", "active", "plan_changed")
    ]
    assert await read_models.find(ENTITLEMENTS, {"organization_id": "org-2"}) == []
    projections = billing_projections()
    collections = [name for p in projections for name in p.collections]
    live = {name: await read_models.find(name, {}) for name in collections}
    assert all(live[name] for name in collections), {name: len(docs) for name, docs in live.items()}
    await assert_balanced(read_models)

    runner = ProjectionRunner(store, read_models, projections)  # another batch size: batches must not matter
    for projection in projections:
        await runner.rebuild(projection)

    rebuilt = {name: await read_models.find(name, {}) for name in collections}
    assert rebuilt == live
