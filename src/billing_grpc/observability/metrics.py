"""Prometheus metrics: the telemetry port kept in counters, histograms and gauges.

Each `Metrics` owns its own `CollectorRegistry`, never prometheus_client's global one, so
several applications in one process (tests, an embedding) count separately and never collide
on metric names.

Each registry also carries prometheus_client's process and platform collectors (CPU seconds,
resident memory, open file descriptors, start time; the Python version), what every Prometheus
client exports from its global registry and a per-app registry would otherwise lose.

Labels are bounded: RPC methods are the registered ones (the interceptor only sees calls that
found a handler), status codes, outcomes and reasons are fixed vocabularies. No id is ever a
label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, PlatformCollector, ProcessCollector
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from billing_grpc.application.telemetry import PaymentOutcome, SchedulerOutcome

# Unary calls take milliseconds; streams (StreamUsage, ReadEvents following the log) live up to
# BILLING_MAX_STREAM_SECONDS, so the buckets reach an hour.
RPC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
# A billing run takes from milliseconds (nothing due) to minutes (a month end on a large tenant base).
SCHEDULER_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)

ProjectionLag = Callable[[], Mapping[str, int]]


class Metrics:
    """The server's metrics in one registry; implements the `Telemetry` port."""

    def __init__(self, projection_lag: ProjectionLag | None = None) -> None:
        self.registry = CollectorRegistry()
        # process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds, … (read from
        # /proc at scrape time) and python_info: a dashboard's "is it leaking, is it busy" panels.
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.rpc_requests = Counter(
            "billing_rpc_requests",
            "RPCs handled, by method and final gRPC status code.",
            ["method", "code"],
            registry=self.registry,
        )
        self.rpc_duration = Histogram(
            "billing_rpc_duration_seconds",
            "Time from an RPC's start to its status, by method (streams: the whole stream).",
            ["method"],
            buckets=RPC_BUCKETS,
            registry=self.registry,
        )
        self.usage_events = Counter(
            "billing_usage_events",
            "Usage events answered, by result (accepted, duplicate, rejected) and rejection reason.",
            ["result", "reason"],
            registry=self.registry,
        )
        self.payments = Counter(
            "billing_payments",
            "Payment gateway answers, by outcome and decline code.",
            ["outcome", "reason"],
            registry=self.registry,
        )
        self.scheduler_runs = Counter(
            "billing_scheduler_runs",
            "Scheduler ticks, by outcome (completed, failed, not_leader, overlapped).",
            ["outcome"],
            registry=self.registry,
        )
        self.scheduler_duration = Histogram(
            "billing_scheduler_run_duration_seconds",
            "Duration of the billing runs the scheduler started (lease held).",
            buckets=SCHEDULER_BUCKETS,
            registry=self.registry,
        )
        # Known label values start at 0, so a rate() or an alert sees them before the first event.
        self._accepted = self.usage_events.labels("accepted", "")
        self._duplicates = self.usage_events.labels("duplicate", "")
        # `labels()` costs more than the increment itself; calls repeat few (method, code) pairs.
        self._rpc_children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        self.payments.labels(PaymentOutcome.CAPTURED.value, "")
        for outcome in SchedulerOutcome:
            self.scheduler_runs.labels(outcome.value)
        if projection_lag is not None:
            self.registry.register(_ProjectionLagCollector(projection_lag))

    def rpc_finished(self, method: str, code: str, seconds: float) -> None:
        """Count the call and observe its duration."""
        children = self._rpc_children.get((method, code))
        if children is None:
            children = self._rpc_children[(method, code)] = (
                self.rpc_requests.labels(method, code),
                self.rpc_duration.labels(method),
            )
        count, duration = children
        count.inc()
        duration.observe(seconds)

    def usage_judged(self, accepted: int, duplicates: int, rejected: Mapping[str, int]) -> None:
        """Add one batch's counts (a handful of increments per batch, whatever its size)."""
        if accepted:
            self._accepted.inc(accepted)
        if duplicates:
            self._duplicates.inc(duplicates)
        for reason, count in rejected.items():
            self.usage_events.labels("rejected", reason).inc(count)

    def payment_answered(self, outcome: PaymentOutcome, reason: str) -> None:
        """Count one gateway answer."""
        self.payments.labels(outcome.value, reason).inc()

    def scheduler_ticked(self, outcome: SchedulerOutcome, seconds: float | None) -> None:
        """Count the tick; observe the run's duration when one ran."""
        self.scheduler_runs.labels(outcome.value).inc()
        if seconds is not None:
            self.scheduler_duration.observe(seconds)


class _ProjectionLagCollector(Collector):
    """`billing_projection_lag_events`, read from the projection runner at scrape time.

    The runner already knows the head it last read and how far each projection got, so the
    gauge costs nothing between scrapes and no store call at a scrape.
    """

    NAME = "billing_projection_lag_events"
    HELP = "Log positions between the newest head the projection runner read and each projection's progress."

    def __init__(self, lag: ProjectionLag) -> None:
        self._lag = lag

    def describe(self) -> Iterable[Metric]:
        """The metric's name (for the registry's duplicate check), without reading the runner."""
        return [GaugeMetricFamily(self.NAME, self.HELP, labels=["projection"])]

    def collect(self) -> Iterable[Metric]:
        """One sample per projection."""
        family = GaugeMetricFamily(self.NAME, self.HELP, labels=["projection"])
        for projection, behind in sorted(self._lag().items()):
            family.add_metric([projection], behind)
        return [family]
