"""Interop: a Node.js client (@grpc/grpc-js + @grpc/proto-loader, no generated code) on the real server.

Python sets up the tenant and moves the test clock; `interop/node/usage_and_invoice.mjs` records
the usage (RecordUsage, then the same keys again over StreamUsage) and reads the invoices, with
a tenant-scoped API key. What Node reads must equal what the Python stubs read.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

from google.protobuf import json_format, timestamp_pb2

from billing.v1 import billing_pb2
from tests.e2e.conftest import Running
from tests.e2e.test_billing import Customer, at, subscribe
from tests.e2e.world import Tenant, World

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "interop" / "node" / "usage_and_invoice.mjs"
NODE_PACKAGES = ("@grpc/grpc-js", "@grpc/proto-loader")


def node_binary() -> str:
    """The node executable, with the packages `make test` installs; missing is a failure, not a skip."""
    node = shutil.which("node")
    assert node is not None, "node is not on PATH: the interop test needs Node.js (see docs/development.md)"
    for package in NODE_PACKAGES:
        folder = ROOT / "node_modules" / package
        assert folder.is_dir(), f"{folder} is missing: run `make test` (or `npm install`) to install the node packages"
    return node


async def run_node(running: Running, key: str, *args: str) -> Any:
    """Run the Node client against the server with `key`; return the JSON it printed."""
    process = await asyncio.create_subprocess_exec(
        node_binary(),
        str(CLIENT),
        *args,
        "--address",
        f"127.0.0.1:{running.server.port}",
        env={"PATH": str(Path(node_binary()).parent), "BILLING_API_KEY": key},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, f"node client {args[0]} failed ({process.returncode}): {err.decode()}"
    return json.loads(out)


def events_json(customer: Customer, *events: tuple[str, str]) -> str:
    """Usage events as the Node client takes them: (idempotency key, quantity) on Jan 20."""
    return json.dumps(
        [
            {
                "organization_id": customer.organization_id,
                "meter_code": "api_calls",
                "quantity": quantity,
                "idempotency_key": key,
                "timestamp": at(1, 20).isoformat(),
            }
            for key, quantity in events
        ]
    )


def as_proto_json(value: Any) -> Any:
    """proto-loader's object form in protobuf's JSON form: timestamps RFC 3339, unset messages absent."""
    if isinstance(value, list):
        return [as_proto_json(item) for item in value]
    if not isinstance(value, dict):
        return value
    if value.keys() == {"seconds", "nanos"}:
        return timestamp_pb2.Timestamp(seconds=int(value["seconds"]), nanos=value["nanos"]).ToJsonString()
    return {name: as_proto_json(item) for name, item in value.items() if item is not None}


async def python_invoices(customer: Customer) -> list[dict[str, Any]]:
    """The organization's invoices as the Python stubs read them (ListInvoices, then GetInvoice)."""
    listed = await customer.stubs.invoices.ListInvoices(
        billing_pb2.ListInvoicesRequest(organization_id=customer.organization_id), metadata=customer.running.admin
    )
    invoices = []
    for invoice in listed.invoices:
        got = await customer.stubs.invoices.GetInvoice(
            billing_pb2.GetInvoiceRequest(invoice_id=invoice.invoice_id), metadata=customer.running.admin
        )
        invoices.append(
            json_format.MessageToDict(
                got.invoice, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
            )
        )
    return invoices


