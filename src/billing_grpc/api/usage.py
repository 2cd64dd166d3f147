"""UsageService: batches of usage events in, one result per event out; usage and previews read back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, NamedTuple

from grpc import aio

from billing.v1 import usage_pb2, usage_pb2_grpc
from billing_grpc.api import convert
from billing_grpc.api.auth import command_context
from billing_grpc.api.reads import document
from billing_grpc.application.usage import Outcome, UsageResult
from billing_grpc.application.usage_queries import ChangePreview, preview_lines, usage_summary
from billing_grpc.bootstrap import App
from billing_grpc.domain.access import Action
from billing_grpc.domain.billing_alignment import parse_cycle_anchor
from billing_grpc.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument, ResourceExhausted
from billing_grpc.domain.invoicing import stored_total
from billing_grpc.domain.money import CurrencyMismatch, format_decimal
from billing_grpc.domain.usage import UsageInput
from projections.catalogue import PLANS
from projections.subscriptions import SUBSCRIPTIONS

MAX_BATCH_EVENTS = 5000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Shared by every event without properties; nothing downstream mutates a usage's properties.
_NO_PROPERTIES: Mapping[str, str] = MappingProxyType({})
_OUTCOMES = {
    Outcome.ACCEPTED: usage_pb2.UsageResult.OUTCOME_ACCEPTED,
    Outcome.DUPLICATE: usage_pb2.UsageResult.OUTCOME_DUPLICATE,
    Outcome.REJECTED: usage_pb2.UsageResult.OUTCOME_REJECTED,
}


def _checked_size(events: Sequence[usage_pb2.UsageEvent]) -> None:
    if len(events) > MAX_BATCH_EVENTS:
        raise ResourceExhausted("batch_too_large", f"a batch holds at most {MAX_BATCH_EVENTS} events")
    if not events:
        raise InvalidArgument.of(FieldViolation("events", "a batch holds at least one event"))


def _usages(events: Sequence[usage_pb2.UsageEvent]) -> list[UsageInput]:
    """The domain's view of a batch; INVALID_ARGUMENT naming the event whose timestamp is no moment."""
    try:
        return [_usage(event) for event in events]
    except (OverflowError, ValueError):
        for index, event in enumerate(events):  # the rare path: find the culprit and name it
            convert.from_timestamp(event.timestamp, f"events[{index}].timestamp")
        raise


