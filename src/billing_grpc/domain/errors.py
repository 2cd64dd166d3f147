"""Errors the domain and application raise; the API layer maps each kind to one gRPC status.

Every error carries a stable, machine-readable `reason` (snake_case) that clients may branch
on, a human message, and for bad input the offending fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field: its path in the request (e.g. `events[3].quantity`) and why."""

    field: str
    description: str


@dataclass(eq=False)
class BillingError(Exception):
    """Base of every expected error; never raised directly."""

    reason: str
    message: str
    violations: tuple[FieldViolation, ...] = field(default=())

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


class InvalidArgument(BillingError):
    """The request is malformed; nothing was written."""

    @classmethod
    def of(cls, *violations: FieldViolation, reason: str = "invalid_argument") -> InvalidArgument:
        """Build the error from field violations, with a message that lists them."""
        message = "; ".join(f"{v.field}: {v.description}" for v in violations)
        return cls(reason, message or "invalid request", tuple(violations))


class NotFound(BillingError):
    """The resource does not exist, or the caller may not know that it does."""


class AlreadyExists(BillingError):
    """A unique identity (code, external id, email) is taken."""


class FailedPrecondition(BillingError):
    """The request is valid but the current state does not allow it."""


class ConcurrencyConflict(BillingError):
    """Someone else changed the same stream first; the caller may retry."""


class Unauthenticated(BillingError):
    """No credentials, or credentials that are unknown, expired or revoked."""


class PermissionDenied(BillingError):
    """Authenticated, but the caller's roles do not allow this action."""


class ResourceExhausted(BillingError):
    """A size, rate or concurrency limit was hit."""


class Unavailable(BillingError):
    """A dependency (the store) is unreachable; retrying later may succeed."""
