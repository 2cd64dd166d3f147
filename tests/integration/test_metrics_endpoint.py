"""`billing-grpc serve` with BILLING_METRICS_LISTEN serves /metrics while it runs, and stops with it."""

from __future__ import annotations

import asyncio
import signal
import urllib.error
from pathlib import Path

import pytest

from billing_grpc.bootstrap import all_projections
from billing_grpc.embedded import free_port
from tests.integration.test_serve_process import serve
from tests.prometheus_scrape import sample, scrape

pytestmark = pytest.mark.slow


async def test_serve_exposes_metrics_while_running_and_closes_the_endpoint_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    settings = {"BILLING_METRICS_LISTEN": f"127.0.0.1:{port}", "BILLING_SCHEDULER_CRON": "* * * * * */1"}
    async with serve(tmp_path, extra_env=settings) as server:
        samples = await scrape(port)
        # The health checks that waited for SERVING went through the interceptor.
        health = {"method": "/grpc.health.v1.Health/Check", "code": "OK"}
        assert sample(samples, "billing_rpc_requests_total", **health) >= 1
        # The server process's own gauges, beside the engine's: what a dashboard's health panels plot.
        assert sample(samples, "process_cpu_seconds_total") > 0
        assert sample(samples, "process_resident_memory_bytes") > 10 * 2**20  # a Python gRPC server
        assert sample(samples, "process_open_fds") >= 3  # at least the listening sockets and stdio
        assert sample(samples, "process_start_time_seconds") > 0
        lags = {dict(labels)["projection"] for (name, labels) in samples if name == "billing_projection_lag_events"}
        assert lags == {projection.name for projection in all_projections()}

        # The cron ticks every second in the other process: poll until its first run is counted.
        deadline = asyncio.get_running_loop().time() + 30
        while sample(samples, "billing_scheduler_runs_total", outcome="completed") < 1:
            assert asyncio.get_running_loop().time() < deadline, "no scheduler run counted in 30 s"
            await asyncio.sleep(0.2)
            samples = await scrape(port)
        assert sample(samples, "billing_scheduler_run_duration_seconds_count") >= 1

        server.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.process.wait(), 30) == 0

    with pytest.raises(urllib.error.URLError):
        await scrape(port)
