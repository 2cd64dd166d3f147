"""`billing-grpc demo` against the real server on a test clock: the story it tells is the one stored.

The plan the tour creates: USD 49.00 a month in advance; API calls graduated (the first 10,000
included, then 0.1 cent each up to 100,000, then 0.05 cent); storage 25 cents per GB of the
month's peak. Its usage: 12,000 calls and 20 GB, then 60,000 and 35 GB, then 150,000 and 50 GB.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from billing.v1 import billing_pb2
from billing_grpc.api.server import create_server
from billing_grpc.bootstrap import open_app
from billing_grpc.client import BillingClient, connect
from billing_grpc.demo.tour import Tour
from billing_grpc.domain.clock import SystemClock
from billing_grpc.embedded import free_port
from billing_grpc.settings import Settings
from tests.e2e.cli_runner import run_cli, target
from tests.e2e.conftest import TEST_KEY_HASH_SECRET, Running, start_running
from tests.e2e.world import Stubs

BASE_FEE = 4900
# The opening invoice bills January's base fee in advance; each close bills the month's usage in
# arrears plus the next month's base fee.
EXPECTED_TOTALS = [
    BASE_FEE,
    # 2,000 calls past the included 10,000 at 0.1 = 200; 20 GB x 25 = 500
    200 + 500 + BASE_FEE,
    # 50,000 x 0.1 = 5,000; 35 x 25 = 875
    5_000 + 875 + BASE_FEE,
    # 90,000 x 0.1 = 9,000 and 50,000 x 0.05 = 2,500; 50 x 25 = 1,250
    9_000 + 2_500 + 1_250 + BASE_FEE,
]


@pytest.fixture
async def server(mongo_uri: str, database_name: str) -> AsyncIterator[Running]:
    """The real server with the scheduler off: only the tour moves the test clock."""
    async for started in start_running(mongo_uri, database_name, scheduler=False):
        yield started


async def stored_invoices(running: Running, organization_id: str) -> list[billing_pb2.Invoice]:
    listed = await Stubs.on(running.channel).invoices.ListInvoices(
        billing_pb2.ListInvoicesRequest(organization_id=organization_id), metadata=running.admin
    )
    return list(listed.invoices)


async def stored_payments(running: Running, organization_id: str) -> list[billing_pb2.Payment]:
    listed = await Stubs.on(running.channel).invoices.ListPayments(
        billing_pb2.ListPaymentsRequest(organization_id=organization_id), metadata=running.admin
    )
    return list(listed.payments)


# Two tours of ~100 calls each: 30 s on a busy 2-core machine, so more room than the default.
@pytest.mark.timeout(300)
async def test_the_tour_bills_three_months_with_a_declined_then_retried_payment_and_runs_again(
    server: Running,
) -> None:
    organizations = []
    for _ in range(2):  # the second run on the same server must work just as well
        code, out, err = await run_cli(["demo", "--target", target(server), "--api-key", server.admin_token])
        assert code == 0, out + err
        [organization_id] = re.findall(r"^organization .* \((org_\w+)\)", out, re.MULTILINE)
        organizations.append(organization_id)

        invoices = await stored_invoices(server, organization_id)
        assert [invoice.total_minor for invoice in invoices] == EXPECTED_TOTALS
        assert all(invoice.status == "paid" for invoice in invoices)
        payments = await stored_payments(server, organization_id)
        declined = invoices[2].invoice_id
        attempts = sorted((p.attempt, p.status, p.failure_code) for p in payments if p.invoice_id == declined)
        assert attempts == [(1, "failed", "card_declined"), (2, "succeeded", "")]
        assert sum(1 for p in payments if p.status == "succeeded") == 4

        # The printout says what is stored: each invoice's total, the decline, and the way back.
        printed_totals = re.findall(r"^  Total +USD ([\d,.]+)$", out, re.MULTILINE)
        assert printed_totals == ["49.00", "56.00", "107.75", "176.50"]
        assert f"{len(invoices)} invoices of {organization_id}" in out
        for invoice in invoices:
            assert f"Invoice {invoice.number}  issued" in out
        assert re.search(r"Payment #1: .*USD 107\.75  failed \(card_declined\)\n  Payment #2: .*succeeded", out)
        assert "api_calls_" in out and "150,000" in out and "USD 115.00" in out  # March's usage line
        transitions = re.findall(r"^subscription sub_\w+: (\w+) → (\w+)$", out, re.MULTILINE)
        assert transitions == [("active", "past_due"), ("past_due", "active")]
        assert out.index("payment declined (card_declined)") < out.index("the customer replaces the card")
        assert "\r" not in err  # not a terminal: no progress bars
    assert organizations[0] != organizations[1]


async def test_the_tour_reads_its_key_from_the_environment_and_needs_no_grace_period(
    mongo_uri: str, database_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With no grace period an invoice is final the moment its period closes: no draft to wait out.
    async for server in start_running(mongo_uri, database_name, scheduler=False, grace_period_seconds=0):
        monkeypatch.setenv("BILLING_API_KEY", server.admin_token)
        monkeypatch.setenv("BILLING_TARGET", target(server))
        code, out, err = await run_cli(["demo"])
        assert code == 0, out + err
        assert "is a draft until" not in out
        assert re.findall(r"^  Total +USD ([\d,.]+)$", out, re.MULTILINE) == ["49.00", "56.00", "107.75", "176.50"]
        assert re.findall(r"^subscription sub_\w+: (\w+) → (\w+)$", out, re.MULTILINE) == [
            ("active", "past_due"),
            ("past_due", "active"),
        ]


async def test_a_bad_key_stops_the_tour_with_one_clear_line(server: Running) -> None:
    code, out, err = await run_cli(["demo", "--target", target(server), "--api-key", "bgk_not_a_key"])
    assert code == 77
    assert out == ""
    assert err.startswith("demo failed: UNAUTHENTICATED (invalid_credentials): ")
    assert err.count("\n") == 1


async def test_no_key_at_all_is_refused_before_calling(server: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BILLING_API_KEY", raising=False)
    code, out, err = await run_cli(["demo", "--target", target(server)])
    assert (code, out) == (64, "")
    assert err == "demo failed: no API key: pass --api-key or set BILLING_API_KEY\n"


async def test_a_server_on_the_wall_clock_is_named_as_the_problem(
    mongo_uri: str, database_name: str, mongo_client: object
) -> None:
    # (mongo_client drops the database afterwards)
    config = Settings(
        mongo_uri=mongo_uri,
        database=database_name,
        listen="127.0.0.1:0",
        key_hash_secret=TEST_KEY_HASH_SECRET,
        scheduler=False,
    )
    async with open_app(config, clock=SystemClock()) as app:
        assert app.bootstrap is not None and app.bootstrap.token is not None
        await app.projections.wait_until(await app.store.head_position())  # the admin's key is known
        grpc_server = create_server(app)
        await grpc_server.start()
        try:
            code, out, err = await run_cli(
                ["demo", "--target", f"127.0.0.1:{grpc_server.port}", "--api-key", app.bootstrap.token]
            )
        finally:
            await grpc_server.stop(grace=0)
    assert code == 65
    assert "the server runs on the wall clock" in err and "BILLING_TEST_CLOCK" in err
    assert "meter" not in out  # refused before creating anything (GetClock said so: no AdvanceClock tried)


class _SetUpOver(Exception):
    """Raised by the first catalogue call: the tour's clock set-up is over."""


