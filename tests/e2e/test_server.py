"""The server as clients meet it: health, reflection, ReadEvents, errors, correlation ids."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from billing.v1 import event_log_pb2, event_log_pb2_grpc
from billing_grpc.eventstore import EventMetadata, NewEvent, StreamAppend
from tests.e2e.conftest import Running
from tests.rpc_errors import details_of

T0 = datetime(2026, 5, 17, 8, 30, tzinfo=UTC)
BUF = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "buf"


async def seed(running: Running) -> None:
    def new(kind: str, **payload: object) -> NewEvent:
        return NewEvent(
            type=kind, payload=dict(payload), occurred_at=T0, metadata=EventMetadata("corr-7", "cmd-7", "user:ops")
        )

    await running.app.store.append(StreamAppend("org-1", 0, (new("org.created", name="Acme"),)))
    await running.app.store.append(StreamAppend("org-2", 0, (new("org.created", name="Globex"),)))
    await running.app.store.append(StreamAppend("org-1", 1, (new("org.renamed", name="Acme Inc", amount_minor=2**60),)))


async def read(running: Running, **request: object) -> list[event_log_pb2.RecordedEvent]:
    """Read the log as the platform admin, skipping the bootstrap's own events."""
    request.setdefault("after_position", running.bootstrap_head)
    stub = event_log_pb2_grpc.EventLogServiceStub(running.channel)
    call = stub.ReadEvents(event_log_pb2.ReadEventsRequest(**request), metadata=running.admin)  # type: ignore[arg-type]
    return [response.event async for response in call]


async def test_health_reports_serving_for_the_server_and_its_services(running: Running) -> None:
    stub = health_pb2_grpc.HealthStub(running.channel)
    for service in ("", "billing.v1.EventLogService"):
        answer = await stub.Check(health_pb2.HealthCheckRequest(service=service))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_health_turns_not_serving_when_shutdown_starts(running: Running) -> None:
    watch = health_pb2_grpc.HealthStub(running.channel).Watch(health_pb2.HealthCheckRequest(service=""))
    assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING

    stopping = asyncio.create_task(running.server.stop(grace=1))
    assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
    await stopping


async def test_reflection_lists_the_services(running: Running) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(running.channel)
    call = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    answer = await call.read()
    names = {service.name for service in answer.list_services_response.service}
    assert {"billing.v1.EventLogService", "grpc.health.v1.Health"} <= names
    assert {"grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"} <= names


async def test_reflection_v1_answers_on_its_own_name_and_describes_itself(running: Running) -> None:
    # grpc.reflection.v1 has the same messages as v1alpha, field for field: v1alpha's classes speak it.
    v1 = running.channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    call = v1(
        iter(
            [
                reflection_pb2.ServerReflectionRequest(list_services=""),
                reflection_pb2.ServerReflectionRequest(file_containing_symbol="grpc.reflection.v1.ServerReflection"),
            ]
        )
    )
    listed, described = [answer async for answer in call]
    assert "billing.v1.BillingService" in {service.name for service in listed.list_services_response.service}
    [file] = described.file_descriptor_response.file_descriptor_proto
    assert descriptor_pb2.FileDescriptorProto.FromString(file).package == "grpc.reflection.v1"


