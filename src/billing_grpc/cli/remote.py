"""What the client commands share: a channel to a running server, one-line errors, timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc import aio

from billing_grpc.client import BillingClient
from billing_grpc.client.errors import STATUS_DETAILS_KEY

# Exit statuses a CommandError may carry (the values of `exits.Exit`, kept here to avoid a cycle).
USAGE = 64
DATA = 65
NO_INPUT = 66
SOFTWARE = 70
CANT_CREATE = 73
TEMPORARY = 75
CONFIG = 78


class CommandError(Exception):
    """A failure the command explains in one line, with the exit status it means (default: 70, a fault)."""

    def __init__(self, message: str, exit: int = SOFTWARE) -> None:
        super().__init__(message)
        self.exit = exit


def open_client(target: str, api_key: str | None) -> BillingClient:
    """The client library's connection to `target` (host:port), authenticated with the key; the one
    place client commands connect. A clear error when there is no key."""
    if not api_key:
        raise CommandError("no API key: pass --api-key or set BILLING_API_KEY", USAGE)
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
    text = f"{head}: {(error.details() or 'no details').splitlines()[0]}"
    return "; ".join([text, *violations])


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    """A protobuf Timestamp for an aware datetime."""
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(moment)
    return message


def moment_of(message: timestamp_pb2.Timestamp) -> datetime:
    """The aware UTC datetime of a Timestamp."""
    return message.ToDatetime(tzinfo=UTC)
