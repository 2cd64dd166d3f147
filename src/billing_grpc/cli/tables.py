"""Cells for the human tables: times, money, periods, and a whole message as `field value` pairs."""

from __future__ import annotations

import json

from google.protobuf import json_format
from google.protobuf.message import Message

from billing_grpc.cli.remote import moment_of
from billing_grpc.demo.tables import money as demo_money
from billing_grpc.domain.errors import InvalidArgument


def when(message: Message, field: str) -> str:
    """The Timestamp `field` of `message` to the second in UTC, or "" when unset."""
    if not message.HasField(field):
        return ""
    return moment_of(getattr(message, field)).strftime("%Y-%m-%d %H:%M:%S")


def money(amount_minor: int, currency: str) -> str:
    """`USD 1,234.56` (the demo's rendering); the bare minor units for an unknown currency."""
    try:
        return demo_money(amount_minor, currency)
    except InvalidArgument:
        return f"{currency} {amount_minor} (minor units)"


def period(message: Message, start: str, end: str) -> str:
    """`start → end`, or "" when neither is set."""
    first, last = when(message, start), when(message, end)
    return f"{first} → {last}" if first or last else ""


def pairs(message: Message) -> list[tuple[str, str]]:
    """Every set field of `message` (proto names), nested values as compact JSON."""
    shown = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return [(name, value if isinstance(value, str) else json.dumps(value)) for name, value in shown.items()]
