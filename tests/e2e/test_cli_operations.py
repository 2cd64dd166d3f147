"""The operations commands against the real server: --json parsed, human tables, exit statuses."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from billing_grpc.embedded import free_port
from tests.e2e.cli_runner import run_cli, target
from tests.e2e.conftest import Running, start_running
from tests.e2e.world import World, build_world

CHARGE = '{"meter_code": "cli_calls", "per_unit": {"unit_price": "0.1"}}'


@pytest.fixture
async def server(mongo_uri: str, database_name: str) -> AsyncIterator[Running]:
    """A server on a test clock whose invoices are final at once and billed only when asked."""
    async for running in start_running(mongo_uri, database_name, scheduler=False, grace_period_seconds=0):
        yield running


def admin(running: Running) -> list[str]:
    return ["--target", target(running), "--api-key", running.admin_token]


async def as_json(running: Running, *argv: str) -> list[dict[str, Any]]:
    """Run a command with --json as the platform admin; the objects it printed, one per line."""
    code, out, err = await run_cli([*argv, "--json", *admin(running)])
    assert code == 0, (argv, err)
    return [json.loads(line) for line in out.splitlines()]


async def test_a_customer_is_set_up_billed_and_paid_from_the_command_line(server: Running) -> None:
    [meter] = await as_json(server, "meters", "create", "--code", "cli_calls", "--name", "CLI calls")
    assert meter["code"] == "cli_calls" and meter["aggregation"] == "sum"
    plan_options = ["--currency", "USD", "--base-fee-minor", "1000", "--charge", CHARGE]
    [plan] = await as_json(server, "plans", "create", "--code", "pro", "--name", "Pro", *plan_options)
    assert plan["base_fee_minor"] == "1000"  # proto3 JSON writes int64 as a string
    [charge] = plan["charges"]
    assert (charge["meter_code"], charge["per_unit"]) == ("cli_calls", {"unit_price": "0.1"})
    [bigger] = await as_json(server, "plans", "create", "--code", "max", "--name", "Max", *plan_options)
    [org] = await as_json(server, "orgs", "create", "--name", "Acme", "--currency", "USD", "--payment-method", "pm_ok")
    org_id = org["organization_id"]
    [subscription] = await as_json(server, "subscriptions", "start", "--org", org_id, "--plan", plan["plan_id"])
    assert subscription["status"] == "active"

    assert org_id in {o["organization_id"] for o in await as_json(server, "orgs", "list")}
    assert sorted(p["code"] for p in await as_json(server, "plans", "list")) == ["max", "pro"]
    [clock] = await as_json(server, "clock", "show")
    assert clock == {"now": "2026-01-15T09:00:00Z", "test_clock": True}

    # The fee in advance is invoiced at the start; `pay` runs the billing cycle, which collects it.
    [invoice] = await as_json(server, "invoices", "list", "--org", org_id)
    assert (invoice["total_minor"], invoice["status"]) == ("1000", "draft")
    code, out, err = await run_cli(["invoices", "pay", invoice["invoice_id"], *admin(server)])
    assert (code, err) == (0, "")
    assert out == f"invoice {invoice['invoice_id']} is paid (USD 10.00)\n"
    code, out, _ = await run_cli(["invoices", "get", invoice["invoice_id"], *admin(server)])
    assert code == 0
    assert "  Total" in out and "USD 10.00" in out and "Payment #1: " in out and "succeeded" in out
    [payment] = await as_json(server, "payments", "list", "--org", org_id)
    assert (payment["invoice_id"], payment["status"], payment["amount_minor"]) == (
        invoice["invoice_id"],
        "succeeded",
        "1000",
    )

    # A month later: the period closes and the next fee is invoiced and paid on the way.
    code, out, err = await run_cli(["clock", "advance", "--by", "31d", *admin(server)])
    assert code == 0, err
    assert out.startswith("now 2026-02-15T09:00:00+00:00: 1 periods closed, 1 invoices finalized, 1 payments")
    assert [i["status"] for i in await as_json(server, "invoices", "list", "--org", org_id)] == ["paid", "paid"]

    sub_id = subscription["subscription_id"]
    [changed] = await as_json(server, "subscriptions", "change", sub_id, "--plan", bigger["plan_id"], "--at-period-end")
    assert changed["subscription"]["scheduled_plan_id"] == bigger["plan_id"]
    [canceled] = await as_json(server, "subscriptions", "cancel", sub_id, "--at-period-end")
    assert canceled["cancel_at"] == canceled["current_period_end"]

    events = await as_json(server, "events", "list", "--org", org_id)
    assert [e["position"] for e in events] == sorted(e["position"] for e in events)
    assert {"organization.created", "subscription.started", "invoice.paid"} <= {e["type"] for e in events}

    # Human output: small tables with a header row.
    code, out, _ = await run_cli(["subscriptions", "list", "--org", org_id, *admin(server)])
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["ID", "PLAN", "STATUS", "CURRENT", "PERIOD", "SCHEDULED", "PLAN"]
    assert row.startswith(sub_id) and "active" in row and "2026-02-15 09:00:00 → 2026-03-15 09:00:00" in row


async def test_a_declined_payment_is_exit_75_with_the_reason(server: Running) -> None:
    [plan] = await as_json(server, "plans", "create", "--code", "flat", "--name", "Flat", "--currency", "USD",
                           "--base-fee-minor", "500")  # fmt: skip
    [org] = await as_json(server, "orgs", "create", "--name", "Declined", "--currency", "USD",
                          "--payment-method", "pm_declined")  # fmt: skip
    await as_json(server, "subscriptions", "start", "--org", org["organization_id"], "--plan", plan["plan_id"])
    [invoice] = await as_json(server, "invoices", "list", "--org", org["organization_id"])

    code, out, err = await run_cli(["invoices", "pay", invoice["invoice_id"], *admin(server)])

    assert (code, out) == (75, "")
    assert err.startswith(f"error: invoice {invoice['invoice_id']} is still open, last failure card_declined")
    assert err.count("\n") == 1


@pytest.fixture
async def world(server: Running) -> World:
    return await build_world(server)


async def test_refusals_are_one_line_with_their_exit_status(world: World) -> None:
    running = world.running
    viewer = ["--target", target(running), "--api-key", world.keys["billing_viewer"]]
    cases = [
        (["subscriptions", "get", "sub_missing", *admin(running)], 66, "error: NOT_FOUND (subscription_not_found): "),
        (["invoices", "get", "inv_missing", "--json", *admin(running)], 66, "error: NOT_FOUND (invoice_not_found): "),
        (["clock", "advance", "--by", "1d", *viewer], 77, "error: PERMISSION_DENIED (permission_denied): "),
        (["orgs", "list", "--target", target(running), "--api-key", "bgk_nope"], 77, "error: UNAUTHENTICATED"),
        (["invoices", "void", world.own.invoice_id, *viewer], 77, "error: PERMISSION_DENIED"),
        (["meters", "create", "--code", "api_calls", "--name", "again", *admin(running)], 65, "error: ALREADY_EXISTS"),
        (["orgs", "create", "--name", "X", "--currency", "usd", *admin(running)], 65, "error: INVALID_ARGUMENT"),
        (["orgs", "list", "--target", f"127.0.0.1:{free_port()}", *admin(running)[2:]], 69, "error: UNAVAILABLE: "),
        (["orgs", "list", "--target", target(running), "--api-key", ""], 64, "error: no API key"),
    ]
    for argv, status, start in cases:
        code, out, err = await run_cli(argv)
        assert (code, out) == (status, ""), (argv, err)
        assert err.startswith(start) and err.count("\n") == 1, (argv, err)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["clock", "advance"], "give exactly one of --to and --by"),
        (["clock", "advance", "--by", "soon"], "not a positive duration"),
        (["subscriptions", "start", "--org", "org_1"], "Missing option '--plan'"),
        (["plans", "create", "--code", "c", "--name", "n", "--currency", "USD", "--charge", "{"], "--charge"),
        (["orgs", "get"], "give ORGANIZATION_ID or --external-id"),
    ],
)
async def test_bad_usage_is_exit_64_before_any_call(argv: list[str], message: str) -> None:
    code, out, err = await run_cli([*argv, "--target", f"127.0.0.1:{free_port()}", "--api-key", "bgk_any"])
    assert (code, out) == (64, "")
    assert message in err


async def test_any_role_reads_the_clock_and_nothing_is_billed(world: World) -> None:
    running = world.running
    before, head = running.clock.now(), await running.app.store.head_position()
    emitter = ["--target", target(running), "--api-key", world.keys["usage_emitter"]]

    code, out, err = await run_cli(["clock", "show", *emitter])

    assert (code, err) == (0, "")
    assert out == f"{before.isoformat()} (test clock)\n"
    assert (running.clock.now(), await running.app.store.head_position()) == (before, head)


async def test_a_reader_that_closes_the_pipe_early_ends_the_command_quietly(world: World) -> None:
    # `billing-grpc events list | head -0`: the reader is gone before the first line is written.
    env = {**os.environ, "BILLING_TARGET": target(world.running), "BILLING_API_KEY": world.running.admin_token}
    read, write = os.pipe()
    os.close(read)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "billing_grpc.cli", "events", "list", "--json",
            stdout=write, stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
    finally:
        os.close(write)
    _, err = await process.communicate()

    assert (process.returncode, err.decode()) == (141, "")
