"""Prometheus metrics: what each report counts, the metered gateway, the scheduler, the runner's lag, /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from billing_grpc.api.server import create_server
from billing_grpc.application.lease import LocalLease
from billing_grpc.application.telemetry import NO_TELEMETRY, PaymentOutcome, SchedulerOutcome
from billing_grpc.bootstrap import open_in_memory_app
from billing_grpc.domain.clock import TestClock
from billing_grpc.eventstore import EVERYTHING, EventFilter, NewEvent, RecordedEvent, StreamAppend
from billing_grpc.eventstore.memory import InMemoryEventStore
from billing_grpc.observability.endpoint import MetricsEndpoint
from billing_grpc.observability.gateway import MeteredGateway
from billing_grpc.observability.metrics import Metrics
from billing_grpc.payments.memory_ledger import InMemoryChargeLedger
from billing_grpc.payments.port import ChargeRequest, ChargeResult, GatewayTimeout, GatewayUnavailable
from billing_grpc.payments.simulated import SimulatedGateway
from billing_grpc.scheduler import LEASE_NAME, Scheduler
from billing_grpc.settings import ConfigurationError, Settings
from projections.model import Index, View
from projections.runner import ProjectionRunner
from projections.store import InMemoryReadModels
from tests.prometheus_scrape import sample, scrape

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_rpcs_are_counted_by_method_and_code_and_timed_by_method() -> None:
    metrics = Metrics()
    metrics.rpc_finished("/billing.v1.UsageService/RecordUsage", "OK", 0.004)
    metrics.rpc_finished("/billing.v1.UsageService/RecordUsage", "OK", 0.2)
    metrics.rpc_finished("/billing.v1.UsageService/RecordUsage", "INVALID_ARGUMENT", 0.001)

    method = "/billing.v1.UsageService/RecordUsage"
    assert value(metrics, "billing_rpc_requests_total", method=method, code="OK") == 2
    assert value(metrics, "billing_rpc_requests_total", method=method, code="INVALID_ARGUMENT") == 1
    assert value(metrics, "billing_rpc_duration_seconds_count", method=method) == 3
    assert value(metrics, "billing_rpc_duration_seconds_sum", method=method) == pytest.approx(0.205)
    assert value(metrics, "billing_rpc_duration_seconds_bucket", method=method, le="0.005") == 2
    assert value(metrics, "billing_rpc_duration_seconds_bucket", method=method, le="+Inf") == 3


def test_usage_batches_add_their_counts_per_result_and_reason() -> None:
    metrics = Metrics()
    metrics.usage_judged(998, 1, {"unknown_meter": 1})
    metrics.usage_judged(0, 2, {"unknown_meter": 3, "invalid_quantity": 1})

    assert value(metrics, "billing_usage_events_total", result="accepted", reason="") == 998
    assert value(metrics, "billing_usage_events_total", result="duplicate", reason="") == 3
    assert value(metrics, "billing_usage_events_total", result="rejected", reason="unknown_meter") == 4
    assert value(metrics, "billing_usage_events_total", result="rejected", reason="invalid_quantity") == 1


def test_known_label_values_are_exported_at_zero_before_anything_happens() -> None:
    metrics = Metrics()

    assert value(metrics, "billing_usage_events_total", result="accepted", reason="") == 0
    assert value(metrics, "billing_usage_events_total", result="duplicate", reason="") == 0
    assert value(metrics, "billing_payments_total", outcome="captured", reason="") == 0
    for outcome in SchedulerOutcome:
        assert value(metrics, "billing_scheduler_runs_total", outcome=outcome.value) == 0
    assert value(metrics, "billing_scheduler_run_duration_seconds_count") == 0


def test_each_metrics_object_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()  # the same metric names twice: no collision
    first.payment_answered(PaymentOutcome.DECLINED, "card_declined")

    assert value(first, "billing_payments_total", outcome="declined", reason="card_declined") == 1
    assert value(second, "billing_payments_total", outcome="declined", reason="card_declined") is None


def test_projection_lag_is_read_from_its_source_at_each_scrape() -> None:
    lag = {"usage": 7, "invoices": 0}
    metrics = Metrics(projection_lag=lambda: lag)

    assert value(metrics, "billing_projection_lag_events", projection="usage") == 7
    assert value(metrics, "billing_projection_lag_events", projection="invoices") == 0
    lag["usage"] = 2
    assert value(metrics, "billing_projection_lag_events", projection="usage") == 2


# -- the metered gateway ---------------------------------------------------------------------


def charge(key: str, method: str) -> ChargeRequest:
    return ChargeRequest(
        idempotency_key=key,
        organization_id="org_1",
        invoice_id=f"inv_{key}",
        amount_minor=1000,
        currency="USD",
        payment_method=method,
    )


async def test_the_metered_gateway_counts_every_answer_and_passes_it_on() -> None:
    metrics = Metrics()
    simulated = SimulatedGateway(InMemoryChargeLedger(), clock=TestClock(NOW))
    gateway = MeteredGateway(simulated, metrics)

    assert (await gateway.charge(charge("a", "pm_ok"))).succeeded
    declined = await gateway.charge(charge("b", "pm_declined"))
    assert (declined.succeeded, declined.failure_code) == (False, "card_declined")
    await gateway.charge(charge("c", "pm_insufficient_funds"))
    with pytest.raises(GatewayTimeout):
        await gateway.charge(charge("d", "pm_timeout"))
    assert (await gateway.charge(charge("d", "pm_timeout"))).succeeded  # resumed with the same key

    assert value(metrics, "billing_payments_total", outcome="captured", reason="") == 2
    assert value(metrics, "billing_payments_total", outcome="declined", reason="card_declined") == 1
    assert value(metrics, "billing_payments_total", outcome="declined", reason="insufficient_funds") == 1
    assert value(metrics, "billing_payments_total", outcome="timeout", reason="") == 1


@dataclass
class ScriptedGateway:
    """Answers with a decline code of its own, or raises, as told."""

    failure_code: str = ""
    raises: Exception | None = None

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        if self.raises is not None:
            raise self.raises
        return ChargeResult("ch_1", succeeded=False, failure_code=self.failure_code, message="no")


async def test_decline_codes_the_product_does_not_know_are_counted_as_other() -> None:
    metrics = Metrics()
    await MeteredGateway(ScriptedGateway("do_not_honor_4711"), metrics).charge(charge("a", "pm_x"))
    with pytest.raises(GatewayUnavailable):
        await MeteredGateway(ScriptedGateway(raises=GatewayUnavailable("down")), metrics).charge(charge("b", "pm_x"))

    assert value(metrics, "billing_payments_total", outcome="declined", reason="other") == 1
    assert value(metrics, "billing_payments_total", outcome="declined", reason="do_not_honor_4711") is None
    assert value(metrics, "billing_payments_total", outcome="unavailable", reason="") == 1


# -- the scheduler ---------------------------------------------------------------------------


@dataclass
class FakeCycle:
    """A billing cycle that counts its runs, or fails."""

    error: Exception | None = None
    runs: int = 0

    async def run(self) -> None:
        self.runs += 1
        if self.error is not None:
            raise self.error


async def test_scheduler_ticks_are_counted_by_outcome_and_runs_timed() -> None:
    metrics, lease, cycle = Metrics(), LocalLease(), FakeCycle()
    leader = Scheduler(cycle, lease, holder="leader", telemetry=metrics)  # type: ignore[arg-type]
    follower = Scheduler(cycle, lease, holder="follower", telemetry=metrics)  # type: ignore[arg-type]

    assert await leader.tick()
    assert not await follower.tick()
    cycle.error = RuntimeError("store down")
    with pytest.raises(RuntimeError):
        await leader.tick()

    assert cycle.runs == 2
    assert value(metrics, "billing_scheduler_runs_total", outcome="completed") == 1
    assert value(metrics, "billing_scheduler_runs_total", outcome="not_leader") == 1
    assert value(metrics, "billing_scheduler_runs_total", outcome="failed") == 1
    assert value(metrics, "billing_scheduler_run_duration_seconds_count") == 2  # the runs, not the lease check
    assert await lease.acquire(LEASE_NAME, "leader", 1)


# -- the projection runner's lag -------------------------------------------------------------


@dataclass
class Counting:
    """A projection of one event type that keeps nothing."""

    name: str = "counting"
    handles: frozenset[str] = frozenset({"thing.happened"})
    collections: Mapping[str, Sequence[Index]] = field(default_factory=dict)

    async def apply(self, event: RecordedEvent, view: View) -> None:
        pass


class GatedStore(InMemoryEventStore):
    """A store whose log reads wait for a gate: the runner has read the head but not the events."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.reading = asyncio.Event()

    async def read_all(
        self, after_position: int = 0, event_filter: EventFilter = EVERYTHING, limit: int = 1000
    ) -> list[RecordedEvent]:
        self.reading.set()
        await self.gate.wait()
        return await super().read_all(after_position, event_filter, limit)


