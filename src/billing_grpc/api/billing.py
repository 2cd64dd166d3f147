"""BillingService and InvoiceService: run the cycle, move the test clock, read invoices, payments, balances."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from grpc import aio

from billing.v1 import billing_pb2, billing_pb2_grpc
from billing_grpc.api import convert
from billing_grpc.api.auth import command_context
from billing_grpc.api.paging import page
from billing_grpc.api.reads import document, existing_organization, settled
from billing_grpc.application.billing_cycle import CycleReport
from billing_grpc.bootstrap import App
from billing_grpc.domain.access import Action
from billing_grpc.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument
from billing_grpc.domain.invoice import InvoiceStatus
from projections.balances import BALANCES
from projections.invoices import INVOICES
from projections.payments import PAYMENTS

# AdvanceClock moves at most this far per call: enough for ten years of billing, and a bound on
# how long one call may run.
MAX_ADVANCE = timedelta(days=3660)


def _report(report: CycleReport) -> billing_pb2.CycleReport:
    return billing_pb2.CycleReport(
        periods_closed=report.periods_closed,
        invoices_finalized=report.invoices_finalized,
        payments_attempted=report.payments_attempted,
        failures=report.failures,
    )


class BillingServicer(billing_pb2_grpc.BillingServiceServicer):
    """Billing runs on demand, and the test clock."""

    def __init__(self, app: App) -> None:
        self._app = app

    async def RunBillingCycle(
        self, request: billing_pb2.RunBillingCycleRequest, context: aio.ServicerContext
    ) -> billing_pb2.RunBillingCycleResponse:
        """Run everything due now."""
        command = command_context()
        command.require(Action.BILLING_OPERATE, None, "billing")
        report = await self._app.cycle.run(command)
        return billing_pb2.RunBillingCycleResponse(report=_report(report), now=convert.timestamp(self._app.clock.now()))

    async def AdvanceClock(
        self, request: billing_pb2.AdvanceClockRequest, context: aio.ServicerContext
    ) -> billing_pb2.AdvanceClockResponse:
        """Move the test clock, billing everything that falls due on the way."""
        command = command_context()
        command.require(Action.BILLING_OPERATE, None, "billing")
        clock = self._app.test_clock
        if clock is None:
            raise FailedPrecondition(
                "test_clock_disabled", "the server runs on the wall clock (set BILLING_TEST_CLOCK)"
            )
        now = clock.now()
        if request.HasField("to") == bool(request.by_seconds):
            raise InvalidArgument.of(FieldViolation("to", "set exactly one of `to` and `by_seconds`"))
        if request.HasField("to"):
            target = convert.from_timestamp(request.to, "to")
            if not now <= target <= now + MAX_ADVANCE:
                raise InvalidArgument.of(
                    FieldViolation("to", f"must be between now ({now}) and {MAX_ADVANCE.days} days ahead")
                )
        else:
            if not 0 < request.by_seconds <= MAX_ADVANCE.total_seconds():
                limit = int(MAX_ADVANCE.total_seconds())
                raise InvalidArgument.of(FieldViolation("by_seconds", f"must be between 1 and {limit}"))
            target = now + timedelta(seconds=request.by_seconds)
        report = await self._app.cycle.advance(clock, target, command)
        return billing_pb2.AdvanceClockResponse(now=convert.timestamp(clock.now()), report=_report(report))

    async def GetClock(
        self, request: billing_pb2.GetClockRequest, context: aio.ServicerContext
    ) -> billing_pb2.GetClockResponse:
        """The server's business time, and whether it is a test clock; changes nothing (any role: the policy)."""
        return billing_pb2.GetClockResponse(
            now=convert.timestamp(self._app.clock.now()), test_clock=self._app.test_clock is not None
        )


