"""Meters: validation of every field, negative quantities, replay and the stored form."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_grpc.domain.errors import InvalidArgument
from billing_grpc.domain.events import decode_event
from billing_grpc.domain.meter import Aggregation, Meter, MeterCreated, allows_negative, create_meter, stream_of

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def violated_fields(error: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [violation.field for violation in error.value.violations]


@pytest.mark.parametrize(
    ("aggregation", "property"),
    [("sum", ""), ("count", ""), ("max", ""), ("latest", ""), ("unique_count", "user_id")],
)
def test_a_valid_meter_is_created(aggregation: str, property: str) -> None:
    event = create_meter("api_calls", "API calls", aggregation, property, NOW)

    assert event == MeterCreated(
        code="api_calls", name="API calls", aggregation=Aggregation(aggregation), property=property, created_at=NOW
    )


@pytest.mark.parametrize(
    ("code", "name", "aggregation", "property", "fields"),
    [
        ("", "API calls", "sum", "", ["code"]),
        ("API Calls", "API calls", "sum", "", ["code"]),
        ("x" * 65, "API calls", "sum", "", ["code"]),
        ("api_calls", "", "sum", "", ["name"]),
        ("api_calls", "x" * 201, "sum", "", ["name"]),
        ("api_calls", "API\ncalls", "sum", "", ["name"]),
        ("api_calls", "API calls", "", "", ["aggregation"]),
        ("api_calls", "API calls", "average", "", ["aggregation"]),
        ("api_calls", "API calls", "SUM", "", ["aggregation"]),
        ("api_calls", "API calls", "unique_count", "", ["property"]),
        ("api_calls", "API calls", "unique_count", "User Id", ["property"]),
        ("api_calls", "API calls", "sum", "amount", ["property"]),
        ("api_calls", "API calls", "count", "user_id", ["property"]),
        ("api_calls", "API calls", "max", "x", ["property"]),
        ("api_calls", "API calls", "latest", "x", ["property"]),
        ("", "", "average", "user_id", ["code", "name", "aggregation"]),
        ("Bad", "", "unique_count", "", ["code", "name", "property"]),
    ],
)
def test_every_violation_is_reported_at_once(
    code: str, name: str, aggregation: str, property: str, fields: list[str]
) -> None:
    with pytest.raises(InvalidArgument) as error:
        create_meter(code, name, aggregation, property, NOW)

    assert violated_fields(error) == fields
    assert error.value.reason == "invalid_argument"


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        (Aggregation.SUM, True),
        (Aggregation.LATEST, True),
        (Aggregation.COUNT, False),
        (Aggregation.MAX, False),
        (Aggregation.UNIQUE_COUNT, False),
    ],
)
def test_only_sum_and_latest_accept_negative_quantities(aggregation: Aggregation, expected: bool) -> None:
    assert allows_negative(aggregation) is expected


def test_replay_builds_the_meter_and_the_stream_is_named_by_code() -> None:
    event = create_meter("seats", "Seats", "unique_count", "seat_id", NOW)

    assert Meter.replay([]) is None
    assert Meter.replay([event]) == Meter("seats", "Seats", Aggregation.UNIQUE_COUNT, "seat_id")
    assert stream_of("seats") == "meter-seats"


@given(st.sampled_from(list(Aggregation)), st.datetimes(timezones=st.just(UTC)))
def test_the_payload_round_trips(aggregation: Aggregation, created_at: datetime) -> None:
    property = "user_id" if aggregation is Aggregation.UNIQUE_COUNT else ""
    event = create_meter("api_calls", "API calls", aggregation.value, property, created_at)

    assert decode_event(MeterCreated.TYPE, event.payload()) == event