class _StopAtTheCatalogue:
    async def CreateMeter(self, *args: object, **kwargs: object) -> None:
        raise _SetUpOver


async def test_the_tour_reads_the_clock_without_running_a_billing_cycle(
    server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="billing_grpc.rpc")

    async def set_up_clock() -> list[str]:
        """The billing RPCs the tour calls before it creates anything, as the server logged them."""
        caplog.clear()
        channel = connect(target(server), server.admin_token)
        client = dataclasses.replace(BillingClient.on(channel), catalogue=_StopAtTheCatalogue())  # type: ignore[arg-type]
        try:
            with pytest.raises(_SetUpOver):
                await Tour(client, io.StringIO(), io.StringIO()).run()
        finally:
            await channel.close()
        methods = [str(getattr(record, "method", "")) for record in caplog.records]
        return [method.rsplit("/", 1)[1] for method in methods if method.startswith("/billing.v1.BillingService/")]

    # 09:00 on a test clock: read it, then move it to midnight (the one billing run it needs).
    assert await set_up_clock() == ["GetClock", "AdvanceClock"]
    assert server.clock.now() == datetime(2026, 1, 16, tzinfo=UTC)
    # At midnight already: reading the clock is all, no cycle is run to learn the time.
    assert await set_up_clock() == ["GetClock"]
    assert server.clock.now() == datetime(2026, 1, 16, tzinfo=UTC)


async def test_an_unreachable_server_is_one_line() -> None:
    code, _, err = await run_cli(["demo", "--target", f"127.0.0.1:{free_port()}", "--api-key", "bgk_any"])
    assert code == 69
    assert err.startswith("demo failed: UNAVAILABLE: ") and err.count("\n") == 1