def _usage(event: usage_pb2.UsageEvent) -> UsageInput:
    """The domain's view of one event; runs for every event, so it stays lean."""
    stamp = event.timestamp
    # Timestamp.ToDatetime is general (and slow); usage timestamps are plain UTC instants, and
    # timedelta's positional form is the cheapest exact conversion measured.
    timestamp = None
    if event.HasField("timestamp"):
        if not 0 <= stamp.nanos <= 999_999_999:
            raise ValueError("nanos out of range")
        timestamp = _EPOCH + timedelta(0, stamp.seconds, stamp.nanos // 1000)  # OverflowError outside 1-9999
    properties = event.properties
    return UsageInput(
        event.organization_id,
        event.meter_code,
        event.quantity,
        timestamp,
        event.idempotency_key,
        dict(properties) if properties else _NO_PROPERTIES,
        event.external_id,
    )


class Tally(NamedTuple):
    """A batch's answers counted: accepted, duplicates, and the rejections per reason."""

    accepted: int
    duplicates: int
    refusals: dict[str, int]

    @property
    def rejected(self) -> int:
        """How many events were rejected, whatever the reason."""
        return sum(self.refusals.values())


def _fill(results: Sequence[UsageResult], out: object) -> Tally:
    """Append the results to a repeated field and count them (the one loop over the batch's answers)."""
    counts = {Outcome.ACCEPTED: 0, Outcome.DUPLICATE: 0}
    refusals: dict[str, int] = {}
    add = out.add  # type: ignore[attr-defined]
    for result in results:
        if result.outcome is Outcome.REJECTED:
            refusals[result.reason] = refusals.get(result.reason, 0) + 1
            add(outcome=_OUTCOMES[result.outcome], reason=result.reason, message=result.message)
        else:  # the common case: no strings to copy
            counts[result.outcome] += 1
            add(outcome=_OUTCOMES[result.outcome])
    return Tally(counts[Outcome.ACCEPTED], counts[Outcome.DUPLICATE], refusals)


class UsageServicer(usage_pb2_grpc.UsageServiceServicer):
    """Usage ingestion and usage reads."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._open_streams = 0

    async def RecordUsage(
        self, request: usage_pb2.RecordUsageRequest, context: aio.ServicerContext
    ) -> usage_pb2.RecordUsageResponse:
        """Record one batch."""
        _checked_size(request.events)
        results = await self._app.usage.ingest(command_context(), _usages(request.events))
        response = usage_pb2.RecordUsageResponse()
        tally = _fill(results, response.results)
        response.accepted, response.duplicates, response.rejected = tally.accepted, tally.duplicates, tally.rejected
        self._app.telemetry.usage_judged(tally.accepted, tally.duplicates, tally.refusals)
        return response

    async def StreamUsage(
        self, request_iterator: AsyncIterator[usage_pb2.StreamUsageRequest], context: aio.ServicerContext
    ) -> AsyncIterator[usage_pb2.StreamUsageResponse]:
        """Record batches one after another; each is acknowledged once durable.

        Bounded, so emitters cannot pin a server: at most `max_usage_streams` streams at once
        (each holds a batch in memory and a task), and a stream ends after `max_stream_seconds`
        (right after an ack, so nothing is in flight), which also spreads long-lived emitters
        over instances as they reconnect.
        """
        command = command_context()
        settings = self._app.settings
        if self._open_streams >= settings.max_usage_streams:
            raise ResourceExhausted(
                "too_many_streams", f"this server takes {settings.max_usage_streams} usage streams at once; retry later"
            )
        self._open_streams += 1
        try:
            ends = time.monotonic() + settings.max_stream_seconds
            async for batch in request_iterator:
                _checked_size(batch.events)
                results = await self._app.usage.ingest(command, _usages(batch.events))
                ack = usage_pb2.StreamUsageResponse(batch_id=batch.batch_id)
                tally = _fill(results, ack.results)
                ack.accepted, ack.duplicates, ack.rejected = tally.accepted, tally.duplicates, tally.rejected
                self._app.telemetry.usage_judged(tally.accepted, tally.duplicates, tally.refusals)
                yield ack
                if time.monotonic() >= ends:
                    raise ResourceExhausted(
                        "stream_duration_exceeded", "the stream is over its time limit; open a new one and go on"
                    )
        finally:
            self._open_streams -= 1

    async def _subscription(self, subscription_id: str) -> dict[str, object]:
        doc = await document(self._app, SUBSCRIPTIONS, subscription_id, "subscription")
        command_context().require(Action.BILLING_READ, str(doc["organization_id"]), "subscription")
        return doc

    async def GetUsageSummary(
        self, request: usage_pb2.GetUsageSummaryRequest, context: aio.ServicerContext
    ) -> usage_pb2.GetUsageSummaryResponse:
        """A period's aggregated usage per charged meter."""
        subscription = await self._subscription(request.subscription_id)
        at = convert.from_timestamp(request.at, "at") if request.HasField("at") else None
        summary = await usage_summary(self._app.read_models, self._app.usage.catalog, subscription, at)
        return usage_pb2.GetUsageSummaryResponse(
            period_start=convert.timestamp(summary.period.start),
            period_end=convert.timestamp(summary.period.end),
            meters=[
                usage_pb2.MeterUsage(
                    meter_code=code,
                    aggregation=usage.aggregation.value,
                    quantity=format_decimal(usage.quantity),
                    event_count=usage.event_count,
                )
                for code, usage in summary.meters.items()
            ],
        )

    async def PreviewInvoice(
        self, request: usage_pb2.PreviewInvoiceRequest, context: aio.ServicerContext
    ) -> usage_pb2.PreviewInvoiceResponse:
        """The invoice the open period would produce now."""
        subscription = await self._subscription(request.subscription_id)
        change = await self._change_preview(request, subscription)
        currency, lines, prorations = await preview_lines(
            self._app.read_models, self._app.usage.catalog, subscription, change
        )
        return usage_pb2.PreviewInvoiceResponse(
            currency=currency,
            lines=[convert.invoice_line(line) for line in lines],
            total_minor=stored_total(lines),
            proration_lines=[convert.invoice_line(line) for line in prorations],
        )

    async def _change_preview(
        self, request: usage_pb2.PreviewInvoiceRequest, subscription: dict[str, Any]
    ) -> ChangePreview | None:
        """The change a preview asks about, validated like ChangePlan would validate it."""
        now = self._app.clock.now()
        at = (
            convert.from_timestamp(request.proration_time, "proration_time")
            if request.HasField("proration_time")
            else now
        )
        alignment = parse_cycle_anchor(request.billing_cycle_anchor)
        if not request.change_plan_id:
            if request.HasField("proration_time"):
                raise InvalidArgument.of(FieldViolation("change_plan_id", "is required with proration_time"))
            if alignment is not None:
                raise InvalidArgument.of(FieldViolation("change_plan_id", "is required with billing_cycle_anchor"))
            return None
        if not subscription["current_period_start"] <= at < subscription["current_period_end"]:
            raise InvalidArgument.of(FieldViolation("proration_time", "must fall within the current period"))
        target = await document(self._app, PLANS, request.change_plan_id, "plan")
        current = await document(self._app, PLANS, subscription["plan_id"], "plan")
        # The refusals ChangePlan would give, so a preview never shows a change that cannot happen.
        if target["_id"] == current["_id"]:
            raise FailedPrecondition("plan_unchanged", f"the subscription is on plan {target['_id']}")
        if target.get("archived_at") is not None:
            raise FailedPrecondition("plan_archived", f"plan {target['_id']} is archived")
        if target["currency"] != current["currency"]:
            raise CurrencyMismatch.between(target["currency"], current["currency"])
        return ChangePreview(request.change_plan_id, at, alignment)
