"""Read the rich error details a failed call carries (google.rpc.Status in trailing metadata)."""

from __future__ import annotations

from dataclasses import dataclass

from google.rpc import error_details_pb2, status_pb2
from grpc import aio

from billing_grpc.api.errors import STATUS_DETAILS_KEY


@dataclass
class ErrorDetails:
    """The stable reason and the field violations of an error."""

    reason: str
    domain: str
    fields: dict[str, str]
    metadata: dict[str, str]


def details_of(error: aio.AioRpcError) -> ErrorDetails:
    """Unpack ErrorInfo and BadRequest from the call's trailing metadata."""
    raw = dict(error.trailing_metadata() or ()).get(STATUS_DETAILS_KEY)
    assert raw is not None, f"no {STATUS_DETAILS_KEY} on {error.code()}: {error.details()}"
    status = status_pb2.Status.FromString(raw)
    assert status.code == error.code().value[0]
    info = error_details_pb2.ErrorInfo()
    bad = error_details_pb2.BadRequest()
    for detail in status.details:
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(bad.DESCRIPTOR):
            detail.Unpack(bad)
    return ErrorDetails(
        reason=info.reason,
        domain=info.domain,
        fields={v.field: v.description for v in bad.field_violations},
        metadata=dict(info.metadata),
    )
