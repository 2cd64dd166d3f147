"""What the client commands (`demo`, `keys`) share: a channel to a running server and one-line errors."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TextIO

from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc import aio

from billing_grpc.api.errors import STATUS_DETAILS_KEY
from billing_grpc.client import BillingClient


class CommandError(Exception):
    """A failure the command explains in one line (exit status 1)."""


def open_client(target: str, api_key: str | None) -> BillingClient:
    """The client library's connection to `target` (host:port), authenticated with the key; the one
    place client commands connect. A clear error when there is no key."""
    if not api_key:
        raise CommandError("no API key: pass --api-key or set BILLING_API_KEY")
    return BillingClient.connect(target, api_key)


def describe_error(error: aio.AioRpcError) -> str:
    """One line: the status code, the server's reason, its message and every field violation."""
    reason = ""
    violations: list[str] = []
    raw = dict(error.trailing_metadata() or ()).get(STATUS_DETAILS_KEY)
    if isinstance(raw, bytes):
        status = status_pb2.Status.FromString(raw)
        info = error_details_pb2.ErrorInfo()
        bad = error_details_pb2.BadRequest()
        for detail in status.details:
            if detail.Unpack(info):
                reason = info.reason
            elif detail.Unpack(bad):
                violations = [f"{v.field}: {v.description}" for v in bad.field_violations]
    code = error.code().name if error.code() is not None else "UNKNOWN"
    head = f"{code} ({reason})" if reason else code
    text = f"{head}: {error.details() or 'no details'}"
    return "; ".join([text, *violations])


async def exit_status(work: Awaitable[object], err: TextIO, prefix: str) -> int:
    """0 when `work` succeeds; 1 after one line on `err` when it fails with a refusal or a CommandError."""
    try:
        await work
    except CommandError as error:
        print(f"{prefix}: {error}", file=err)
        return 1
    except aio.AioRpcError as error:
        print(f"{prefix}: {describe_error(error)}", file=err)
        return 1
    return 0


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    """A protobuf Timestamp for an aware datetime."""
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(moment)
    return message


def moment_of(message: timestamp_pb2.Timestamp) -> datetime:
    """The aware UTC datetime of a Timestamp."""
    return message.ToDatetime(tzinfo=UTC)
