"""AuditService: verify the read models against the log, and explain an invoice from its facts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from grpc import aio

from billing.v1 import audit_pb2, audit_pb2_grpc
from billing_grpc.api import convert
from billing_grpc.api.auth import command_context
from billing_grpc.api.reads import document
from billing_grpc.audit.verification import VerificationReport, verify
from billing_grpc.bootstrap import App
from billing_grpc.domain import plan as plans
from billing_grpc.domain.access import Action
from billing_grpc.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument
from billing_grpc.domain.invoice import BillingCalculated, InvoiceIssued
from billing_grpc.domain.invoice import stream_of as invoice_stream_of
from billing_grpc.domain.plan import PlanCreated
from billing_grpc.eventstore import RecordedEvent
from projections.invoices import INVOICES

MAX_ID_LENGTH = 200


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    """Replay verification and invoice explanations."""

    def __init__(self, app: App) -> None:
        self._app = app

    async def VerifyProjections(
        self, request: audit_pb2.VerifyProjectionsRequest, context: aio.ServicerContext
    ) -> audit_pb2.VerifyProjectionsResponse:
        """Rebuild every projection into scratch read models, compare, and check the chain."""
        command_context().require(Action.LOG_VERIFY, None, "log")
        app = self._app
        async with app.scratch_read_models() as scratch:
            report = await verify(app.store, app.read_models, scratch, app.projections.projections)
        return verification(report)

    async def ExplainInvoice(
        self, request: audit_pb2.ExplainInvoiceRequest, context: aio.ServicerContext
    ) -> audit_pb2.ExplainInvoiceResponse:
        """A finalized invoice's calculation record and the facts it was computed from."""
        if not 0 < len(request.invoice_id) <= MAX_ID_LENGTH:
            raise InvalidArgument.of(FieldViolation("invoice_id", f"required, at most {MAX_ID_LENGTH} characters"))
        invoice = await document(self._app, INVOICES, request.invoice_id, "invoice")
        command_context().require(Action.INVOICES_EXPLAIN, invoice["organization_id"], "invoice")
        # The facts come from the log itself (key-indexed stream reads), not from a read model.
        history = await self._app.store.read_stream(invoice_stream_of(request.invoice_id))
        calculated = _first(history, BillingCalculated.TYPE)
        issued = _first(history, InvoiceIssued.TYPE)
        if calculated is None or issued is None:
            raise FailedPrecondition(
                "invoice_not_calculated", "the invoice is not finalized yet: nothing was calculated"
            )
        record = calculated.payload
        # Each segment of the period was rated by its own plan; without segments, the invoice's plan.
        rated_by = {datetime.fromisoformat(s["period_start"]): s["plan_id"] for s in issued.payload.get("segments", [])}
        plan_ids = [record["plan_id"], *rated_by.values()]
        explained = [await self._plan(plan_id) for plan_id in dict.fromkeys(plan_ids)]
        return audit_pb2.ExplainInvoiceResponse(
            invoice=convert.invoice(invoice),
            calculation_position=calculated.position,
            calculation_json=json.dumps(record, separators=(",", ":"), sort_keys=True),
            plans=explained,
            usage=[_usage(entry, rated_by, record["plan_id"]) for entry in record["usage"]],
            proration_lines=[convert.invoice_line(line) for line in _prorations(record["lines"])],
            credit_applied_minor=invoice.get("credit_applied_minor", 0),
        )

    async def _plan(self, plan_id: str) -> audit_pb2.ExplainedPlan:
        created = _first(await self._app.store.read_stream(plans.stream_of(plan_id)), PlanCreated.TYPE)
        if created is None:  # a calculation names a plan that the log does not hold: a broken log
            raise FailedPrecondition("plan_missing", f"plan {plan_id} has no plan.created event")
        return audit_pb2.ExplainedPlan(
            plan_id=plan_id,
            code=created.payload["code"],
            position=created.position,
            plan_created_json=json.dumps(created.payload, separators=(",", ":"), sort_keys=True),
        )


def _first(events: Sequence[RecordedEvent], event_type: str) -> RecordedEvent | None:
    return next((event for event in events if event.type == event_type), None)


def _prorations(lines: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("kind") == "proration"]


def _usage(entry: dict[str, Any], rated_by: dict[datetime, str], plan_id: str) -> audit_pb2.ExplainedUsage:
    start = datetime.fromisoformat(entry["period_start"])
    return audit_pb2.ExplainedUsage(
        plan_id=rated_by.get(start, plan_id),
        meter_code=entry["meter_code"],
        aggregation=entry["aggregation"],
        quantity=entry["quantity"],
        event_count=entry["event_count"],
        first_position=entry.get("first_position") or 0,
        last_position=entry.get("last_position") or 0,
        period_start=convert.timestamp(start),
    )


def verification(report: VerificationReport) -> audit_pb2.VerifyProjectionsResponse:
    """The wire form of a verification report."""
    chain = report.chain
    return audit_pb2.VerifyProjectionsResponse(
        ok=report.ok,
        chain=audit_pb2.ChainCheck(
            intact=chain.intact,
            head=chain.head,
            checked=chain.checked,
            unhashed_prefix=chain.unhashed_prefix,
            broken_at=chain.broken_at or 0,
            reason=chain.reason,
        ),
        projections=[
            audit_pb2.ProjectionCheck(
                projection=check.projection,
                position=check.position,
                documents=check.documents,
                difference_count=check.difference_count,
                differences=[
                    audit_pb2.DocumentDifference(
                        collection=d.collection,
                        key=d.key,
                        kind=d.kind,
                        live_checksum=d.live_checksum,
                        rebuilt_checksum=d.rebuilt_checksum,
                    )
                    for d in check.differences
                ],
                error=check.error,
            )
            for check in report.projections
        ],
        events_replayed=report.events_replayed,
        seconds=report.seconds,
    )