@pytest.mark.parametrize("protocol", ["grpc-v1", "grpc-v1alpha"])
async def test_buf_curl_lists_and_calls_through_either_reflection_protocol(running: Running, protocol: str) -> None:
    # buf curl is an independent client: it tries v1 first, so a missing v1 would only show with the flag.
    async def buf_curl(*arguments: str) -> str:
        process = await asyncio.create_subprocess_exec(
            str(BUF), "curl", "--protocol", "grpc", "--http2-prior-knowledge", "--reflect-protocol", protocol,
            *arguments,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        return out.decode()

    address = f"http://127.0.0.1:{running.server.port}"
    services = set((await buf_curl("--list-services", address)).split())
    assert {"billing.v1.BillingService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} <= services
    authorization = dict(running.admin)["authorization"]
    answer = json.loads(
        await buf_curl("-H", f"authorization: {authorization}", f"{address}/billing.v1.BillingService/GetClock")
    )
    assert answer["now"] == "2026-01-15T09:00:00Z"  # the e2e server's test clock


async def test_read_events_streams_the_log_in_order_with_every_envelope_field(running: Running) -> None:
    await seed(running)

    events = await read(running)

    b = running.bootstrap_head
    assert [(e.position - b, e.stream_id, e.stream_version, e.type) for e in events] == [
        (1, "org-1", 1, "org.created"),
        (2, "org-2", 1, "org.created"),
        (3, "org-1", 2, "org.renamed"),
    ]
    last = events[-1]
    assert json.loads(last.payload_json) == {"name": "Acme Inc", "amount_minor": 2**60}  # exact, no float
    assert (last.metadata.correlation_id, last.metadata.causation_id, last.metadata.actor) == (
        "corr-7",
        "cmd-7",
        "user:ops",
    )
    assert last.occurred_at.ToDatetime(tzinfo=UTC) == T0
    assert last.schema_version == 1 and len(last.event_id) == 36


async def test_read_events_filters_by_position_stream_type_and_limit(running: Running) -> None:
    await seed(running)
    b = running.bootstrap_head

    assert [e.position - b for e in await read(running, after_position=b + 1)] == [2, 3]
    assert [e.position - b for e in await read(running, stream_id="org-1")] == [1, 3]
    assert [e.position - b for e in await read(running, event_types=["org.renamed"])] == [3]
    assert [e.position - b for e in await read(running, limit=2)] == [1, 2]
    assert await read(running, stream_id="org-404") == []


async def test_read_events_can_follow_the_live_log(running: Running) -> None:
    await seed(running)
    stub = event_log_pb2_grpc.EventLogServiceStub(running.channel)
    b = running.bootstrap_head
    call = stub.ReadEvents(event_log_pb2.ReadEventsRequest(after_position=b + 2, follow=True), metadata=running.admin)

    assert (await call.read()).event.position == b + 3
    await running.app.store.append(
        StreamAppend("org-3", 0, (NewEvent(type="org.created", payload={}, occurred_at=T0),))
    )
    live = await asyncio.wait_for(call.read(), 5)
    assert (live.event.position - b, live.event.stream_id) == (4, "org-3")
    call.cancel()


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"after_position": -1}, "after_position"),
        ({"limit": -5}, "limit"),
        ({"stream_id": "x" * 201}, "stream_id"),
        ({"event_types": [""]}, "event_types[0]"),
    ],
)
async def test_bad_read_requests_get_invalid_argument_with_field_details(
    running: Running, request_fields: dict[str, object], field: str
) -> None:
    with pytest.raises(aio.AioRpcError) as raised:
        await read(running, **request_fields)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = details_of(raised.value)
    assert (details.reason, details.domain) == ("invalid_argument", "billing.v1")
    assert field in details.fields


async def test_the_correlation_id_is_echoed_and_reported_in_errors(running: Running) -> None:
    stub = event_log_pb2_grpc.EventLogServiceStub(running.channel)
    call = stub.ReadEvents(
        event_log_pb2.ReadEventsRequest(after_position=-1), metadata=(("x-correlation-id", "trace-42"), *running.admin)
    )
    with pytest.raises(aio.AioRpcError) as raised:
        await call.read()

    assert ("x-correlation-id", "trace-42") in tuple(await call.initial_metadata())
    assert details_of(raised.value).metadata["correlation_id"] == "trace-42"


async def test_oversized_messages_are_refused_with_resource_exhausted(running: Running) -> None:
    limit = running.app.settings.max_message_bytes
    with pytest.raises(aio.AioRpcError) as raised:
        await read(running, stream_id="x" * (limit + 1))
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
