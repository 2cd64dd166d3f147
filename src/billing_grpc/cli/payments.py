"""`billing-grpc payments`: an organization's payment attempts."""

from __future__ import annotations

from collections.abc import Sequence

import click

from billing.v1 import billing_pb2
from billing_grpc.cli.client_command import CALL_TIMEOUT_SECONDS, client_command
from billing_grpc.cli.console import Console
from billing_grpc.cli.paging import pages
from billing_grpc.cli.tables import money, when
from billing_grpc.client import BillingClient


@click.group("payments", short_help="Payment attempts: list.")
def payments() -> None:
    """Payment attempts, in the order they were made (invoices pay collects)."""


@payments.command("list", short_help="List an organization's payment attempts.", help="List payment attempts.")
@click.option("--org", "organization_id", required=True, help="The organization's id (org_…).")
@click.option("--invoice", "invoice_id", default="", help="Only this invoice's attempts.")
@client_command
async def list_payments(console: Console, client: BillingClient, organization_id: str, invoice_id: str) -> None:
    """Payment attempts."""

    async def page(token: str) -> tuple[Sequence[billing_pb2.Payment], str]:
        request = billing_pb2.ListPaymentsRequest(
            organization_id=organization_id, invoice_id=invoice_id, page_token=token
        )
        listed = await client.invoices.ListPayments(request, timeout=CALL_TIMEOUT_SECONDS)
        return listed.payments, listed.next_page_token

    found = [payment async for payment in pages(page)]
    if console.json:
        console.messages(found)
        return
    rows = [
        (
            p.payment_id,
            p.invoice_id,
            str(p.attempt),
            money(p.amount_minor, p.currency),
            p.status,
            p.failure_code,
            when(p, "started_at"),
        )
        for p in found
    ]
    console.table(("ID", "INVOICE", "ATTEMPT", "AMOUNT", "STATUS", "FAILURE", "STARTED"), rows)
