"""Small pieces of the foundation: clock, upcasters, query matching, logs, error mapping."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, timezone

import grpc
import pytest
from google.rpc import error_details_pb2

from billing_grpc.api.errors import describe, status_code
from billing_grpc.domain import errors
from billing_grpc.domain.clock import TestClock, ensure_utc
from billing_grpc.eventstore import Upcasters
from billing_grpc.logs import JsonFormatter, correlation_id
from projections.query import matches, ordered


def test_the_test_clock_only_moves_forward() -> None:
    clock = TestClock(datetime(2026, 1, 31, tzinfo=UTC))
    assert clock.advance(timedelta(days=1)) == datetime(2026, 2, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(ValueError):
        clock.advance_to(datetime(2026, 1, 1, tzinfo=UTC))


def test_times_are_normalised_to_utc_and_naive_ones_refused() -> None:
    tokyo = datetime(2026, 1, 1, 9, tzinfo=timezone(timedelta(hours=9)))
    assert ensure_utc(tokyo) == datetime(2026, 1, 1, 0, tzinfo=UTC)
    assert ensure_utc(tokyo).tzinfo is UTC
    with pytest.raises(ValueError):
        ensure_utc(datetime(2026, 1, 1))


def test_upcasters_chain_steps_and_refuse_a_second_step_for_one_version() -> None:
    upcasters = Upcasters()
    upcasters.register("x.done", 1, lambda p: {**p, "b": 2})
    upcasters.register("x.done", 2, lambda p: {**p, "c": 3})
    assert upcasters.upcast("x.done", 1, {"a": 1}) == (3, {"a": 1, "b": 2, "c": 3})
    assert upcasters.upcast("x.done", 3, {"a": 1}) == (3, {"a": 1})
    assert upcasters.upcast("y.done", 1, {}) == (1, {})
    with pytest.raises(ValueError):
        upcasters.register("x.done", 1, lambda p: p)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "open"}, True),
        ({"status": "paid"}, False),
        ({"due": {"$lte": 5}}, True),
        ({"due": {"$gt": 5}}, False),
        ({"status": {"$in": ["open", "draft"]}, "due": {"$gte": 5, "$lt": 6}}, True),
        ({"missing": {"$gt": 0}}, False),
        ({"status": {"$ne": "void"}}, True),
    ],
)
def test_read_model_queries_match_like_mongodb(query: dict[str, object], expected: bool) -> None:
    assert matches({"status": "open", "due": 5}, query) is expected


def test_ordering_is_stable_across_several_keys_and_puts_missing_values_first() -> None:
    docs = [{"_id": "a", "n": 2, "m": 1}, {"_id": "b", "n": 1, "m": 2}, {"_id": "c", "n": 2, "m": 0}, {"_id": "d"}]
    assert [d["_id"] for d in ordered(docs, [("n", -1), ("m", 1)])] == ["c", "a", "b", "d"]
    assert [d["_id"] for d in ordered(docs, [("n", 1)])] == ["d", "b", "a", "c"]


def test_json_logs_carry_the_correlation_id_and_extras() -> None:
    record = logging.makeLogRecord(
        {"msg": "charged %s", "args": ("inv-1",), "levelname": "INFO", "name": "billing", "method": "/x"}
    )
    token = correlation_id.set("corr-9")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        correlation_id.reset(token)
    assert line["message"] == "charged inv-1"
    assert line["correlation_id"] == "corr-9"
    assert line["method"] == "/x"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.InvalidArgument.of(errors.FieldViolation("name", "required")), grpc.StatusCode.INVALID_ARGUMENT),
        (errors.NotFound("organization_not_found", "no such organization"), grpc.StatusCode.NOT_FOUND),
        (errors.AlreadyExists("plan_code_taken", "taken"), grpc.StatusCode.ALREADY_EXISTS),
        (errors.FailedPrecondition("invoice_not_open", "paid"), grpc.StatusCode.FAILED_PRECONDITION),
        (errors.ConcurrencyConflict("wrong_expected_version", "moved"), grpc.StatusCode.ABORTED),
        (errors.Unauthenticated("missing_credentials", "no key"), grpc.StatusCode.UNAUTHENTICATED),
        (errors.PermissionDenied("role_forbids", "no"), grpc.StatusCode.PERMISSION_DENIED),
        (errors.ResourceExhausted("batch_too_large", "big"), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (errors.Unavailable("store_unavailable", "down"), grpc.StatusCode.UNAVAILABLE),
    ],
)
def test_every_error_kind_has_its_status_and_keeps_its_reason(
    error: errors.BillingError, code: grpc.StatusCode
) -> None:
    assert status_code(error) == code
    described_code, message, status = describe(error, "c-1")
    assert described_code == code and message == error.message
    assert status.code == code.value[0]


def test_unexpected_exceptions_become_internal_without_leaking_their_text() -> None:
    code, message, _ = describe(RuntimeError("password=hunter2"), "c-2")
    assert code == grpc.StatusCode.INTERNAL
    assert "hunter2" not in message and "c-2" in message


def test_an_error_echoing_huge_input_still_fits_the_clients_metadata_limit() -> None:
    """A 5,000-character currency once came back as RESOURCE_EXHAUSTED with no details: the echoed
    value overflowed the 8 KiB of trailing metadata clients accept."""
    huge = "x" * 5_000
    violations = [errors.FieldViolation(f"items[{i}].code", f"unknown code {huge!r}") for i in range(50)]
    error = errors.InvalidArgument("invalid_argument", f"bad {huge}", tuple(violations))

    _, message, status = describe(error, "c-3")

    bad_request = error_details_pb2.BadRequest()
    assert status.details[1].Unpack(bad_request)
    shown = bad_request.field_violations
    assert [v.field for v in shown[:10]] == [f"items[{i}].code" for i in range(10)]
    assert shown[10].description == "and 40 more violations" and len(shown) == 11
    assert all(len(v.description) <= 160 for v in shown) and shown[0].description.endswith("…")
    assert len(message) <= 300 and message.startswith("bad xxx")
    assert len(status.SerializeToString()) * 4 / 3 + len(message.encode()) * 3 < 8192  # base64, %-encoding
