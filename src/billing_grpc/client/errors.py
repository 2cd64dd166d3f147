"""Reading a failed call's status: its stable reason, and whether a usage stream may resume."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc import aio

STATUS_DETAILS_KEY = "grpc-status-details-bin"

# The stream broke or the server asked the emitter to come back: every unacknowledged batch is
# resent on a new stream. CANCELLED reaches the emitter only from the server or the transport
# (a server stopping cancels its calls); the emitter never cancels a stream it still needs.
RESUMABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED, grpc.StatusCode.CANCELLED})
# RESOURCE_EXHAUSTED is resumable only for these reasons; `batch_too_large`, or gRPC's own
# message-size refusal, would fail the same way again.
RESUMABLE_REASONS = frozenset({"too_many_streams", "stream_duration_exceeded"})


def reason_of(error: aio.AioRpcError) -> str:
    """The ErrorInfo reason of a billing-grpc error, or "" when the status carries none."""
    raw = dict(error.trailing_metadata() or ()).get(STATUS_DETAILS_KEY)
    if not isinstance(raw, bytes):
        return ""
    info = error_details_pb2.ErrorInfo()
    for detail in status_pb2.Status.FromString(raw).details:
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
            return str(info.reason)
    return ""


def is_resumable(error: aio.AioRpcError) -> bool:
    """True when a usage stream that failed with `error` should be reopened and its batches resent."""
    code = error.code()
    if code in RESUMABLE_CODES:
        return True
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return reason_of(error) in RESUMABLE_REASONS
    # billing-grpc answers its own INTERNAL with an ErrorInfo (`internal`): a fault that would
    # repeat. Without one it is gRPC's (seen: a write racing the server's end of the stream,
    # "Internal error from Core"), and the stream is only gone.
    return code == grpc.StatusCode.INTERNAL and not reason_of(error)


class UsageEmitterError(Exception):
    """The emitter stopped on an error it cannot recover from (bad credentials, refused input...).

    `code` and `reason` are the failed stream's status and ErrorInfo reason; events not yet
    acknowledged are still available from `UsageEmitter.unacknowledged()`.
    """

    def __init__(self, code: grpc.StatusCode, reason: str, details: str) -> None:
        super().__init__(f"usage stream failed: {code.name} {reason or '-'}: {details}")
        self.code = code
        self.reason = reason
        self.details = details

    @classmethod
    def from_rpc(cls, error: aio.AioRpcError) -> UsageEmitterError:
        """The emitter's error for a failed stream."""
        return cls(error.code(), reason_of(error), error.details() or "")
