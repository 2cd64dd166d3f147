"""The tour: one organization on a metered plan through three months of billing on the test clock.

Every step prints one line on `out`; long steps (streaming usage, moving the clock) show a progress
bar on `err` when it is a terminal. Names and keys carry a per-run suffix, so the tour can run
again and again against the same server.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TextIO

from billing.v1 import billing_pb2, catalogue_pb2, organizations_pb2, subscriptions_pb2
from billing_grpc.cli.remote import DATA, CommandError, moment_of, timestamp
from billing_grpc.client import BillingClient
from billing_grpc.demo import script, usage
from billing_grpc.demo.paging import every_page
from billing_grpc.demo.tables import count, day, invoice_table, minute, money
from billing_grpc.progress_bar import ProgressBar

# The clock moves at most this far per AdvanceClock call, so the progress bar has steps to show.
CLOCK_STEP = timedelta(days=1)
# The largest call of the tour is one AdvanceClock step or one usage batch: far below this.
CALL_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class TourResult:
    """What the tour left behind, for callers that want more than the printout."""

    organization_id: str
    subscription_id: str
    invoices: list[billing_pb2.Invoice]


class Tour:
    """The scripted steps, in order; `run` plays them all."""

    def __init__(self, client: BillingClient, out: TextIO, err: TextIO) -> None:
        self._client = client
        self._out = out
        self._err = err
        self._run = secrets.token_hex(3)
        self._now = datetime.min
        self._organization_id = ""
        self._subscription_id = ""
        self._status = ""

    async def run(self) -> TourResult:
        """Set up, bill three months, print the invoices."""
        await self._synchronise_clock()
        meters = await self._create_meters()
        plan_id = await self._create_plan(meters)
        await self._create_organization()
        await self._start_subscription(plan_id)
        for number, month in enumerate(script.MONTHS, start=1):
            await self._bill_month(number, month, meters)
        return await self._print_invoices()

    def _say(self, line: str) -> None:
        print(line, file=self._out, flush=True)

    # Set-up

    async def _synchronise_clock(self) -> None:
        """Read the server's time (GetClock: no billing run), check it is a test clock, move it to midnight."""
        clock = await self._client.billing.GetClock(billing_pb2.GetClockRequest(), timeout=CALL_TIMEOUT_SECONDS)
        if not clock.test_clock:
            raise CommandError(
                "the server runs on the wall clock, and the tour needs a test clock to move: start it "
                "with BILLING_TEST_CLOCK=2026-01-01T00:00:00Z (or run `make demo`)",
                DATA,
            )
        self._now = moment_of(clock.now)
        midnight = self._now.replace(hour=0, minute=0, second=0, microsecond=0)
        if midnight < self._now:
            # Moving the clock runs the billing cycle up to midnight: the one call here that should.
            answer = await self._client.billing.AdvanceClock(
                billing_pb2.AdvanceClockRequest(to=timestamp(midnight + timedelta(days=1))),
                timeout=CALL_TIMEOUT_SECONDS,
            )
            self._now = moment_of(answer.now)
        self._say(f"test clock at {minute(self._now)} UTC (demo run {self._run})")

    async def _create_meters(self) -> dict[str, str]:
        """Two meters: API calls (summed) and storage (the period's peak)."""
        meters = {"api_calls": f"api_calls_{self._run}", "storage_gb": f"storage_gb_{self._run}"}
        await self._client.catalogue.CreateMeter(
            catalogue_pb2.CreateMeterRequest(code=meters["api_calls"], name="API calls", aggregation="sum"),
        )
        self._say(f"meter {meters['api_calls']}: API calls, summed over the period")
        await self._client.catalogue.CreateMeter(
            catalogue_pb2.CreateMeterRequest(code=meters["storage_gb"], name="Storage (GB)", aggregation="max"),
        )
        self._say(f"meter {meters['storage_gb']}: storage in GB, the period's peak")
        return meters

    async def _create_plan(self, meters: dict[str, str]) -> str:
        """A monthly plan: a base fee in advance, graduated API calls and per-GB storage in arrears."""
        created = await self._client.catalogue.CreatePlan(
            catalogue_pb2.CreatePlanRequest(
                code=f"pro_{self._run}",
                name="Pro",
                currency=script.CURRENCY,
                interval_unit="month",
                interval_count=1,
                base_fee_minor=script.BASE_FEE_MINOR,
                charges=[
                    catalogue_pb2.Charge(
                        meter_code=meters["api_calls"],
                        graduated=catalogue_pb2.Tiers(tiers=script.API_CALL_TIERS),
                    ),
                    catalogue_pb2.Charge(
                        meter_code=meters["storage_gb"],
                        per_unit=catalogue_pb2.PerUnit(unit_price=script.STORAGE_UNIT_PRICE),
                    ),
                ],
            ),
        )
        plan = created.plan
        self._say(
            f"plan {plan.code} ({plan.plan_id}): {money(plan.base_fee_minor, plan.currency)}/month in advance; "
            "API calls: first 10,000 included, 0.1¢ each to 100,000, 0.05¢ beyond; storage: 25¢ per GB at peak"
        )
        return str(plan.plan_id)

    async def _create_organization(self) -> None:
        created = await self._client.organizations.CreateOrganization(
            organizations_pb2.CreateOrganizationRequest(
                name=f"Acme Robotics {self._run}",
                currency=script.CURRENCY,
                billing_email=f"billing+{self._run}@acme.example",
                external_id=f"demo-{self._run}",
                payment_method=script.PAYMENT_METHOD_OK,
            ),
        )
        organization = created.organization
        self._organization_id = organization.organization_id
        self._say(
            f"organization {organization.name} ({organization.organization_id}), external id "
            f"{organization.external_id}, paying with {organization.payment_method}"
        )

    async def _start_subscription(self, plan_id: str) -> None:
        started = await self._client.subscriptions.StartSubscription(
            subscriptions_pb2.StartSubscriptionRequest(organization_id=self._organization_id, plan_id=plan_id),
        )
        subscription = started.subscription
        self._subscription_id = subscription.subscription_id
        self._status = subscription.status
        self._say(
            f"subscription {subscription.subscription_id}: {subscription.status}, first period "
            f"{day(moment_of(subscription.current_period_start))} → {day(moment_of(subscription.current_period_end))}"
            "; its base fee is invoiced now, in advance"
        )

    # One month

    async def _bill_month(self, number: int, month: script.MonthOfUsage, meters: dict[str, str]) -> None:
        """Usage in the first half of the period, then the close, the invoice and its payment."""
        subscription = await self._subscription()
        period_start = moment_of(subscription.current_period_start)
        period_end = moment_of(subscription.current_period_end)
        await self._advance_to(period_start + timedelta(days=script.USAGE_DAYS), f"month {number}, usage time")
        await self._stream_usage(number, month, meters, period_start)
        if number == script.DECLINED_MONTH:
            await self._pay_with(script.PAYMENT_METHOD_DECLINED, "the card on file stops working")
        await self._advance_to(period_end, f"month {number} ends: its period closes")
        invoice = await self._latest_invoice()
        if invoice.status == "draft":
            self._say(f"invoice {invoice.invoice_id} is a draft until {minute(moment_of(invoice.finalize_at))}")
            await self._advance_to(moment_of(invoice.finalize_at), "grace period over")
            invoice = await self._invoice(invoice.invoice_id)
        await self._report_invoice(invoice)
        await self._check_status()
        if invoice.status != "paid":
            await self._recover(invoice)

    async def _recover(self, invoice: billing_pb2.Invoice) -> None:
        """A declined invoice: the customer fixes the card, and the dunning retry collects."""
        await self._pay_with(script.PAYMENT_METHOD_OK, "the customer replaces the card")
        if not invoice.HasField("next_attempt_at"):
            raise CommandError(f"invoice {invoice.number} is {invoice.status} with no retry scheduled")
        await self._advance_to(moment_of(invoice.next_attempt_at), "the dunning retry falls due")
        await self._report_invoice(await self._invoice(invoice.invoice_id))
        await self._check_status()

    async def _stream_usage(
        self, number: int, month: script.MonthOfUsage, meters: dict[str, str], period_start: datetime
    ) -> None:
        """Send the month's usage over StreamUsage, one acknowledged batch at a time."""
        key_prefix = f"demo-{self._run}-m{number}"
        events = usage.month_events(key_prefix, self._organization_id, meters, month, period_start, self._now)
        sent = await usage.stream(self._client, events, self._err)
        self._say(
            f"streamed {sent.events} usage events in {sent.batches} batches: {sent.accepted} accepted, "
            f"{sent.duplicates} duplicates ({month.api_calls:,} API calls, storage peak {month.storage_peak_gb} GB)"
        )

    async def _advance_to(self, target: datetime, why: str) -> None:
        """Move the test clock to `target` a day at a time; the server bills whatever falls due."""
        start = self._now
        hours = max(1, int((target - start) / timedelta(hours=1)))
        bar = ProgressBar(self._err, "advancing the clock", hours)
        totals: Counter[str] = Counter()
        while self._now < target:
            step = min(target, self._now + CLOCK_STEP)
            answer = await self._client.billing.AdvanceClock(
                billing_pb2.AdvanceClockRequest(to=timestamp(step)),
                timeout=CALL_TIMEOUT_SECONDS,
            )
            self._now = moment_of(answer.now)
            report = answer.report
            totals.update(
                closed=report.periods_closed,
                finalized=report.invoices_finalized,
                attempted=report.payments_attempted,
                failed=report.failures,
            )
            bar.update(int((self._now - start) / timedelta(hours=1)), f"hours, at {minute(self._now)}")
        bar.finish()
        billed = [
            count(totals["closed"], "period") + " closed",
            count(totals["finalized"], "invoice") + " finalized",
            count(totals["attempted"], "payment") + " attempted",
        ]
        if totals["failed"]:
            billed.append(count(totals["failed"], "failure"))
        self._say(f"clock → {minute(self._now)} ({why}): {', '.join(billed)}")

    # Reading back

    async def _subscription(self) -> subscriptions_pb2.Subscription:
        got: subscriptions_pb2.GetSubscriptionResponse = await self._client.subscriptions.GetSubscription(
            subscriptions_pb2.GetSubscriptionRequest(subscription_id=self._subscription_id)
        )
        return got.subscription

    async def _check_status(self) -> None:
        """Print the subscription's status when it has changed."""
        status = (await self._subscription()).status
        if status != self._status:
            self._say(f"subscription {self._subscription_id}: {self._status} → {status}")
            self._status = status

    async def _pay_with(self, payment_method: str, why: str) -> None:
        await self._client.organizations.UpdateOrganization(
            organizations_pb2.UpdateOrganizationRequest(
                organization_id=self._organization_id, payment_method=payment_method
            ),
        )
        self._say(f"{why}: payment method → {payment_method}")

    async def _invoices(self) -> list[billing_pb2.Invoice]:
        async def page(token: str) -> tuple[Sequence[billing_pb2.Invoice], str]:
            listed = await self._client.invoices.ListInvoices(
                billing_pb2.ListInvoicesRequest(organization_id=self._organization_id, page_token=token),
            )
            return listed.invoices, listed.next_page_token

        return await every_page(page)

    async def _latest_invoice(self) -> billing_pb2.Invoice:
        invoices = await self._invoices()
        if not invoices:
            raise CommandError("the period closed without an invoice")
        return invoices[-1]

    async def _invoice(self, invoice_id: str) -> billing_pb2.Invoice:
        got: billing_pb2.GetInvoiceResponse = await self._client.invoices.GetInvoice(
            billing_pb2.GetInvoiceRequest(invoice_id=invoice_id)
        )
        return got.invoice

    async def _report_invoice(self, invoice: billing_pb2.Invoice) -> None:
        total = money(invoice.total_minor, invoice.currency)
        if invoice.status == "paid":
            self._say(f"invoice {invoice.number}: {total}, paid")
        else:
            self._say(
                f"invoice {invoice.number}: {total}, {invoice.status}: payment declined "
                f"({invoice.last_failure_code}), retry at {minute(moment_of(invoice.next_attempt_at))}"
            )

    async def _payments(self) -> list[billing_pb2.Payment]:
        async def page(token: str) -> tuple[Sequence[billing_pb2.Payment], str]:
            listed = await self._client.invoices.ListPayments(
                billing_pb2.ListPaymentsRequest(organization_id=self._organization_id, page_token=token),
            )
            return listed.payments, listed.next_page_token

        return await every_page(page)

    async def _print_invoices(self) -> TourResult:
        invoices = await self._invoices()
        payments = await self._payments()
        self._say(f"\n{len(invoices)} invoices of {self._organization_id}:")
        for invoice in invoices:
            own = sorted((p for p in payments if p.invoice_id == invoice.invoice_id), key=lambda p: p.attempt)
            self._say("\n" + invoice_table(invoice, own))
        balance = await self._client.invoices.GetBalance(
            billing_pb2.GetBalanceRequest(organization_id=self._organization_id)
        )
        for entry in balance.balances:
            self._say(
                f"\nbalance: invoiced {money(entry.invoiced_minor, entry.currency)}, "
                f"paid {money(entry.paid_minor, entry.currency)}, "
                f"outstanding {money(entry.outstanding_minor, entry.currency)}"
            )
        return TourResult(self._organization_id, self._subscription_id, invoices)
