"""The append decisions both stores share: replay, reject, or accept with versions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from billing_grpc.eventstore import EventIdConflict, NewEvent, StreamAppend, WrongExpectedVersion
from billing_grpc.eventstore.planning import Accepted, Replayed, decide, streams_needing_versions

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def new() -> NewEvent:
    return NewEvent(type="t.happened", payload={}, occurred_at=T0)


def test_accepted_rows_continue_each_stream_and_advance_the_known_versions() -> None:
    versions = {"a": 2}
    decision = decide([StreamAppend("a", 2, (new(), new())), StreamAppend("b", 0, (new(),))], versions, {})

    assert isinstance(decision, Accepted)
    assert [(r.stream_id, r.stream_version) for r in decision.rows] == [("a", 3), ("a", 4), ("b", 1)]
    assert versions == {"a": 4, "b": 1}


@pytest.mark.parametrize("expected", [0, 1, 3])
def test_a_wrong_expected_version_rejects_the_whole_batch_and_leaves_versions_alone(expected: int) -> None:
    versions = {"a": 2}
    with pytest.raises(WrongExpectedVersion):
        decide([StreamAppend("b", 0, (new(),)), StreamAppend("a", expected, (new(),))], versions, {})
    assert versions == {"a": 2}


def test_a_batch_whose_ids_are_all_recorded_is_a_replay() -> None:
    batch = [StreamAppend("a", 0, (new(),))]
    first = decide(batch, {}, {})
    assert isinstance(first, Accepted)
    recorded = {row.event.event_id: row.record(1, T0) for row in first.rows}

    again = decide(batch, {"a": 1}, recorded)

    assert isinstance(again, Replayed) and [e.position for e in again.events] == [1]


def test_partly_recorded_ids_and_repeated_ids_are_conflicts() -> None:
    event = new()
    recorded = {event.event_id: decide([StreamAppend("a", 0, (event,))], {}, {}).rows[0].record(1, T0)}  # type: ignore[union-attr]
    with pytest.raises(EventIdConflict):
        decide([StreamAppend("a", 1, (event, new()))], {"a": 1}, recorded)
    with pytest.raises(EventIdConflict):
        decide([StreamAppend("a", 0, (event, event))], {}, {})


def test_only_streams_that_may_exist_need_their_version_read() -> None:
    batches = [
        [StreamAppend("new", 0, (new(),)), StreamAppend("old", 4, (new(),))],
        [StreamAppend("any", None, (new(),))],
    ]
    assert streams_needing_versions(batches) == {"old", "any"}
