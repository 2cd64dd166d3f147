"""UsageEmitter's batching, backpressure, resending and failure handling, against a scripted fake stream.

The fake server counts each (organization, key) once, answers every batch in order, and can be
told to break a stream (after recording a batch whose ack is then lost), to end it with any
status, or to hold its acks. The real server is exercised in tests/e2e/test_client_emitter.py.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import grpc
import pytest
from grpc import aio

from billing.v1 import usage_pb2
from billing_grpc.api.errors import STATUS_DETAILS_KEY, rich_status
from billing_grpc.client import EmitterStats, RejectedEvent, UsageEmitter, UsageEmitterError

ACCEPTED = usage_pb2.UsageResult.OUTCOME_ACCEPTED
DUPLICATE = usage_pb2.UsageResult.OUTCOME_DUPLICATE
REJECTED = usage_pb2.UsageResult.OUTCOME_REJECTED
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def rpc_error(code: grpc.StatusCode, reason: str = "") -> aio.AioRpcError:
    """A failed call as grpc.aio reports it, with billing-grpc's rich details when `reason` is given."""
    trailing = aio.Metadata()
    if reason:
        trailing = aio.Metadata((STATUS_DETAILS_KEY, rich_status(code, reason, reason).SerializeToString()))
    return aio.AioRpcError(code, aio.Metadata(), trailing, details=reason or code.name)


@dataclass
class Break:
    """What a stream does after `after_acks` acks: record the next batch (ack lost) or not, then fail."""

    after_acks: int
    error: aio.AioRpcError
    record_next: bool = False


@dataclass
class FakeServer:
    """Counts each (organization, key) once; answers batches in order; follows the break script."""

    breaks: list[Break] = field(default_factory=list)  # one per stream, in order; then healthy
    counted: Counter[tuple[str, str]] = field(default_factory=Counter)
    received: list[list[usage_pb2.StreamUsageRequest]] = field(default_factory=list)  # per stream
    hold: asyncio.Event = field(default_factory=asyncio.Event)  # acks wait while cleared
    got_batch: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.hold.set()

    def open(self) -> FakeStream:
        script = self.breaks.pop(0) if self.breaks else None
        self.received.append([])
        return FakeStream(self, self.received[-1], script)

    def record(self, batch: usage_pb2.StreamUsageRequest) -> usage_pb2.StreamUsageResponse:
        ack = usage_pb2.StreamUsageResponse(batch_id=batch.batch_id)
        for event in batch.events:
            key = (event.organization_id, event.idempotency_key)
            if event.meter_code == "unknown":
                ack.results.add(outcome=REJECTED, reason="unknown_meter", message="no such meter")
                ack.rejected += 1
            elif self.counted[key]:
                ack.results.add(outcome=DUPLICATE)
                ack.duplicates += 1
            else:
                self.counted[key] += 1
                ack.results.add(outcome=ACCEPTED)
                ack.accepted += 1
        return ack

    def batch_sizes(self) -> list[int]:
        return [len(b.events) for stream in self.received for b in stream]

    def keys_sent(self, batch_id: int) -> list[list[str]]:
        """The keys of every send of one batch, first send first."""
        return [[e.idempotency_key for e in b.events] for s in self.received for b in s if b.batch_id == batch_id]


class FakeStream:
    """One StreamUsage call: writes queue batches; reads answer them in order, or break as scripted."""

    def __init__(self, server: FakeServer, received: list[usage_pb2.StreamUsageRequest], script: Break | None):
        self._server = server
        self._received = received
        self._script = script
        self._inbox: asyncio.Queue[usage_pb2.StreamUsageRequest | None] = asyncio.Queue()
        self._acks = 0
        self._ended: aio.AioRpcError | None = None

    async def write(self, request: usage_pb2.StreamUsageRequest) -> None:
        if self._ended is not None:
            raise asyncio.InvalidStateError("RPC already finished.")  # what grpc.aio raises
        self._received.append(request)
        self._server.got_batch.set()
        self._inbox.put_nowait(request)

    async def done_writing(self) -> None:
        self._inbox.put_nowait(None)

    async def read(self) -> object:
        if self._script is not None and self._acks == self._script.after_acks:
            if self._script.record_next:
                batch = await self._inbox.get()
                assert batch is not None
                self._server.record(batch)  # durable, but the ack never arrives
            self._ended = self._script.error
            raise self._script.error
        batch = await self._inbox.get()
        if batch is None:
            return aio.EOF
        await self._server.hold.wait()
        self._acks += 1
        return self._server.record(batch)

    def cancel(self) -> bool:
        return True


