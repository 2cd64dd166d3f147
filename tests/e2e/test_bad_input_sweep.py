"""Every RPC, every top-level field, malformed values: never INTERNAL or UNKNOWN, and a refusal writes nothing.

The sweep is generated from the service descriptors, so a new RPC or field is swept without
being listed: empty, blank, over-long and control-character strings, NaN, infinities and
overflowing decimals in strings, negative and overflowing integers, unknown enum numbers,
timestamps outside 0001-9999 and with negative nanos, empty and duplicated repeated ids, and
empty sub-messages; and the same inside one element of every repeated message field (a usage
event with an out-of-range timestamp, a plan charge with a NaN price). Each request sets one field
and leaves the rest empty, as a careless or hostile client would. Per case: the answer is a
deliberate status (OK or a documented error, never INTERNAL or UNKNOWN); an error carries a stable
reason, and INVALID_ARGUMENT names the offending fields of the request; and when it is an error
the log's last position has not moved.

Because the other fields stay empty, many answers are about a missing required field rather than
the malformed one. The per-RPC table with valid requests and one malformed field, each with its
expected status, reason and field, is `test_bad_input_table.py`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from grpc import aio

from billing_grpc.api.policy import POLICY
from billing_grpc.api.server import SERVICE_NAMES
from tests.e2e.conftest import Running
from tests.rpc_errors import ErrorDetails, details_of

pytestmark = pytest.mark.slow

LONG = "x" * 5_000
BAD_STRINGS = ("", " ", LONG, "NaN", "-Infinity", "1e999", "-1", "\x00\x01", "../../etc/passwd")
BAD_INTEGERS = (-1, 2**31 - 1, -(2**31))
BAD_WIDE_INTEGERS = (2**63 - 1, -(2**63))
# (seconds, nanos): before 0001-01-01, after 9999-12-31, and a negative fraction.
BAD_TIMES = ((-62_135_596_801, 0), (253_402_300_800, 0), (0, -1))
# Statuses a refusal may carry; anything else for malformed input is a bug.
DELIBERATE = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,  # ReadEvents following the log ends at our deadline
}
# Ours to set, so without the server's details.
CLIENT_SIDE = {grpc.StatusCode.OK, grpc.StatusCode.DEADLINE_EXCEEDED}


def _methods() -> Iterator[MethodDescriptor]:
    pool = descriptor_pool.Default()  # holds every service the server module imported
    for name in sorted(SERVICE_NAMES):
        if name.startswith("billing."):
            yield from pool.FindServiceByName(name).methods


def _bad_values(field: FieldDescriptor, nested: bool = True) -> Iterator[tuple[str, Any]]:
    """(label, value) pairs to set the field to; `Element` values put one bad field in one element."""
    repeated = field.is_repeated
    if nested and repeated and field.type == FieldDescriptor.TYPE_MESSAGE:
        if not field.message_type.GetOptions().map_entry:
            for inner in field.message_type.fields:
                for label, value in _bad_values(inner, nested=False):
                    yield f"[0].{inner.name}={label}", Element(inner.name, value)
        return
    if field.type == FieldDescriptor.TYPE_STRING:
        if repeated:
            yield from (("empty item", [""]), ("long item", [LONG]), ("duplicated", ["dup", "dup"]))
        else:
            yield from ((repr(v[:12]), v) for v in BAD_STRINGS)
    elif field.type in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32):
        yield from ((str(v), [v] if repeated else v) for v in BAD_INTEGERS)
    elif field.type in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64):
        yield from ((str(v), [v] if repeated else v) for v in (*BAD_INTEGERS, *BAD_WIDE_INTEGERS))
    elif field.type == FieldDescriptor.TYPE_ENUM and not repeated:
        yield ("unknown enum", 999)
    elif field.type == FieldDescriptor.TYPE_MESSAGE and not repeated and not field.message_type.GetOptions().map_entry:
        if field.message_type.full_name == "google.protobuf.Timestamp":
            yield from ((f"time {s},{n}", {"seconds": s, "nanos": n}) for s, n in BAD_TIMES)
        else:
            yield ("empty message", {})


def _cases() -> Iterator[tuple[MethodDescriptor, str, str, Any]]:
    for method in _methods():
        path = f"/{method.containing_service.full_name}/{method.name}"
        assert path in POLICY, path  # every swept RPC is one the server serves
        for field in method.input_type.fields:
            for label, value in _bad_values(field):
                yield method, field.name, label, value


@dataclass(frozen=True)
class Element:
    """One element of a repeated message field, with one field set to a bad value."""

    field_name: str
    value: Any


def _request(input_type: Descriptor, field_name: str, value: Any) -> Message:
    request = GetMessageClass(input_type)()
    _set(request, field_name, value)
    return request


def _set(message: Message, field_name: str, value: Any) -> None:
    target = getattr(message, field_name)
    if isinstance(value, Element):
        _set(target.add(), value.field_name, value.value)
    elif isinstance(value, dict):
        target.SetInParent()
        for key, item in value.items():
            setattr(target, key, item)
    elif isinstance(value, list):
        target.extend(value)
    else:
        setattr(message, field_name, value)


async def _call(
    running: Running, method: MethodDescriptor, request: Message
) -> tuple[grpc.StatusCode, ErrorDetails | None]:
    path = f"/{method.containing_service.full_name}/{method.name}"
    output = GetMessageClass(method.output_type)
    serialize, deserialize = type(request).SerializeToString, output.FromString
    channel = running.channel
    try:
        if method.client_streaming:
            call = channel.stream_stream(path, serialize, deserialize)(
                iter([request]), metadata=running.admin, timeout=5
            )
            [_ async for _ in call]
        elif method.server_streaming:
            call = channel.unary_stream(path, serialize, deserialize)(request, metadata=running.admin, timeout=2)
            [_ async for _ in call]
        else:
            await channel.unary_unary(path, serialize, deserialize)(request, metadata=running.admin, timeout=5)
    except aio.AioRpcError as error:
        return error.code(), None if error.code() in CLIENT_SIDE else details_of(error)
    return grpc.StatusCode.OK, None


def _unclear(input_type: Descriptor, code: grpc.StatusCode, details: ErrorDetails | None) -> str:
    """Why an error's details fall short, or "" when they are clear."""
    if details is None:
        return ""
    if details.domain != "billing.v1" or not details.reason:
        return f"no stable reason ({details.domain!r}, {details.reason!r})"
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        if not details.fields:
            return "INVALID_ARGUMENT without field violations"
        names = {field.name for field in input_type.fields}
        strangers = [path for path in details.fields if re.split(r"[.\[]", path)[0] not in names]
        if strangers:
            return f"violations name no field of the request: {strangers}"
    return ""


async def test_malformed_input_gets_a_deliberate_answer_and_a_refusal_writes_nothing(running: Running) -> None:
    # One server for every case (hundreds): a server per case would cost minutes.
    cases = list(_cases())
    assert len(cases) > 300
    wrong: list[str] = []
    for method, field_name, label, value in cases:
        head = await running.app.store.head_position()
        code, details = await _call(running, method, _request(method.input_type, field_name, value))
        case = f"{method.name}.{field_name}{'' if label.startswith('[') else '='}{label}"
        if code not in DELIBERATE:
            wrong.append(f"{case}: {code.name}")
        elif unclear := _unclear(method.input_type, code, details):
            wrong.append(f"{case}: {code.name}, {unclear}")
        elif code is not grpc.StatusCode.OK and await running.app.store.head_position() != head:
            wrong.append(f"{case}: refused with {code.name} but wrote to the log")
    assert wrong == []
