"""`billing-grpc invoices`: list, show, void and collect invoices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import click

from billing.v1 import billing_pb2
from billing_grpc.cli.client_command import CALL_TIMEOUT_SECONDS, client_command
from billing_grpc.cli.console import Console
from billing_grpc.cli.options import MOMENT
from billing_grpc.cli.paging import pages
from billing_grpc.cli.remote import DATA, TEMPORARY, CommandError, timestamp
from billing_grpc.cli.tables import money, when
from billing_grpc.client import BillingClient
from billing_grpc.demo.tables import invoice_table

HEADERS = ("ID", "NUMBER", "STATUS", "TOTAL", "REMAINING", "ISSUED", "SUBSCRIPTION")


def row(invoice: billing_pb2.Invoice) -> Sequence[str]:
    """An invoice as a table row."""
    return (
        invoice.invoice_id,
        invoice.number,
        invoice.status,
        money(invoice.total_minor, invoice.currency),
        money(invoice.amount_remaining_minor, invoice.currency),
        when(invoice, "issued_at"),
        invoice.subscription_id,
    )


async def _payments(client: BillingClient, invoice: billing_pb2.Invoice) -> list[billing_pb2.Payment]:
    async def page(token: str) -> tuple[Sequence[billing_pb2.Payment], str]:
        request = billing_pb2.ListPaymentsRequest(
            organization_id=invoice.organization_id, invoice_id=invoice.invoice_id, page_token=token
        )
        listed = await client.invoices.ListPayments(request, timeout=CALL_TIMEOUT_SECONDS)
        return listed.payments, listed.next_page_token

    return [payment async for payment in pages(page)]


async def _get(client: BillingClient, invoice_id: str) -> billing_pb2.Invoice:
    request = billing_pb2.GetInvoiceRequest(invoice_id=invoice_id)
    found: billing_pb2.GetInvoiceResponse = await client.invoices.GetInvoice(request, timeout=CALL_TIMEOUT_SECONDS)
    return found.invoice


async def show(console: Console, client: BillingClient, invoice: billing_pb2.Invoice) -> None:
    """One invoice: a JSON line, or its table with its lines and payments."""
    if console.json:
        console.message(invoice)
    else:
        console.line(f"{invoice.invoice_id} ({invoice.organization_id}, {invoice.subscription_id})")
        console.line(invoice_table(invoice, await _payments(client, invoice)))


@click.group("invoices", short_help="Invoices: list, get, void, pay.")
def invoices() -> None:
    """An organization's invoices: list, get (a table of its lines and payments), void, pay."""


@invoices.command(
    "list", short_help="List an organization's invoices.", help="List an organization's invoices in issue order."
)
@click.option("--org", "organization_id", required=True, help="The organization's id (org_…).")
@click.option("--subscription", "subscription_id", default="", help="Only this subscription's.")
@click.option("--status", default="", help="Only draft, open, paid, void or uncollectible ones.")
@click.option("--issued-from", type=MOMENT, help="Issued at or after (ISO 8601).")
@click.option("--issued-before", type=MOMENT, help="Issued before (ISO 8601).")
@client_command
async def list_invoices(
    console: Console,
    client: BillingClient,
    organization_id: str,
    subscription_id: str,
    status: str,
    issued_from: datetime | None,
    issued_before: datetime | None,
) -> None:
    """An organization's invoices."""

    async def page(token: str) -> tuple[Sequence[billing_pb2.Invoice], str]:
        request = billing_pb2.ListInvoicesRequest(
            organization_id=organization_id, subscription_id=subscription_id, status=status, page_token=token
        )
        if issued_from is not None:
            request.issued_from.CopyFrom(timestamp(issued_from))
        if issued_before is not None:
            request.issued_before.CopyFrom(timestamp(issued_before))
        listed = await client.invoices.ListInvoices(request, timeout=CALL_TIMEOUT_SECONDS)
        return listed.invoices, listed.next_page_token

    found = [invoice async for invoice in pages(page)]
    if console.json:
        console.messages(found)
    else:
        console.table(HEADERS, [row(invoice) for invoice in found])


@invoices.command("get", short_help="Show an invoice.", help="Show an invoice as a table: lines, total, payments.")
@click.argument("invoice_id", help="The invoice's id (inv_…).")
@client_command
async def get_invoice(console: Console, client: BillingClient, invoice_id: str) -> None:
    """One invoice."""
    await show(console, client, await _get(client, invoice_id))


@invoices.command(
    "void",
    short_help="Void an invoice.",
    help="Void a draft, open or uncollectible invoice: nothing of it is owed, spent credit comes back "
    "(platform admins).",
)
@click.argument("invoice_id", help="The invoice's id (inv_…).")
@client_command
async def void_invoice(console: Console, client: BillingClient, invoice_id: str) -> None:
    """Void."""
    request = billing_pb2.VoidInvoiceRequest(invoice_id=invoice_id)
    voided = await client.invoices.VoidInvoice(request, timeout=CALL_TIMEOUT_SECONDS)
    if console.json:
        console.message(voided.invoice)
    else:
        console.line(f"voided invoice {voided.invoice.invoice_id} ({voided.invoice.number or 'draft'})")


@invoices.command(
    "pay",
    short_help="Collect what is due now, and show whether this invoice is paid.",
    help="There is no RPC that charges one invoice: this runs the billing cycle now (RunBillingCycle, platform "
    "admins), which charges every due invoice (this one included, when it is open and its next attempt is due; "
    "dunning rules apply), then reads the invoice back. Exit 0 when it is paid, 75 (try later) when it is "
    "still open or a draft, 65 when it is void or uncollectible.",
)
@click.argument("invoice_id", help="The invoice's id (inv_…).")
@client_command
async def pay_invoice(console: Console, client: BillingClient, invoice_id: str) -> None:
    """Run the billing cycle; report the invoice."""
    before = await _get(client, invoice_id)  # NOT_FOUND before any billing run
    if before.status not in {"paid", "void", "uncollectible"}:
        await client.billing.RunBillingCycle(billing_pb2.RunBillingCycleRequest(), timeout=CALL_TIMEOUT_SECONDS)
    invoice = await _get(client, invoice_id)
    if console.json:
        console.message(invoice)
    elif invoice.status == "paid":
        console.line(f"invoice {invoice.invoice_id} is paid ({money(invoice.amount_paid_minor, invoice.currency)})")
    if invoice.status == "paid":
        return
    if invoice.status in {"void", "uncollectible"}:
        raise CommandError(f"invoice {invoice.invoice_id} is {invoice.status}: nothing to collect", DATA)
    failure = f", last failure {invoice.last_failure_code}" if invoice.last_failure_code else ""
    later = f", next attempt {when(invoice, 'next_attempt_at')}" if invoice.HasField("next_attempt_at") else ""
    if invoice.status == "draft":
        later = f", final at {when(invoice, 'finalize_at')}"
    raise CommandError(f"invoice {invoice.invoice_id} is still {invoice.status}{failure}{later}", TEMPORARY)