def emitter_on(server: FakeServer, **options: object) -> UsageEmitter:
    options.setdefault("initial_backoff", 0.001)
    options.setdefault("clock", lambda: NOW)
    return UsageEmitter(server.open, **options)  # type: ignore[arg-type]


async def test_events_are_cut_into_batches_of_the_maximum_size_and_a_flush_sends_the_rest() -> None:
    server = FakeServer()
    async with emitter_on(server, max_batch_size=10, linger=60) as emitter:
        for n in range(25):
            await emitter.emit("calls", "1", organization_id="org_1", idempotency_key=f"k{n}")
        await emitter.flush()  # does not wait out the 60 s linger
        assert server.batch_sizes() == [10, 10, 5]
        assert emitter.stats.accepted == 25
    assert len(server.received) == 1  # one stream for everything


async def test_a_partial_batch_is_sent_after_the_linger_without_a_flush() -> None:
    server = FakeServer()
    async with emitter_on(server, max_batch_size=100, linger=0.01) as emitter:
        for n in range(3):
            await emitter.emit("calls", "1", organization_id="org_1", idempotency_key=f"k{n}")
        await server.got_batch.wait()
        assert server.batch_sizes() == [3]


async def test_keys_are_generated_when_missing_and_a_callers_key_is_kept() -> None:
    server = FakeServer()
    async with emitter_on(server) as emitter:
        given = await emitter.emit("calls", 2, organization_id="org_1", idempotency_key="order-7")
        generated = {await emitter.emit("calls", Decimal("0.5"), organization_id="org_1") for _ in range(50)}
    sent = [e for stream in server.received for b in stream for e in b.events]
    assert given == "order-7" and sent[0].idempotency_key == "order-7"
    assert len(generated) == 50 and "" not in generated
    assert {e.idempotency_key for e in sent[1:]} == generated
    assert [e.quantity for e in sent[:2]] == ["2", "0.5"]
    assert sent[0].timestamp.ToDatetime(UTC) == NOW  # the injected clock


async def test_emit_waits_when_max_pending_events_are_unacknowledged_and_never_drops() -> None:
    server = FakeServer()
    server.hold.clear()  # the server takes batches but answers none yet
    emitter = emitter_on(server, max_pending=5, max_batch_size=5, linger=0)
    for n in range(5):
        await emitter.emit("calls", "1", organization_id="org_1", idempotency_key=f"k{n}")
    sixth = asyncio.create_task(emitter.emit("calls", "1", organization_id="org_1", idempotency_key="k5"))
    await server.got_batch.wait()
    await asyncio.sleep(0)  # let the sixth emit run as far as it can
    assert not sixth.done()  # full: it waits for an ack
    server.hold.set()
    assert await sixth == "k5"
    await emitter.close()
    assert emitter.stats.accepted == 6
    assert sorted(k for _, k in server.counted) == [f"k{n}" for n in range(6)]