class InvoiceServicer(billing_pb2_grpc.InvoiceServiceServicer):
    """Invoices, payments and balances, read from their read models; voiding."""

    def __init__(self, app: App) -> None:
        self._app = app

    async def _invoice(self, invoice_id: str) -> dict[str, Any]:
        doc = await document(self._app, INVOICES, invoice_id, "invoice")
        command_context().require(Action.BILLING_READ, doc["organization_id"], "invoice")
        return doc

    async def GetInvoice(
        self, request: billing_pb2.GetInvoiceRequest, context: aio.ServicerContext
    ) -> billing_pb2.GetInvoiceResponse:
        """One invoice of an organization the caller may read."""
        return billing_pb2.GetInvoiceResponse(invoice=convert.invoice(await self._invoice(request.invoice_id)))

    async def ListInvoices(
        self, request: billing_pb2.ListInvoicesRequest, context: aio.ServicerContext
    ) -> billing_pb2.ListInvoicesResponse:
        """An organization's invoices, filtered, in issue order."""
        command_context().require(Action.BILLING_READ, request.organization_id, "organization")
        await existing_organization(self._app, request.organization_id)
        query: dict[str, Any] = {"organization_id": request.organization_id}
        if request.subscription_id:
            query["subscription_id"] = request.subscription_id
        if request.status:
            if request.status not in set(InvoiceStatus):
                statuses = ", ".join(InvoiceStatus)
                raise InvalidArgument.of(FieldViolation("status", f"must be one of {statuses}"))
            query["status"] = request.status
        issued: dict[str, Any] = {}
        if request.HasField("issued_from"):
            issued["$gte"] = convert.from_timestamp(request.issued_from, "issued_from")
        if request.HasField("issued_before"):
            issued["$lt"] = convert.from_timestamp(request.issued_before, "issued_before")
        if issued:
            query["issued_at"] = issued
        found = await page(self._app.read_models, INVOICES, query, request.page_size, request.page_token)
        return billing_pb2.ListInvoicesResponse(
            invoices=[convert.invoice(doc) for doc in found.documents], next_page_token=found.next_token
        )

    async def VoidInvoice(
        self, request: billing_pb2.VoidInvoiceRequest, context: aio.ServicerContext
    ) -> billing_pb2.VoidInvoiceResponse:
        """Void an invoice that is not paid."""
        position = await self._app.billing.void(command_context(), request.invoice_id)
        await settled(self._app, position)
        return billing_pb2.VoidInvoiceResponse(invoice=convert.invoice(await self._invoice(request.invoice_id)))

    async def GetBalance(
        self, request: billing_pb2.GetBalanceRequest, context: aio.ServicerContext
    ) -> billing_pb2.GetBalanceResponse:
        """The organization's balance in every currency it was invoiced in."""
        command_context().require(Action.BILLING_READ, request.organization_id, "organization")
        await existing_organization(self._app, request.organization_id)
        found = await self._app.read_models.find(
            BALANCES, {"organization_id": request.organization_id}, sort=[("currency", 1)]
        )
        return billing_pb2.GetBalanceResponse(
            organization_id=request.organization_id, balances=[convert.balance(doc) for doc in found]
        )

    async def GrantCredit(
        self, request: billing_pb2.GrantCreditRequest, context: aio.ServicerContext
    ) -> billing_pb2.GrantCreditResponse:
        """Grant customer credit to an organization (platform admins)."""
        position = await self._app.credit.grant(
            command_context(), request.organization_id, request.amount_minor, request.description
        )
        await settled(self._app, position)
        found = await self._app.read_models.find(BALANCES, {"organization_id": request.organization_id})
        org = await document(self._app, "organizations", request.organization_id, "organization")
        [mine] = [doc for doc in found if doc["currency"] == org["currency"]]
        return billing_pb2.GrantCreditResponse(balance=convert.balance(mine))

    async def ListPayments(
        self, request: billing_pb2.ListPaymentsRequest, context: aio.ServicerContext
    ) -> billing_pb2.ListPaymentsResponse:
        """An organization's payment attempts, in the order they were made."""
        command_context().require(Action.BILLING_READ, request.organization_id, "organization")
        await existing_organization(self._app, request.organization_id)
        query: dict[str, Any] = {"organization_id": request.organization_id}
        if request.invoice_id:
            query["invoice_id"] = request.invoice_id
        found = await page(self._app.read_models, PAYMENTS, query, request.page_size, request.page_token)
        return billing_pb2.ListPaymentsResponse(
            payments=[convert.payment(doc) for doc in found.documents], next_page_token=found.next_token
        )
