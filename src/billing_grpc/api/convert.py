"""Conversions between protobuf messages and domain values that several servicers share."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from google.protobuf import timestamp_pb2

from billing.v1 import (
    billing_pb2,
    catalogue_pb2,
    event_log_pb2,
    identity_pb2,
    organizations_pb2,
    subscriptions_pb2,
    usage_pb2,
)
from billing_grpc.api.charges import charge_to_pb
from billing_grpc.domain.errors import FieldViolation, InvalidArgument
from billing_grpc.eventstore import RecordedEvent


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    """A protobuf Timestamp for an aware datetime."""
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(moment)
    return message


def recorded_event(event: RecordedEvent) -> event_log_pb2.RecordedEvent:
    """The wire form of a recorded event."""
    return event_log_pb2.RecordedEvent(
        event_id=str(event.event_id),
        stream_id=event.stream_id,
        stream_version=event.stream_version,
        position=event.position,
        type=event.type,
        schema_version=event.schema_version,
        payload_json=json.dumps(event.payload, separators=(",", ":"), sort_keys=True),
        metadata=event_log_pb2.EventMetadata(
            correlation_id=event.metadata.correlation_id,
            causation_id=event.metadata.causation_id,
            actor=event.metadata.actor,
        ),
        occurred_at=timestamp(event.occurred_at),
        recorded_at=timestamp(event.recorded_at),
        organization_id=event.organization_id,
        hash=event.hash,
    )


def optional_timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    """A Timestamp, or None to leave the field unset."""
    return timestamp(moment) if moment is not None else None


def from_timestamp(message: timestamp_pb2.Timestamp, field: str = "timestamp") -> datetime:
    """An aware UTC datetime from a Timestamp; INVALID_ARGUMENT on `field` if it names no such moment."""
    try:
        return message.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):  # before 0001-01-01, after 9999-12-31, or nanos outside 0-999,999,999
        violation = FieldViolation(field, "must be a moment from 0001-01-01 to 9999-12-31 UTC, nanos 0 to 999,999,999")
        raise InvalidArgument.of(violation) from None


def organization(doc: Mapping[str, Any]) -> organizations_pb2.Organization:
    """The wire form of an organization read model document."""
    return organizations_pb2.Organization(
        organization_id=doc["_id"],
        name=doc["name"],
        created_at=timestamp(doc["created_at"]),
        billing_email=doc.get("billing_email", ""),
        currency=doc.get("currency", ""),
        external_id=doc.get("external_id", ""),
        payment_method=doc.get("payment_method", ""),
        updated_at=optional_timestamp(doc.get("updated_at")),
    )


def meter(doc: Mapping[str, Any]) -> catalogue_pb2.Meter:
    """The wire form of a meter read model document."""
    return catalogue_pb2.Meter(
        code=doc["_id"],
        name=doc["name"],
        aggregation=doc["aggregation"],
        property=doc["property"],
        created_at=timestamp(doc["created_at"]),
    )


def plan(doc: Mapping[str, Any]) -> catalogue_pb2.Plan:
    """The wire form of a plan read model document."""
    return catalogue_pb2.Plan(
        plan_id=doc["_id"],
        code=doc["code"],
        name=doc["name"],
        currency=doc["currency"],
        interval_unit=doc["interval_unit"],
        interval_count=doc["interval_count"],
        base_fee_minor=doc["base_fee_minor"],
        trial_days=doc["trial_days"],
        charges=[charge_to_pb(c) for c in doc["charges"]],
        created_at=timestamp(doc["created_at"]),
        archived_at=optional_timestamp(doc.get("archived_at")),
        features=[plan_feature(value) for value in doc.get("features") or ()],
        # Plans created before these terms existed bill in advance and prorate to the second.
        base_fee_timing=doc.get("base_fee_timing") or "advance",
        proration_unit=doc.get("proration_unit") or "second",
    )


def feature(doc: Mapping[str, Any]) -> catalogue_pb2.Feature:
    """The wire form of a feature read model document."""
    return catalogue_pb2.Feature(
        code=doc["_id"],
        name=doc["name"],
        kind=doc["kind"],
        meter_code=doc["meter_code"],
        created_at=timestamp(doc["created_at"]),
    )


def plan_feature(stored: Mapping[str, Any]) -> catalogue_pb2.PlanFeature:
    """The wire form of a plan's feature value (stored form, `FeatureValue.to_dict`)."""
    out = catalogue_pb2.PlanFeature(
        feature_code=stored["code"],
        kind=stored["kind"],
        enabled=stored["kind"] == "boolean" and bool(stored["enabled"]),
        unlimited=stored["kind"] == "limit" and stored["limit"] is None,
        cap=stored["cap"] or "",
        meter_code=stored["meter_code"],
    )
    if stored["limit"] is not None:
        out.limit = stored["limit"]
    return out


def subscription(doc: Mapping[str, Any]) -> subscriptions_pb2.Subscription:
    """The wire form of a subscription read model document."""
    return subscriptions_pb2.Subscription(
        subscription_id=doc["_id"],
        organization_id=doc["organization_id"],
        plan_id=doc["plan_id"],
        status=doc["status"],
        started_at=timestamp(doc["started_at"]),
        cycle_anchor=timestamp(doc["cycle_anchor"]),
        current_period_start=timestamp(doc["current_period_start"]),
        current_period_end=timestamp(doc["current_period_end"]),
        trial_end=optional_timestamp(doc.get("trial_end")),
        cancel_at=optional_timestamp(doc.get("cancel_at")),
        canceled_at=optional_timestamp(doc.get("canceled_at")),
        scheduled_plan_id=doc.get("scheduled_plan_id") or "",
        pending_prorations=[pending_proration(line) for line in doc.get("pending_prorations") or []],
        stub_proration_behavior=doc.get("stub_proration") or "create_prorations",
        scheduled_billing_anchor=optional_timestamp(doc.get("pending_anchor")),
        paused_at=optional_timestamp(doc.get("paused_at")),
    )


