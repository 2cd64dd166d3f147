"""An invoice's figures through the real server: total, credit applied, amount due, paid, remaining.

The e2e server's test clock starts 2026-01-15 09:00 UTC; `subscribe` (test_billing) puts the
organization on Pro: 29.00 a month in advance, API calls at 0.5 ¢ for the first 1,000 and
0.1 ¢ beyond. These are the rows of the "Invoice amounts" worked example (docs/billing-rules/README.md): the invoice of
January's 1,200 calls and February's fee (34.20) with 10.00 of credit, paid, written off, voided.
"""

from __future__ import annotations

from billing.v1 import billing_pb2
from tests.e2e.conftest import Running
from tests.e2e.test_billing import ACCEPTED, Customer, at, subscribe

Figures = tuple[str, int, int, int, int, int]
"""(status, total, credit applied, amount due, amount paid, amount remaining)."""


def figures(invoice: billing_pb2.Invoice) -> Figures:
    return (
        invoice.status,
        invoice.total_minor,
        invoice.credit_applied_minor,
        invoice.amount_due_minor,
        invoice.amount_paid_minor,
        invoice.amount_remaining_minor,
    )


async def read(customer: Customer, invoice_id: str) -> billing_pb2.Invoice:
    """The invoice as GetInvoice answers it, checked equal to its ListInvoices entry."""
    got = await customer.stubs.invoices.GetInvoice(
        billing_pb2.GetInvoiceRequest(invoice_id=invoice_id), metadata=customer.running.admin
    )
    [listed] = [invoice for invoice in await customer.invoices() if invoice.invoice_id == invoice_id]
    assert got.invoice == listed
    return got.invoice


async def grant(customer: Customer, amount_minor: int) -> None:
    await customer.stubs.invoices.GrantCredit(
        billing_pb2.GrantCreditRequest(
            organization_id=customer.organization_id, amount_minor=amount_minor, description="goodwill"
        ),
        metadata=customer.running.admin,
    )


async def credited_february(running: Running, payment_method: str) -> tuple[Customer, str]:
    """The worked example up to its draft: January's 1,200 calls and February's fee, 10.00 of credit.

    The card on file is `payment_method` from the draft on, so the finalized invoice's charge
    succeeds or fails by it.
    """
    customer = await subscribe(running, "pm_ok")
    await customer.advance_to(at(1, 15, 9, 1))
    [opening] = await customer.invoices()
    assert figures(opening) == ("paid", 2900, 0, 2900, 2900, 0)
    await grant(customer, 1000)
    await customer.advance_to(at(1, 20))
    assert (await customer.use("jan", "1200", at(1, 20))).outcome == ACCEPTED

    # The period closes Feb 15 09:00: a draft for the grace hour, due its total (no credit yet).
    await customer.advance_to(at(2, 15, 9, 30))
    draft = (await customer.invoices())[-1]
    assert figures(await read(customer, draft.invoice_id)) == ("draft", 3420, 0, 3420, 0, 3420)
    await customer.pay_with(payment_method)
    return customer, draft.invoice_id


async def test_a_credited_invoice_paid_by_the_gateway_keeps_its_amount_due_and_owes_nothing(
    running: Running,
) -> None:
    customer, invoice_id = await credited_february(running, "pm_ok")

    # Finalized: 34.20 less 10.00 of credit is 24.20 due; the card is charged 24.20 and pays it.
    await customer.advance_to(at(2, 15, 10, 30))
    assert figures(await read(customer, invoice_id)) == ("paid", 3420, 1000, 2420, 2420, 0)
    charges = [p for p in await customer.payments() if p.invoice_id == invoice_id]
    assert [(p.status, p.amount_minor) for p in charges] == [("succeeded", 2420)]
    balance = await customer.balance()
    assert (balance.invoiced_minor, balance.paid_minor, balance.credit_applied_minor) == (6320, 5320, 1000)
    assert (balance.outstanding_minor, balance.credit_minor) == (0, 0)


async def test_an_uncollectible_invoice_keeps_its_amount_due_and_still_owes_it(running: Running) -> None:
    customer, invoice_id = await credited_february(running, "pm_insufficient_funds")

    await customer.advance_to(at(2, 15, 10, 30))  # the first attempt fails
    assert figures(await read(customer, invoice_id)) == ("open", 3420, 1000, 2420, 0, 2420)
    assert (await customer.balance()).outstanding_minor == 2420
    await customer.advance_to(at(2, 25))  # retries 1, 3, 5 and 7 days after the first failure fail too

    written_off = await read(customer, invoice_id)
    assert (written_off.attempts, written_off.last_failure_code) == (5, "insufficient_funds")
    assert figures(written_off) == ("uncollectible", 3420, 1000, 2420, 0, 2420)
    charges = [p for p in await customer.payments() if p.invoice_id == invoice_id]
    assert [p.amount_minor for p in charges] == [2420] * 5  # every retry asks for the amount due
    # The subscription was canceled; its last period [Feb 15, Feb 22) had nothing to bill:
    # settled at once, nothing paid.
    final = (await customer.invoices())[-1]
    assert (final.reason, *figures(final)) == ("subscription_end", "paid", 0, 0, 0, 0, 0)
    balance = await customer.balance()
    assert (balance.uncollectible_minor, balance.credit_applied_minor, balance.outstanding_minor) == (2420, 1000, 0)


async def test_a_void_invoice_keeps_its_amount_due_and_owes_nothing(running: Running) -> None:
    customer, invoice_id = await credited_february(running, "pm_declined")
    await customer.advance_to(at(2, 15, 10, 30))
    assert figures(await read(customer, invoice_id)) == ("open", 3420, 1000, 2420, 0, 2420)

    voided = await customer.stubs.invoices.VoidInvoice(
        billing_pb2.VoidInvoiceRequest(invoice_id=invoice_id), metadata=running.admin
    )
    assert figures(voided.invoice) == ("void", 3420, 1000, 2420, 0, 0)
    assert await read(customer, invoice_id) == voided.invoice
    balance = await customer.balance()
    assert (balance.outstanding_minor, balance.voided_minor) == (0, 2420)
    assert balance.credit_minor == 1000  # voiding gave the spent credit back
