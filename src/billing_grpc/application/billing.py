"""The billing commands: close a period, finalize its invoice, collect payment, void.

Exactly once comes from the streams, not from locks: closing appends to the subscription's
stream at the version it was decided on, together with the new invoice, in one atomic append,
so a duplicate or concurrent close loses the race and finds nothing left to close. Finalizing
and collecting are decided on the invoice's stream the same way. Every command is safe to run
again after a crash at any point: it re-reads where the last run got to.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from billing_grpc.application.catalogue import load_plan
from billing_grpc.application.context import CommandContext
from billing_grpc.application.drafts import segment_dicts, segment_period
from billing_grpc.application.progress import ProjectionProgress
from billing_grpc.application.streams import Writer, load, load_existing, load_organization, ordered_id
from billing_grpc.application.usage_queries import charged_usage
from billing_grpc.domain import credit as credits
from billing_grpc.domain import invoice as invoices
from billing_grpc.domain import invoice_numbering, organization, subscription
from billing_grpc.domain.access import Action
from billing_grpc.domain.base_fees import closing_fee_lines
from billing_grpc.domain.dunning import DunningPolicy, FinalAction
from billing_grpc.domain.entitlement_events import PastDuePolicy
from billing_grpc.domain.entitlements import follow
from billing_grpc.domain.errors import FailedPrecondition, NotFound, Unavailable
from billing_grpc.domain.events import DomainEvent, decode_event
from billing_grpc.domain.invoice import BillingCalculated, Invoice, InvoiceIssued, InvoiceReason, PaymentStarted
from billing_grpc.domain.invoicing import (
    InvoiceLine,
    MeterUsage,
    line_to_dict,
    stored_total,
    usage_lines,
)
from billing_grpc.domain.meter import Aggregation
from billing_grpc.domain.periods import Period
from billing_grpc.domain.plan import Plan
from billing_grpc.domain.subscription_changes import dropped_change, scheduled_change
from billing_grpc.domain.usage import stamp
from billing_grpc.eventstore import StreamAppend
from billing_grpc.payments.port import ChargeRequest, GatewayTimeout, GatewayUnavailable, PaymentGateway
from projections.model import ReadModelReader
from projections.usage import USAGE_TOTALS

log = logging.getLogger(__name__)

DEFAULT_GRACE = timedelta(hours=1)
# How long finalizing waits for the usage read model to reach the seal before trying later.
USAGE_CATCH_UP_SECONDS = 10.0


@dataclass(frozen=True)
class BillingPolicy:
    """The operator's choices: the grace window for late usage, the dunning schedule, past-due access."""

    grace: timedelta = DEFAULT_GRACE
    dunning: DunningPolicy = field(default_factory=DunningPolicy)
    past_due: PastDuePolicy = PastDuePolicy.KEEP