async def test_a_broken_stream_is_reopened_and_every_unacknowledged_batch_resent_with_its_keys() -> None:
    unavailable = rpc_error(grpc.StatusCode.UNAVAILABLE)
    # Stream 1 acks two batches, records the third and dies before its ack; stream 2 dies at once.
    server = FakeServer(breaks=[Break(2, unavailable, record_next=True), Break(0, unavailable)])
    async with emitter_on(server, max_batch_size=10, linger=60, max_in_flight=4) as emitter:
        for n in range(60):
            await emitter.emit("calls", "1", organization_id="org_1", idempotency_key=f"k{n}")
    stats = emitter.stats
    assert set(server.counted.values()) == {1} and len(server.counted) == 60  # each key once
    assert (stats.accepted, stats.duplicates, stats.rejected) == (50, 10, 0)  # batch 3 came back duplicate
    assert stats.reconnects == 2 and stats.batches_resent >= 1
    sends = server.keys_sent(3)
    assert len(sends) >= 2 and all(keys == sends[0] for keys in sends)  # a resend reuses the keys
    assert len(server.received) == 3


@pytest.mark.parametrize(
    "error",
    [
        rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "stream_duration_exceeded"),
        rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "too_many_streams"),
        rpc_error(grpc.StatusCode.CANCELLED),
        rpc_error(grpc.StatusCode.INTERNAL),  # gRPC's own, without the server's ErrorInfo
    ],
    ids=["stream_duration_exceeded", "too_many_streams", "cancelled_by_server", "transport_internal"],
)
async def test_resumable_endings_reconnect_and_go_on(error: aio.AioRpcError) -> None:
    server = FakeServer(breaks=[Break(1, error)])
    async with emitter_on(server, max_batch_size=10, linger=60) as emitter:
        for n in range(30):
            await emitter.emit("calls", "1", organization_id="org_1", idempotency_key=f"k{n}")
    assert emitter.stats.accepted == 30 and emitter.stats.reconnects == 1
    assert len(server.counted) == 30


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (rpc_error(grpc.StatusCode.UNAUTHENTICATED, "invalid_credentials"), "invalid_credentials"),
        (rpc_error(grpc.StatusCode.PERMISSION_DENIED, "permission_denied"), "permission_denied"),
        (rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument"), "invalid_argument"),
        (rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "batch_too_large"), "batch_too_large"),
        (rpc_error(grpc.StatusCode.INTERNAL, "internal"), "internal"),  # the server's own fault
    ],
)
async def test_errors_a_retry_cannot_fix_surface_with_the_unacknowledged_events(
    error: aio.AioRpcError, reason: str
) -> None:
    server = FakeServer(breaks=[Break(0, error)])  # fails before any ack
    emitter = emitter_on(server, max_batch_size=5, linger=60, max_pending=12)
    for n in range(12):
        await emitter.emit("calls", "1", organization_id="org_1", idempotency_key=f"k{n}")
    blocked = asyncio.create_task(emitter.emit("calls", "1", organization_id="org_1", idempotency_key="late"))
    with pytest.raises(UsageEmitterError) as failed:
        await emitter.flush()
    assert (failed.value.code, failed.value.reason) == (error.code(), reason)
    with pytest.raises(UsageEmitterError):
        await blocked  # a waiting emit is woken with the error, not left hanging
    with pytest.raises(UsageEmitterError):
        await emitter.emit("calls", "1", organization_id="org_1")
    with pytest.raises(UsageEmitterError):
        await emitter.close()
    assert [e.idempotency_key for e in emitter.unacknowledged()] == [f"k{n}" for n in range(12)]
    assert len(server.received) == 1  # never retried


async def test_reconnecting_gives_up_after_the_configured_attempts() -> None:
    unavailable = rpc_error(grpc.StatusCode.UNAVAILABLE)
    server = FakeServer(breaks=[Break(0, unavailable) for _ in range(10)])
    emitter = emitter_on(server, max_reconnect_attempts=3)
    await emitter.emit("calls", "1", organization_id="org_1")
    with pytest.raises(UsageEmitterError) as failed:
        await emitter.close()
    assert failed.value.code == grpc.StatusCode.UNAVAILABLE
    assert len(server.received) == 4  # the first stream and three reconnects


