"""EventLogService: the auditor's stream of the log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from grpc import aio

from billing.v1 import event_log_pb2, event_log_pb2_grpc
from billing_grpc.api.auth import command_context
from billing_grpc.api.convert import from_timestamp, recorded_event
from billing_grpc.audit.export import TimeRange
from billing_grpc.domain.access import Action
from billing_grpc.domain.validation import Violations
from billing_grpc.eventstore import EventFilter, EventStore, RecordedEvent, read_pages, subscribe

MAX_TYPE_FILTERS = 64
MAX_NAME_LENGTH = 200


class EventLogServicer(event_log_pb2_grpc.EventLogServiceServicer):
    """Streams recorded events, optionally filtered and optionally following the live log."""

    def __init__(self, store: EventStore, poll_interval: float = 0.5) -> None:
        self._store = store
        self._poll_interval = poll_interval

    async def ReadEvents(
        self, request: event_log_pb2.ReadEventsRequest, context: aio.ServicerContext
    ) -> AsyncIterator[event_log_pb2.ReadEventsResponse]:
        """Stream events after a position; see the proto for the contract."""
        event_filter = _scoped(_validated_filter(request), request.organization_id)
        window = _window(request)
        remaining = request.limit or None
        async for event in self._events(request, event_filter):
            # No index serves business time: filtered while walking positions (see export).
            if not window.contains(event.occurred_at):
                continue
            yield event_log_pb2.ReadEventsResponse(event=recorded_event(event))
            if remaining is not None:
                remaining -= 1
                if remaining == 0:
                    return

    def _events(
        self, request: event_log_pb2.ReadEventsRequest, event_filter: EventFilter
    ) -> AsyncIterator[RecordedEvent]:
        if request.follow:
            return subscribe(self._store, request.after_position, event_filter, poll_interval=self._poll_interval)
        return _flatten(read_pages(self._store, request.after_position, event_filter))


async def _flatten(pages: AsyncIterator[Sequence[RecordedEvent]]) -> AsyncIterator[RecordedEvent]:
    async for page in pages:
        for event in page:
            yield event


def _scoped(event_filter: EventFilter, requested_organization: str) -> EventFilter:
    """Narrow the filter to the organizations the caller may audit."""
    context = command_context()
    if requested_organization:
        context.require(Action.EVENTS_READ, requested_organization, "organization")
        return replace(event_filter, organization_ids=frozenset({requested_organization}))
    # None means a platform-scoped auditor: every tenant's events and the platform's own.
    return replace(event_filter, organization_ids=context.principal.organizations_for(Action.EVENTS_READ))


def _window(request: event_log_pb2.ReadEventsRequest) -> TimeRange:
    return TimeRange(
        from_timestamp(request.occurred_from, "occurred_from") if request.HasField("occurred_from") else None,
        from_timestamp(request.occurred_to, "occurred_to") if request.HasField("occurred_to") else None,
    )


def _validated_filter(request: event_log_pb2.ReadEventsRequest) -> EventFilter:
    violations = Violations()
    violations.check(request.after_position >= 0, "after_position", "must not be negative")
    violations.check(request.limit >= 0, "limit", "must not be negative")
    violations.check(len(request.stream_id) <= MAX_NAME_LENGTH, "stream_id", f"at most {MAX_NAME_LENGTH} characters")
    violations.check(
        len(request.organization_id) <= MAX_NAME_LENGTH, "organization_id", f"at most {MAX_NAME_LENGTH} characters"
    )
    violations.check(len(request.event_types) <= MAX_TYPE_FILTERS, "event_types", f"at most {MAX_TYPE_FILTERS} types")
    for index, name in enumerate(request.event_types):
        violations.check(0 < len(name) <= MAX_NAME_LENGTH, f"event_types[{index}]", "must be a type name")
    window = _window(request)
    violations.check(
        window.start is None or window.end is None or window.start < window.end,
        "occurred_to",
        "must be after occurred_from",
    )
    violations.raise_if_any()
    return EventFilter(stream_id=request.stream_id or None, types=frozenset(request.event_types))