def pending_proration(line: Mapping[str, Any]) -> subscriptions_pb2.PendingProration:
    """The wire form of a stored proration line waiting for the next invoice."""
    return subscriptions_pb2.PendingProration(
        description=line["description"],
        amount_minor=line["amount_minor"],
        period_start=timestamp(_moment(line["period_start"])),
        period_end=timestamp(_moment(line["period_end"])),
    )


def user(doc: Mapping[str, Any]) -> identity_pb2.User:
    """The wire form of a user read model document."""
    return identity_pb2.User(
        user_id=doc["_id"],
        email=doc["email"],
        name=doc["name"],
        organization_id=doc["organization_id"] or "",
        status=doc["status"],
        roles=[
            identity_pb2.RoleBinding(role=r["role"], organization_id=r["organization_id"] or "") for r in doc["roles"]
        ],
        created_at=timestamp(doc["created_at"]),
    )


def api_key(doc: Mapping[str, Any], last_used_at: datetime | None) -> identity_pb2.ApiKey:
    """The wire form of an API key read model document (never its hash)."""
    return identity_pb2.ApiKey(
        key_id=doc["_id"],
        user_id=doc["user_id"],
        name=doc["name"],
        issued_at=timestamp(doc["issued_at"]),
        expires_at=optional_timestamp(doc.get("expires_at")),
        revoked_at=optional_timestamp(doc.get("revoked_at")),
        last_used_at=optional_timestamp(last_used_at),
    )


def invoice_line(line: Mapping[str, Any]) -> usage_pb2.InvoiceLine:
    """The wire form of a stored invoice line (see `invoicing.line_to_dict`)."""
    return usage_pb2.InvoiceLine(
        kind=line["kind"],
        description=line["description"],
        meter_code=line["meter_code"],
        quantity=line["quantity"],
        unit_amount=line["unit_amount"],
        amount_minor=line["amount_minor"],
        period_start=timestamp(_moment(line["period_start"])),
        period_end=timestamp(_moment(line["period_end"])),
    )


def invoice(doc: Mapping[str, Any]) -> billing_pb2.Invoice:
    """The wire form of an invoices read-model document."""
    return billing_pb2.Invoice(
        invoice_id=doc["_id"],
        organization_id=doc["organization_id"],
        subscription_id=doc["subscription_id"],
        plan_id=doc["plan_id"],
        number=doc.get("number", ""),
        status=doc["status"],
        reason=doc["reason"],
        currency=doc["currency"],
        lines=[invoice_line(line) for line in doc["lines"]],
        total_minor=doc["total_minor"],
        amount_due_minor=doc.get("amount_due_minor", 0),
        amount_paid_minor=doc.get("amount_paid_minor", 0),
        amount_remaining_minor=doc.get("amount_remaining_minor", 0),
        credit_applied_minor=doc.get("credit_applied_minor", 0),
        usage_period_start=optional_timestamp(doc.get("usage_period_start")),
        usage_period_end=optional_timestamp(doc.get("usage_period_end")),
        issued_at=timestamp(doc["issued_at"]),
        finalize_at=timestamp(doc["finalize_at"]),
        finalized_at=optional_timestamp(doc.get("finalized_at")),
        paid_at=optional_timestamp(doc.get("paid_at")),
        next_attempt_at=optional_timestamp(doc.get("next_attempt_at")),
        attempts=doc.get("attempts", 0),
        failures=doc.get("failures", 0),
        last_failure_code=doc.get("last_failure_code") or "",
    )


def payment(doc: Mapping[str, Any]) -> billing_pb2.Payment:
    """The wire form of a payments read-model document."""
    return billing_pb2.Payment(
        payment_id=doc["_id"],
        invoice_id=doc["invoice_id"],
        organization_id=doc["organization_id"],
        attempt=doc["attempt"],
        idempotency_key=doc["idempotency_key"],
        amount_minor=doc["amount_minor"],
        currency=doc["currency"],
        payment_method=doc["payment_method"],
        status=doc["status"],
        charge_id=doc.get("charge_id") or "",
        failure_code=doc.get("failure_code") or "",
        message=doc.get("message") or "",
        started_at=timestamp(doc["started_at"]),
        resolved_at=optional_timestamp(doc.get("resolved_at")),
    )


def balance(doc: Mapping[str, Any]) -> billing_pb2.Balance:
    """The wire form of a balances read-model document."""
    return billing_pb2.Balance(
        currency=doc["currency"],
        invoiced_minor=doc["invoiced_minor"],
        paid_minor=doc["paid_minor"],
        outstanding_minor=doc["outstanding_minor"],
        uncollectible_minor=doc["uncollectible_minor"],
        voided_minor=doc["voided_minor"],
        credit_minor=doc.get("credit_minor", 0),
        credit_applied_minor=doc.get("credit_applied_minor", 0),
    )


def _moment(value: datetime | str) -> datetime:
    """Stored lines keep datetimes; lines that travelled through an event payload hold ISO strings."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