async def test_a_node_client_records_usage_once_and_reads_the_invoice_python_reads(running: Running) -> None:
    customer = await subscribe(running, "pm_ok")
    users = World(running, customer.stubs, Tenant(), Tenant())  # only its user factory is needed
    _, key = await users.user(
        customer.organization_id,
        ("usage_emitter", customer.organization_id),
        ("billing_viewer", customer.organization_id),
    )
    await customer.advance_to(at(1, 20))

    recorded = await run_node(running, key, "record", "--events", events_json(customer, ("a", "1200"), ("b", "300")))
    assert [r["outcome"] for r in recorded["results"]] == ["OUTCOME_ACCEPTED", "OUTCOME_ACCEPTED"]
    assert recorded["accepted"] == 2
    # The same keys again over a stream, plus one new event: the repeats are counted once.
    streamed = await run_node(
        running, key, "stream", "--events", events_json(customer, ("a", "1200"), ("b", "300"), ("c", "5"))
    )
    [ack] = streamed["acks"]
    assert ack["batch_id"] == "1"
    assert [r["outcome"] for r in ack["results"]] == ["OUTCOME_DUPLICATE", "OUTCOME_DUPLICATE", "OUTCOME_ACCEPTED"]

    await customer.advance_to(at(2, 15, 10, 30))  # the period closes Feb 15 09:00; the grace hour ends
    read_by_node = (await run_node(running, key, "invoices", "--organization", customer.organization_id))["invoices"]

    read_by_python = await python_invoices(customer)
    assert [as_proto_json(invoice) for invoice in read_by_node] == read_by_python
    opening, first_cycle = read_by_node
    assert (opening["status"], opening["total_minor"]) == ("paid", "2900")
    usage_line, fee_line = first_cycle["lines"]
    # 1,505 calls counted once: 1,000 at 0.5 + 505 at 0.1 = 550.5, rounded half-up once to 551.
    assert (usage_line["kind"], usage_line["quantity"], usage_line["amount_minor"]) == ("usage", "1505", "551")
    assert (fee_line["kind"], fee_line["amount_minor"]) == ("base_fee", "2900")
    assert (first_cycle["status"], first_cycle["total_minor"], first_cycle["amount_paid_minor"]) == (
        "paid",
        "3451",
        "3451",
    )
    # The amount due stays what was asked for once paid; nothing remains.
    assert (first_cycle["amount_due_minor"], first_cycle["amount_remaining_minor"]) == ("3451", "0")


async def run_node_failing(*args: str) -> tuple[int, str, str]:
    """Run the Node client without a server; its exit status, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        node_binary(),
        str(CLIENT),
        *args,
        env={"PATH": str(Path(node_binary()).parent), "BILLING_API_KEY": "bgk_unused"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_node_client_explains_itself_and_refuses_bad_arguments() -> None:
    # `--help` was refused as an unknown option ("undefined: Unknown option '--help'", exit 1).
    code, out, _ = await run_node_failing("--help")
    assert code == 0
    assert "Commands (every one takes --address HOST:PORT" in out and "usage_emitter" in out
    assert "//" not in out
    bogus = await run_node_failing("record", "--bogus")
    assert bogus[0] == 2 and bogus[2].startswith("Unknown option '--bogus'")
    # A time without an offset was read in the machine's time zone; it is refused now.
    local = json.dumps([{"organization_id": "org_x", "meter_code": "m", "timestamp": "2026-01-20T09:00:00"}])
    refused = await run_node_failing("record", "--events", local, "--address", "127.0.0.1:9")
    assert refused[0] == 2 and "not an RFC 3339 time with an offset" in refused[2]


async def test_the_node_client_sends_a_timestamp_to_the_microsecond_the_server_stores(running: Running) -> None:
    customer = await subscribe(running, "pm_ok")
    users = World(running, customer.stubs, Tenant(), Tenant())
    _, key = await users.user(customer.organization_id, ("usage_emitter", customer.organization_id))
    await customer.advance_to(at(1, 20, 9, 30))
    # 10:00 at +01:00 is 09:00 UTC; Date.parse kept only the milliseconds (…123000 µs).
    event = {
        "organization_id": customer.organization_id,
        "meter_code": "api_calls",
        "quantity": "1",
        "idempotency_key": "precise",
        "timestamp": "2026-01-20T10:00:00.123456789+01:00",
    }

    recorded = await run_node(running, key, "record", "--events", json.dumps([event]))

    assert recorded["accepted"] == 1
    [usage] = [e for e in await running.app.store.read_stored(0, 1000) if e.type == "usage.recorded"]
    [micros] = usage.payload["series"][0]["timestamps"]
    assert micros == int(at(1, 20).timestamp()) * 1_000_000 + 123_456
