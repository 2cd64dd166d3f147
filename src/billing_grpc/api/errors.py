"""The one place where errors become gRPC statuses with google.rpc details."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from billing_grpc.domain import errors

ERROR_DOMAIN = "billing.v1"
STATUS_DETAILS_KEY = "grpc-status-details-bin"

# The status travels in trailing metadata, which clients cap at 8 KiB by default: an error that
# echoed a 5,000-character input (or listed thousands of violations) arrived as RESOURCE_EXHAUSTED
# with no details at all. Clipped texts and a bounded list keep every error readable.
MAX_MESSAGE = 300
MAX_DESCRIPTION = 160
MAX_VIOLATIONS = 10

_CODES: list[tuple[type[errors.BillingError], grpc.StatusCode]] = [
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.ConcurrencyConflict, grpc.StatusCode.ABORTED),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (errors.ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
]


def status_code(error: errors.BillingError) -> grpc.StatusCode:
    """The gRPC status code for an error kind."""
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.INTERNAL


def rich_status(
    code: grpc.StatusCode,
    message: str,
    reason: str,
    violations: tuple[errors.FieldViolation, ...] = (),
    correlation_id: str = "",
) -> status_pb2.Status:
    """A google.rpc.Status with ErrorInfo (the stable reason) and, for bad input, BadRequest."""
    info = error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN)
    if correlation_id:
        info.metadata["correlation_id"] = correlation_id
    details = [info]
    if violations:
        shown = [
            error_details_pb2.BadRequest.FieldViolation(
                field=clip(v.field, MAX_DESCRIPTION), description=clip(v.description, MAX_DESCRIPTION)
            )
            for v in violations[:MAX_VIOLATIONS]
        ]
        if len(violations) > MAX_VIOLATIONS:
            more = f"and {len(violations) - MAX_VIOLATIONS} more violations"
            shown.append(error_details_pb2.BadRequest.FieldViolation(field="", description=more))
        details.append(error_details_pb2.BadRequest(field_violations=shown))
    packed = []
    for detail in details:
        wrapper = any_pb2.Any()
        wrapper.Pack(detail)
        packed.append(wrapper)
    return status_pb2.Status(code=code.value[0], message=message, details=packed)


def clip(text: str, limit: int) -> str:
    """The text, cut to `limit` characters with a marker when longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(error: BaseException, correlation_id: str = "") -> tuple[grpc.StatusCode, str, status_pb2.Status]:
    """Status code, message and rich status for any exception leaving a servicer."""
    if isinstance(error, errors.BillingError):
        code, message = status_code(error), clip(error.message, MAX_MESSAGE)
        return code, message, rich_status(code, message, error.reason, error.violations, correlation_id)
    message = "internal error" + (f" (correlation id {correlation_id})" if correlation_id else "")
    code = grpc.StatusCode.INTERNAL
    return code, message, rich_status(code, message, "internal", (), correlation_id)
