"""Errors of the event store, expressed as the domain's error kinds so the API maps them once."""

from __future__ import annotations

from billing_grpc.domain.errors import ConcurrencyConflict, FailedPrecondition, Unavailable


class WrongExpectedVersion(ConcurrencyConflict):
    """A stream was not at the version the appender expected; nothing was written."""

    def __init__(self, stream_id: str, expected: int | None, actual: int) -> None:
        super().__init__(
            "wrong_expected_version",
            f"stream {stream_id!r} is at version {actual}, expected {expected}",
        )
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class EventIdConflict(FailedPrecondition):
    """Some, but not all, of an append's event ids are already recorded, or elsewhere."""

    def __init__(self, detail: str) -> None:
        super().__init__("event_id_conflict", detail)


class ClaimConflict(ConcurrencyConflict):
    """Some keys an append claims are claimed already; nothing was written."""

    def __init__(self, keys: set[str]) -> None:
        super().__init__("claim_conflict", f"{len(keys)} claimed keys are taken")
        self.keys = keys


class StoreUnavailable(Unavailable):
    """The store cannot be reached; the outcome of an append in flight is unknown.

    Retrying with the same event ids is safe: appends are idempotent by event id.
    """

    def __init__(self, detail: str) -> None:
        super().__init__("store_unavailable", detail)