async def test_the_runner_reports_how_far_each_projection_is_behind_the_head_it_read() -> None:
    store = GatedStore()
    runner = ProjectionRunner(store, InMemoryReadModels(), [Counting()], poll_interval=0.01)
    happened = tuple(NewEvent(type="thing.happened", payload={}, occurred_at=NOW) for _ in range(3))
    await store.append(StreamAppend("thing-1", 0, happened))
    assert runner.lag() == {"counting": 0}  # nothing read yet: nothing known

    await runner.start()
    try:
        await store.reading.wait()  # the head (3) is read, the events are not applied
        assert runner.lag() == {"counting": 3}

        store.gate.set()
        assert await runner.wait_until(3)
        assert runner.lag() == {"counting": 0}
    finally:
        await runner.stop()


# -- the endpoint ----------------------------------------------------------------------------


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[Metrics, MetricsEndpoint]]:
    metrics = Metrics()
    served = MetricsEndpoint(metrics.registry, "127.0.0.1:0")
    await served.start()
    try:
        yield metrics, served
    finally:
        await served.stop()


async def http(port: int, request: bytes) -> tuple[str, dict[str, str], str]:
    """Send one raw HTTP request; return the status line, headers and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.decode().partition("\r\n\r\n")
    status, *lines = head.split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return status, headers, body


async def test_the_endpoint_serves_the_registry_in_the_prometheus_text_format(
    endpoint: tuple[Metrics, MetricsEndpoint],
) -> None:
    metrics, served = endpoint
    metrics.usage_judged(5, 0, {})

    status, headers, body = await http(served.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n")

    assert status == "HTTP/1.1 200 OK"
    assert headers["Content-Type"].startswith("text/plain")
    assert int(headers["Content-Length"]) == len(body.encode())
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }
    assert samples[("billing_usage_events_total", (("reason", ""), ("result", "accepted")))] == 5


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found"),
        (b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 405 Method Not Allowed"),
        (b"hello\r\n\r\n", "HTTP/1.1 400 Bad Request"),
    ],
)
async def test_the_endpoint_serves_nothing_but_get_metrics(
    endpoint: tuple[Metrics, MetricsEndpoint], request_bytes: bytes, status: str
) -> None:
    _, served = endpoint
    assert (await http(served.port, request_bytes))[0] == status


async def test_a_stopped_endpoint_refuses_connections() -> None:
    served = MetricsEndpoint(Metrics().registry, "127.0.0.1:0")
    await served.start()
    port = served.port
    await served.stop()

    with pytest.raises(ConnectionError):
        await asyncio.open_connection("127.0.0.1", port)


@pytest.mark.parametrize("listen", ["9464", "localhost:", ":9464", "localhost:http", "localhost:70000"])
def test_the_endpoint_wants_host_and_port(listen: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        MetricsEndpoint(Metrics().registry, listen)


async def test_the_endpoint_serves_the_process_metrics_of_this_process() -> None:
    served = MetricsEndpoint(Metrics().registry, "127.0.0.1:0")
    await served.start()
    try:
        samples = await scrape(served.port)
    finally:
        await served.stop()
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds"):
        assert sample(samples, name) > 0, name
    assert any(name == "python_info" for name, _ in samples)


def test_the_metrics_listen_setting_is_off_by_default_and_validated() -> None:
    assert Settings.from_env({}).metrics_listen == ""
    assert Settings.from_env({"BILLING_METRICS_LISTEN": "0.0.0.0:9464"}).metrics_listen == "0.0.0.0:9464"
    with pytest.raises(ConfigurationError, match=r"^BILLING_METRICS_LISTEN: host:port"):
        Settings.from_env({"BILLING_METRICS_LISTEN": "9464"})


async def test_without_metrics_listen_the_app_counts_nothing_and_serves_no_endpoint() -> None:
    async with open_in_memory_app(Settings(key_hash_secret=SecretStr("s" * 32))) as app:
        assert app.metrics is None
        assert app.telemetry is NO_TELEMETRY
        server = create_server(app, "127.0.0.1:0")
        assert server.metrics is None and server.metrics_port is None
        await server.grpc_server.stop(0)


async def test_with_metrics_listen_the_app_meters_its_gateway_and_scheduler() -> None:
    settings = Settings(key_hash_secret=SecretStr("s" * 32), metrics_listen="127.0.0.1:0")
    async with open_in_memory_app(settings) as app:
        assert app.metrics is not None and app.telemetry is app.metrics
        assert app.scheduler.telemetry is app.metrics
        assert await app.scheduler.tick()
        assert value(app.metrics, "billing_scheduler_runs_total", outcome="completed") == 1
        assert await app.projections.wait_until(await app.store.head_position())
        lag = {p.name: 0.0 for p in app.projections.projections}
        assert {name: value(app.metrics, "billing_projection_lag_events", projection=name) for name in lag} == lag