@dataclass(frozen=True)
class BillingHandlers:
    """Billing commands; each returns the log position its events reached (0: nothing to do)."""

    writer: Writer
    read_models: ReadModelReader
    progress: ProjectionProgress
    gateway: PaymentGateway
    policy: BillingPolicy
    # Plans and meters never change once created, so a billing run reads each once, not per item.
    _plans: dict[str, Plan] = field(default_factory=dict, compare=False, repr=False)
    _aggregations: dict[str, Aggregation] = field(default_factory=dict, compare=False, repr=False)

    async def close_period(self, context: CommandContext, subscription_id: str) -> int:
        """Close the subscription's due period: roll it over (or end it) and issue its invoice."""
        context.require(Action.BILLING_OPERATE, None, "subscription")
        sub, version = await self._subscription(subscription_id)
        plan = await self._plan(sub.plan_id)
        now = self.writer.clock.now()
        due = sub.period_to_close(plan.interval, now)
        if due is None:
            return 0
        closed, following = due
        # A canceled trial costs nothing; a last period with nothing to rate, credit or bill in
        # arrears owes nothing.
        free_end = following is None and (sub.trial_end is not None and closed.end <= sub.trial_end)
        owes_fee = plan.in_arrears and plan.base_fee.amount_minor > 0 and not sub.base_fee_free(plan.interval)
        nothing_owed = not plan.charges and not sub.pending_prorations and not sub.segments and not owes_fee
        if following is None and (free_end or nothing_owed):
            # Nothing can be owed in arrears: the last period closes without an invoice, sealed at once.
            ending = [*sub.close_period("", plan.interval, now), *sub.seal_usage(closed.end, now)]
            ending = follow(sub, ending, {plan.plan_id: plan})
            return await self.writer.append(
                self.writer.append_of(
                    subscription.stream_of(subscription_id), version, ending, context, sub.organization_id
                ),
                await self._detach_if_ending(context, sub, ending),
            )
        invoice_id = ordered_id("in", self.writer.clock)
        closing: list[DomainEvent] = sub.close_period(invoice_id, plan.interval, now)
        next_plan, meters = plan, None
        if following is not None and sub.scheduled_plan_id is not None:
            # A change scheduled for the period's end: the next period is the new plan's.
            target = await self._plan(sub.scheduled_plan_id)
            try:
                meters = await self._reattach(context, sub, target)
            except FailedPrecondition as refused:
                # Another subscription took one of its meters since: the period must close all the
                # same (or it stays due forever), on the current plan, with the change dropped.
                closing.append(dropped_change(sub, refused.reason, now))
            else:
                next_plan = target
                closing, following = scheduled_change(sub, plan, next_plan, closing, now)
        restarted = closing[0].cycle_anchor if isinstance(closing[0], subscription.SubscriptionPeriodClosed) else None
        issued = await self.closing_invoice(
            sub, closed, following, next_plan, invoice_id, now, next_anchor=restarted or sub.cycle_anchor
        )
        closing = follow(sub, closing, {plan.plan_id: plan, next_plan.plan_id: next_plan})
        detach = await self._detach_if_ending(context, sub, closing)
        return await self.writer.append(
            self.writer.append_of(
                subscription.stream_of(subscription_id), version, closing, context, sub.organization_id
            ),
            self.writer.append_of(invoices.stream_of(invoice_id), 0, [issued], context, sub.organization_id),
            detach or meters,
        )

    async def closing_invoice(
        self,
        sub: subscription.Subscription,
        closed: Period,
        following: Period | None,
        next_plan: Plan,
        invoice_id: str,
        now: datetime,
        next_anchor: datetime,
    ) -> InvoiceIssued:
        """The draft invoice of a closed period: its segments' usage, pending prorations, the base fees.

        The base fees are the current plan's for the time it served, if billed in arrears, and
        `next_plan`'s for the `following` period, if billed in advance (see `base_fees`).
        """
        segments = [(segment.period, await self._plan(segment.plan_id)) for segment in sub.plan_segments(closed)]
        priced, _ = await self._segments_usage(sub.subscription_id, segments)
        stored = [line_to_dict(line) for line in priced]
        stored += list(sub.pending_prorations)
        plan = await self._plan(sub.plan_id)
        served_from = sub.arrears_from or sub.segment_start or closed.start
        free = sub.base_fee_free(plan.interval) or served_from >= closed.end
        served = None if free else Period(served_from, closed.end)
        whole = sub.whole_period(plan.interval)
        fees = closing_fee_lines(plan, served, whole, next_plan, following, next_anchor, sub.following_stub_proration)
        stored += [line_to_dict(line) for line in fees]
        return InvoiceIssued(
            invoice_id=invoice_id,
            organization_id=sub.organization_id,
            subscription_id=sub.subscription_id,
            plan_id=plan.plan_id,
            currency=plan.currency,
            reason=_closing_reason(sub, following),
            usage_period_start=closed.start,
            usage_period_end=closed.end,
            lines=stored,
            total_minor=stored_total(stored),
            issued_at=now,
            finalize_at=now + self.policy.grace,
            segments=segment_dicts(segments, plan),
        )

    async def finalize(self, context: CommandContext, invoice_id: str) -> int:
        """Seal the invoiced period against late usage, price it for good, number the invoice."""
        context.require(Action.BILLING_OPERATE, None, "invoice")
        draft = await load(self.writer.store, invoices.stream_of(invoice_id))
        inv, version = Invoice.replay(draft.events), draft.version
        if inv is None:
            raise NotFound("invoice_not_found", "invoice not found")
        now = self.writer.clock.now()
        if inv.status is not invoices.InvoiceStatus.DRAFT or now < inv.finalize_at:
            return 0
        sealed_at = await self._seal(context, inv)
        plan = await self._plan(inv.plan_id)
        issued = next(e for e in draft.events if isinstance(e, InvoiceIssued))
        records: list[dict[str, Any]] = []
        lines = [line for line in issued.lines if line["kind"] != "usage"]
        if inv.usage_period_start is not None and inv.usage_period_end is not None:
            segments = [(segment_period(s), await self._plan(s["plan_id"])) for s in issued.segments] or [
                (Period(inv.usage_period_start, inv.usage_period_end), plan)
            ]
            priced, records = await self._segments_usage(inv.subscription_id, segments)
            lines = [line_to_dict(line) for line in priced] + lines
        total = stored_total(lines)
        calculation = BillingCalculated(
            invoice_id=invoice_id,
            subscription_id=inv.subscription_id,
            plan_id=plan.plan_id,
            currency=plan.currency,
            usage_period_start=inv.usage_period_start,
            usage_period_end=inv.usage_period_end,
            sealed_at_position=sealed_at,
            usage=records,
            lines=lines,
            subtotal_minor=total,
            total_minor=total,
            calculated_at=now,
        )
        sequence_stream = invoice_numbering.sequence_stream_of(inv.organization_id)
        sequence = len(await self.writer.store.read_stream(sequence_stream)) + 1
        number = invoice_numbering.invoice_number(inv.organization_id, sequence)
        numbered = invoice_numbering.InvoiceNumberAssigned(
            organization_id=inv.organization_id, invoice_id=invoice_id, sequence=sequence
        )
        # Credit is spent before any charge, decided on the credit stream's version: two
        # finalizations racing for the same credit cannot both spend it.
        credit_stream = credits.stream_of(inv.organization_id)
        held = await load(self.writer.store, credit_stream)
        balance = credits.CustomerCredit.replay(inv.organization_id, held.events)
        applied, spent = balance.settle(inv.currency, invoice_id, total, now)
        return await self.writer.append(
            self.writer.append_of(
                invoices.stream_of(invoice_id),
                version,
                inv.finalization(number, sequence, lines, calculation, now, applied),
                context,
                inv.organization_id,
            ),
            # Expecting the sequence stream's version makes the numbering gapless and unique.
            self.writer.append_of(sequence_stream, sequence - 1, [numbered], context, inv.organization_id),
            self.writer.append_of(credit_stream, held.version, spent, context, inv.organization_id),
        )

    async def collect(self, context: CommandContext, invoice_id: str) -> int:
        """Charge an open invoice that is due (first attempt, dunning retry, or an unresolved attempt)."""
        context.require(Action.BILLING_OPERATE, None, "invoice")
        inv, version = await self._invoice(invoice_id)
        now = self.writer.clock.now()
        if not inv.payment_due(now):
            return 0
        org, _ = await load_organization(self.writer.store, inv.organization_id)
        attempt = inv.start_payment(ordered_id("pay", self.writer.clock), org.payment_method, now)
        if isinstance(attempt, PaymentStarted):
            # Recorded before the gateway hears of it: a crash after the charge leaves a trace to resume.
            await self.writer.append(
                self.writer.append_of(invoices.stream_of(invoice_id), version, [attempt], context, inv.organization_id)
            )
            version += 1
            inv = invoices.evolve(inv, attempt) or inv
        pending = inv.pending
        assert pending is not None
        request = ChargeRequest(
            idempotency_key=pending.idempotency_key,
            organization_id=inv.organization_id,
            invoice_id=invoice_id,
            amount_minor=pending.amount_minor,
            currency=inv.currency,
            payment_method=pending.payment_method,
        )
        try:
            result = await self.gateway.charge(request)
        except (GatewayTimeout, GatewayUnavailable) as exc:
            # The outcome is unknown: the attempt stays pending and is resumed with the same key.
            log.warning("payment outcome unknown; will resume", extra={"invoice_id": invoice_id, "error": str(exc)})
            return 0
        outcome = inv.payment_outcome(
            result.charge_id, result.succeeded, result.failure_code, result.message, self.policy.dunning, now
        )
        return await self._record_outcome(context, inv, version, outcome)

    async def void(self, context: CommandContext, invoice_id: str) -> int:
        """Void a draft, open or uncollectible invoice."""
        inv, version = await self._invoice(invoice_id)
        context.require(Action.BILLING_OPERATE, inv.organization_id, "invoice")
        now = self.writer.clock.now()
        voided = inv.void(now)
        # Credit spent on a voided invoice goes back to the organization, in the same append.
        credit_stream = credits.stream_of(inv.organization_id)
        held = await load(self.writer.store, credit_stream)
        returned = credits.CustomerCredit.replay(inv.organization_id, held.events).refund(
            inv.currency, invoice_id, inv.credit_applied_minor, now
        )
        return await self.writer.append(
            self.writer.append_of(invoices.stream_of(invoice_id), version, voided, context, inv.organization_id),
            self.writer.append_of(credit_stream, held.version, returned, context, inv.organization_id),
        )

    # -- steps ------------------------------------------------------------------------------

    async def _record_outcome(
        self, context: CommandContext, inv: Invoice, version: int, outcome: Sequence[DomainEvent]
    ) -> int:
        """Append the payment's outcome with what it means for the subscription, atomically."""
        if not outcome:
            return 0
        sub, sub_version = await self._subscription(inv.subscription_id)
        now = self.writer.clock.now()
        changes: list[DomainEvent] = []
        if any(isinstance(e, invoices.InvoicePaid) for e in outcome):
            changes = sub.invoice_paid(inv.invoice_id, now)
        elif any(isinstance(e, invoices.InvoiceMarkedUncollectible) for e in outcome):
            cancel = self.policy.dunning.final_action is FinalAction.CANCEL
            changes = sub.dunning_exhausted(inv.invoice_id, cancel, now)
        elif any(isinstance(e, invoices.PaymentFailed) for e in outcome):
            changes = sub.payment_failed(inv.invoice_id, now)
        changes = follow(sub, changes, {sub.plan_id: await self._plan(sub.plan_id)}, self.policy.past_due)
        return await self.writer.append(
            self.writer.append_of(invoices.stream_of(inv.invoice_id), version, outcome, context, inv.organization_id),
            self.writer.append_of(
                subscription.stream_of(sub.subscription_id), sub_version, changes, context, inv.organization_id
            ),
            await self._detach_if_ending(context, sub, changes),
        )

    async def _seal(self, context: CommandContext, inv: Invoice) -> int:
        """Refuse usage for the invoiced period from now on; return the seal's log position.

        Then wait until the usage read model has applied everything before the seal, so the
        totals read next are the period's final ones. Runs again harmlessly after a crash.
        """
        if inv.usage_period_end is None:
            return 0
        stream = subscription.stream_of(inv.subscription_id)
        recorded = await self.writer.store.read_stream(stream)
        sub = subscription.Subscription.replay(decode_event(e.type, e.payload) for e in recorded)
        assert sub is not None
        sealing = sub.seal_usage(inv.usage_period_end, self.writer.clock.now())
        if sealing:
            position = await self.writer.append(
                self.writer.append_of(stream, len(recorded), sealing, context, inv.organization_id)
            )
        else:
            position = next(
                e.position
                for e in reversed(recorded)
                if e.type == subscription.SubscriptionUsageSealed.TYPE
                and datetime.fromisoformat(e.payload["sealed_through"]) >= inv.usage_period_end
            )
        if not await self.progress.wait_until(position, USAGE_CATCH_UP_SECONDS):
            raise Unavailable("usage_catching_up", "the usage read model is behind the log; finalize later")
        return position

    async def _usage(
        self, subscription_id: str, period: Period, plan: Plan
    ) -> dict[str, tuple[MeterUsage, dict[str, Any]]]:
        """Per charged meter: the period's aggregated usage and its calculation-record entry."""
        docs = await self.read_models.find(
            USAGE_TOTALS, {"subscription_id": subscription_id, "period_start": stamp(period.start)}
        )
        by_meter = {doc["meter_code"]: doc for doc in docs}
        usage: dict[str, tuple[MeterUsage, dict[str, Any]]] = {}
        for charge in plan.charges:
            aggregation = await self._aggregation(charge.meter_code)
            doc = by_meter.get(charge.meter_code)
            metered = await charged_usage(self.read_models, charge, aggregation, doc, subscription_id, period)
            record = {
                "meter_code": charge.meter_code,
                "aggregation": aggregation.value,
                "quantity": str(metered.quantity),
                "event_count": metered.event_count,
                "first_position": doc["first_position"] if doc else None,
                "last_position": doc["last_position"] if doc else None,
            }
            if charge.per_transaction:
                # Priced event by event: the events between these positions, by usage timestamp
                # and then log position (docs/billing-rules/percentage-charges.md).
                record["priced_per_transaction"] = True
            usage[charge.meter_code] = (metered, record)
        return usage

    async def _segments_usage(
        self, subscription_id: str, segments: Sequence[tuple[Period, Plan]]
    ) -> tuple[list[InvoiceLine], list[dict[str, Any]]]:
        """Each segment's usage lines, rated by its own plan, and the calculation record's usage entries."""
        lines: list[InvoiceLine] = []
        records: list[dict[str, Any]] = []
        for period, plan in segments:
            usage = await self._usage(subscription_id, period, plan)
            lines += usage_lines(plan, {code: metered for code, (metered, _) in usage.items()}, period)
            records += [{**record, "period_start": period.start.isoformat()} for _, record in usage.values()]
        return lines, records

    async def _reattach(
        self, context: CommandContext, sub: subscription.Subscription, target: Plan
    ) -> StreamAppend | None:
        """The organization's move of the subscription's meter claims to `target`'s meters."""
        org, org_version = await load_organization(self.writer.store, sub.organization_id)
        moved = org.reattach(sub.subscription_id, target.meter_codes)
        return self.writer.append_of(
            organization.stream_of(sub.organization_id), org_version, moved, context, sub.organization_id
        )

    async def _aggregation(self, meter_code: str) -> Aggregation:
        if meter_code not in self._aggregations:
            doc = await self.read_models.get("meters", meter_code)
            if doc is None:
                raise LookupError(f"plan charges unknown meter {meter_code}")
            self._aggregations[meter_code] = Aggregation(doc["aggregation"])
        return self._aggregations[meter_code]

    async def _plan(self, plan_id: str) -> Plan:
        if plan_id not in self._plans:
            self._plans[plan_id], _ = await load_plan(self.writer, plan_id)
        return self._plans[plan_id]

    async def _detach_if_ending(
        self, context: CommandContext, sub: subscription.Subscription, changes: Sequence[DomainEvent]
    ) -> StreamAppend | None:
        """The organization's release of the subscription's meters, if these changes end it."""
        if not any(isinstance(e, subscription.SubscriptionCanceled) for e in changes):
            return None
        org, org_version = await load_organization(self.writer.store, sub.organization_id)
        detached = org.detach(sub.subscription_id)
        return self.writer.append_of(
            organization.stream_of(sub.organization_id), org_version, detached, context, sub.organization_id
        )

    async def _subscription(self, subscription_id: str) -> tuple[subscription.Subscription, int]:
        stream = subscription.stream_of(subscription_id)
        return await load_existing(self.writer.store, stream, subscription.Subscription.replay, "subscription")

    async def _invoice(self, invoice_id: str) -> tuple[Invoice, int]:
        return await load_existing(self.writer.store, invoices.stream_of(invoice_id), Invoice.replay, "invoice")


def _closing_reason(sub: subscription.Subscription, following: Period | None) -> InvoiceReason:
    """Why a period's close invoices: the cycle goes on, a pause stopped it, or the subscription ends."""
    if following is not None:
        return InvoiceReason.SUBSCRIPTION_CYCLE
    paused = sub.status is subscription.SubscriptionStatus.PAUSED
    return InvoiceReason.SUBSCRIPTION_PAUSE if paused else InvoiceReason.SUBSCRIPTION_END