async def test_every_result_is_counted_and_rejections_reach_the_callback() -> None:
    server = FakeServer()
    rejected: list[RejectedEvent] = []
    async with emitter_on(server, on_rejected=rejected.append) as emitter:
        await emitter.emit("calls", "1", organization_id="org_1", idempotency_key="a")
        await emitter.emit("calls", "1", organization_id="org_1", idempotency_key="a")
        await emitter.emit("unknown", "1", organization_id="org_1", idempotency_key="b")
    assert emitter.stats == EmitterStats(
        emitted=3, accepted=1, duplicates=1, rejected=1, rejection_reasons=Counter(unknown_meter=1), batches_sent=1
    )
    explained = [(r.event.idempotency_key, r.reason, r.message) for r in rejected]
    assert explained == [("b", "unknown_meter", "no such meter")]


async def test_a_failing_callback_does_not_stop_the_emitter() -> None:
    def explode(rejected: RejectedEvent) -> None:
        raise RuntimeError("caller bug")

    server = FakeServer()
    async with emitter_on(server, on_rejected=explode) as emitter:
        await emitter.emit("unknown", "1", organization_id="org_1")
        await emitter.flush()
        await emitter.emit("calls", "1", organization_id="org_1")
    assert (emitter.stats.rejected, emitter.stats.accepted) == (1, 1)


async def test_inexact_quantities_and_naive_timestamps_are_refused_before_queueing() -> None:
    emitter = emitter_on(FakeServer())
    with pytest.raises(TypeError):
        await emitter.emit("calls", 1.5, organization_id="org_1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone"):
        await emitter.emit("calls", "1", organization_id="org_1", timestamp=datetime(2026, 1, 1))
    await emitter.close()
    assert emitter.stats.emitted == 0


async def test_close_sends_everything_then_ends_the_stream_and_later_emits_are_refused() -> None:
    server = FakeServer()
    emitter = emitter_on(server, linger=60)
    for n in range(7):
        await emitter.emit("calls", "1", organization_id="org_1", idempotency_key=f"k{n}")
    await emitter.close()
    assert len(server.counted) == 7 and emitter.stats.acknowledged == 7
    assert emitter.unacknowledged() == []
    with pytest.raises(RuntimeError, match="closed"):
        await emitter.emit("calls", "1", organization_id="org_1")


async def test_an_emitter_that_never_emitted_opens_no_stream() -> None:
    server = FakeServer()
    async with emitter_on(server) as emitter:
        await emitter.flush()
    assert server.received == []


async def test_a_second_close_waits_for_the_first_and_abort_keeps_what_was_not_answered() -> None:
    server = FakeServer()
    emitter = emitter_on(server, linger=60)
    await emitter.emit("calls", "1", organization_id="org_1", idempotency_key="a")
    await asyncio.gather(emitter.close(), emitter.close())
    assert emitter.stats.acknowledged == 1

    held = FakeServer()
    held.hold.clear()
    aborted = emitter_on(held, linger=0)
    await aborted.emit("calls", "1", organization_id="org_1", idempotency_key="b")
    await held.got_batch.wait()
    await aborted.abort()
    await aborted.close()  # nothing left to do, and no error
    assert [e.idempotency_key for e in aborted.unacknowledged()] == ["b"]


async def test_timestamps_are_sent_as_the_exact_utc_instant_and_properties_as_given() -> None:
    server = FakeServer()
    paris = timezone(timedelta(hours=2))
    async with emitter_on(server) as emitter:
        await emitter.emit(
            "users",
            "1",
            organization_id="org_1",
            timestamp=datetime(2026, 3, 1, 14, 0, 0, 123456, tzinfo=paris),
            properties={"user_id": "ada"},
        )
        await emitter.emit(
            "calls", "1", organization_id="org_1", timestamp=datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)
        )
    first, second = [e for stream in server.received for b in stream for e in b.events]
    assert (first.timestamp.seconds, first.timestamp.nanos) == (
        1_772_366_400,  # 2026-03-01T12:00:00Z
        123456000,
    )
    assert dict(first.properties) == {"user_id": "ada"}
    assert (second.timestamp.seconds, second.timestamp.nanos) == (-1, 0)
