"""`billing-grpc serve` with BILLING_METRICS_LISTEN serves /metrics while it runs, and stops with it."""

from __future__ import annotations

import asyncio
import signal
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from billing_grpc.bootstrap import all_projections
from billing_grpc.embedded import free_port
from tests.integration.test_serve_process import serve

pytestmark = pytest.mark.slow

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(port: int) -> Samples:
    def get() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            return str(answer.read().decode())

    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(await asyncio.to_thread(get))
        for sample in family.samples
    }


async def test_serve_exposes_metrics_while_running_and_closes_the_endpoint_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    settings = {"BILLING_METRICS_LISTEN": f"127.0.0.1:{port}", "BILLING_SCHEDULER_CRON": "* * * * * */1"}
    async with serve(tmp_path, extra_env=settings) as server:
        samples = await scrape(port)
        # The health checks that waited for SERVING went through the interceptor.
        health = frozenset({("method", "/grpc.health.v1.Health/Check"), ("code", "OK")})
        assert samples[("billing_rpc_requests_total", health)] >= 1
        lags = {dict(labels)["projection"] for (name, labels) in samples if name == "billing_projection_lag_events"}
        assert lags == {projection.name for projection in all_projections()}

        # The cron ticks every second in the other process: poll until its first run is counted.
        completed = ("billing_scheduler_runs_total", frozenset({("outcome", "completed")}))
        deadline = asyncio.get_running_loop().time() + 30
        while samples[completed] < 1:
            assert asyncio.get_running_loop().time() < deadline, "no scheduler run counted in 30 s"
            await asyncio.sleep(0.2)
            samples = await scrape(port)
        assert samples[("billing_scheduler_run_duration_seconds_count", frozenset())] >= 1

        server.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.process.wait(), 30) == 0

    with pytest.raises(urllib.error.URLError):
        await scrape(port)
