"""`billing-grpc orgs`: organizations (tenants), their balance and credit."""

from __future__ import annotations

from collections.abc import Sequence

import click

from billing.v1 import billing_pb2, organizations_pb2
from billing_grpc.cli.client_command import CALL_TIMEOUT_SECONDS, client_command
from billing_grpc.cli.console import Console
from billing_grpc.cli.paging import pages
from billing_grpc.cli.tables import money, pairs, when
from billing_grpc.client import BillingClient

HEADERS = ("ID", "NAME", "CURRENCY", "BILLING EMAIL", "EXTERNAL ID", "PAYMENT METHOD", "CREATED")


def row(org: organizations_pb2.Organization) -> Sequence[str]:
    """An organization as a table row."""
    return (
        org.organization_id,
        org.name,
        org.currency,
        org.billing_email,
        org.external_id,
        org.payment_method,
        when(org, "created_at"),
    )


def show(console: Console, org: organizations_pb2.Organization) -> None:
    """One organization: a JSON line, or its fields."""
    if console.json:
        console.message(org)
    else:
        console.record(pairs(org))


@click.group("orgs", short_help="Organizations: list, get, create, update, balance, credit.")
def orgs() -> None:
    """Organizations (tenants): list, get, create, update; their balance; grant credit."""


@orgs.command("list", short_help="List organizations.", help="List the organizations the key may read.")
@client_command
async def list_orgs(console: Console, client: BillingClient) -> None:
    """Every organization, a page at a time."""

    async def page(token: str) -> tuple[Sequence[organizations_pb2.Organization], str]:
        request = organizations_pb2.ListOrganizationsRequest(page_token=token)
        listed = await client.organizations.ListOrganizations(request, timeout=CALL_TIMEOUT_SECONDS)
        return listed.organizations, listed.next_page_token

    found = [org async for org in pages(page)]
    if console.json:
        console.messages(found)
    else:
        console.table(HEADERS, [row(org) for org in found])


@orgs.command("get", short_help="Show an organization.", help="Show one organization, by id or --external-id.")
@click.argument("organization_id", required=False, default="", help="The organization's id (org_…).")
@click.option("--external-id", default="", help="Find it by your own id instead.")
@client_command
async def get_org(console: Console, client: BillingClient, organization_id: str, external_id: str) -> None:
    """One organization."""
    if bool(organization_id) == bool(external_id):
        raise click.UsageError("give ORGANIZATION_ID or --external-id (one of them)")
    request = organizations_pb2.GetOrganizationRequest(organization_id=organization_id, external_id=external_id)
    found = await client.organizations.GetOrganization(request, timeout=CALL_TIMEOUT_SECONDS)
    show(console, found.organization)


@orgs.command("create", short_help="Create an organization.", help="Create an organization (platform admins).")
@click.option("--name", required=True, help="Its display name.")
@click.option("--currency", required=True, help="ISO 4217 code it is billed in, e.g. USD.")
@click.option("--billing-email", default="", help="Where invoices go.")
@click.option("--external-id", default="", help="Your own id for it (unique).")
@click.option("--payment-method", default="", help="The simulated gateway's payment method, e.g. pm_ok.")
@client_command
async def create_org(
    console: Console,
    client: BillingClient,
    name: str,
    currency: str,
    billing_email: str,
    external_id: str,
    payment_method: str,
) -> None:
    """Create an organization."""
    request = organizations_pb2.CreateOrganizationRequest(
        name=name,
        currency=currency,
        billing_email=billing_email,
        external_id=external_id,
        payment_method=payment_method,
    )
    created = await client.organizations.CreateOrganization(request, timeout=CALL_TIMEOUT_SECONDS)
    show(console, created.organization)


@orgs.command(
    "update", short_help="Change an organization.", help="Change an organization's name, email or payment method."
)
@click.argument("organization_id", help="The organization's id (org_…).")
@click.option("--name", help="A new display name.")
@click.option("--billing-email", help="A new billing email.")
@click.option("--payment-method", help="A new payment method.")
@client_command
async def update_org(
    console: Console,
    client: BillingClient,
    organization_id: str,
    name: str | None,
    billing_email: str | None,
    payment_method: str | None,
) -> None:
    """Update an organization's optional fields (only those given)."""
    request = organizations_pb2.UpdateOrganizationRequest(organization_id=organization_id)
    for field, value in (("name", name), ("billing_email", billing_email), ("payment_method", payment_method)):
        if value is not None:
            setattr(request, field, value)
    updated = await client.organizations.UpdateOrganization(request, timeout=CALL_TIMEOUT_SECONDS)
    show(console, updated.organization)


@orgs.command(
    "balance",
    short_help="Show an organization's balance.",
    help="Invoiced, paid, outstanding and credit, per currency.",
)
@click.argument("organization_id", help="The organization's id (org_…).")
@client_command
async def balance(console: Console, client: BillingClient, organization_id: str) -> None:
    """An organization's balance per currency."""
    request = billing_pb2.GetBalanceRequest(organization_id=organization_id)
    found = await client.invoices.GetBalance(request, timeout=CALL_TIMEOUT_SECONDS)
    if console.json:
        console.messages(found.balances)
        return
    headers = ("CURRENCY", "INVOICED", "PAID", "OUTSTANDING", "UNCOLLECTIBLE", "VOIDED", "CREDIT")
    rows = [
        (
            b.currency,
            *(
                money(amount, b.currency)
                for amount in (
                    b.invoiced_minor,
                    b.paid_minor,
                    b.outstanding_minor,
                    b.uncollectible_minor,
                    b.voided_minor,
                    b.credit_minor,
                )
            ),
        )
        for b in found.balances
    ]
    console.table(headers, rows)


@orgs.command(
    "credit",
    short_help="Grant customer credit.",
    help="Grant customer credit in the organization's currency (platform admins); the next invoices spend it. "
    "Not idempotent: each call grants again.",
)
@click.argument("organization_id", help="The organization's id (org_…).")
@click.option("--amount-minor", type=click.IntRange(min=1), required=True, help="Minor units (cents for USD).")
@click.option("--description", default="", help="Why the credit was granted.")
@client_command
async def credit(
    console: Console, client: BillingClient, organization_id: str, amount_minor: int, description: str
) -> None:
    """Grant credit."""
    request = billing_pb2.GrantCreditRequest(
        organization_id=organization_id, amount_minor=amount_minor, description=description
    )
    granted = await client.invoices.GrantCredit(request, timeout=CALL_TIMEOUT_SECONDS)
    if console.json:
        console.message(granted.balance)
    else:
        b = granted.balance
        console.line(f"granted {money(amount_minor, b.currency)}; credit now {money(b.credit_minor, b.currency)}")
