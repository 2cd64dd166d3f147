"""`billing-grpc serve`: one server process, or `--workers N` processes sharing one port.

gRPC Python serves a process's calls on one core (the GIL); its documented way to use several
is several processes, each with its own server bound with SO_REUSEPORT to the same port, the
kernel spreading incoming connections over them. That is what `--workers N` does, and the only
case where the port is shared. Each worker is a full server instance on the one store: the
parent starts the embedded store (holding the data folder) when MONGO_URI is unset and hands
its address to the workers, then supervises them. Workers compete for the scheduler lease and
the projection checkpoints exactly as separate instances do (see docs/operations.md, Serving).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Sequence

from billing_grpc.api import server
from billing_grpc.api.server import Worker
from billing_grpc.bootstrap import embedded_store
from billing_grpc.exclusive import Unavailable, check_port_free, exit_status, split_address
from billing_grpc.logs import configure_logging
from billing_grpc.observability.endpoint import split_listen
from billing_grpc.settings import Settings, key_hash_secret

log = logging.getLogger(__name__)

# Exit status of a refused combination of settings: EX_CONFIG, as for invalid configuration.
EX_CONFIG = 78
# On top of the drain's grace: how long a stopping worker may take to close its store client.
STOP_MARGIN_SECONDS = 15.0


class WorkersRefused(Unavailable):
    """`--workers N` with settings that one process's state depends on."""

    exit_code = EX_CONFIG


async def run_serve(settings: Settings, workers: int = 1) -> int:
    """`billing-grpc serve [--workers N]`: serve until SIGINT/SIGTERM; the exit status.

    Raises `Unavailable` (one line) for a busy port, a held data folder or refused settings.
    """
    if workers <= 1:
        await server.serve(settings)  # through the module: tests replace it
        return 0
    return await serve_workers(settings, workers)


def check_workers(settings: Settings) -> None:
    """Refuse (`WorkersRefused`) what N processes on one port cannot share."""
    address = split_address(settings.listen)
    if address is not None and address[1] == 0:
        raise WorkersRefused("--workers needs a fixed port to share (BILLING_LISTEN or --listen host:port, not :0)")
    if settings.store == "memory":
        raise WorkersRefused("--workers needs a shared store: each worker would have its own BILLING_STORE=memory")
    if settings.test_clock is not None:
        raise WorkersRefused("--workers cannot share a test clock (BILLING_TEST_CLOCK is one process's)")


def worker_settings(settings: Settings, index: int, mongo_uri: str) -> Settings:
    """Worker `index`'s settings: the shared store, and its own metrics port (port + index)."""
    update: dict[str, object] = {"mongo_uri": mongo_uri}
    if settings.metrics_listen:
        host, port = split_listen(settings.metrics_listen)
        if port != 0:
            bracketed = f"[{host}]" if ":" in host else host
            update["metrics_listen"] = f"{bracketed}:{port + index}"
    return settings.model_copy(update=update)


async def serve_workers(settings: Settings, workers: int) -> int:
    """Start `workers` server processes on one port and supervise them until SIGINT/SIGTERM.

    A worker that exits on its own stops the rest; the status is then the worker's (or 1).
    """
    check_workers(settings)
    check_port_free(settings.listen)
    with contextlib.ExitStack() as stack:
        uri = settings.mongo_uri
        if uri is None:
            holder = f"billing-grpc serve --workers {workers}"
            uri = await asyncio.to_thread(stack.enter_context, embedded_store(settings, holder))
        # Created once here when unset: workers reading it at once would race to create it.
        key_hash_secret(settings)
        return await _supervise(settings, workers, uri)
    raise AssertionError("unreachable")  # mypy: an ExitStack may swallow exceptions


async def _supervise(settings: Settings, count: int, uri: str) -> int:
    loop = asyncio.get_running_loop()
    stop, exited = asyncio.Event(), asyncio.Event()
    # Fresh interpreters, not forks: gRPC must not be forked once it runs, and each worker
    # builds its own server and store client.
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(
            target=worker_main,
            args=(worker_settings(settings, index, uri), Worker(index, count, os.getpid()), gc.get_threshold()),
            name=f"billing-grpc-worker-{index}",
        )
        for index in range(count)
    ]
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C reaches the workers too; they drain
        loop.add_signal_handler(signum, stop.set)
    try:
        for process in processes:
            process.start()
            loop.add_reader(process.sentinel, exited.set)  # readable once the process has ended
        pids = [p.pid for p in processes]
        log.info("workers started", extra={"workers": count, "pids": pids, "listen": settings.listen})
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(exited.wait())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()
        failed = [p for p in processes if not p.is_alive()] if not stop.is_set() else []
        for process in processes:
            loop.remove_reader(process.sentinel)
        await asyncio.to_thread(_stop_all, processes, settings.shutdown_grace_seconds + STOP_MARGIN_SECONDS)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    if failed:
        code = failed[0].exitcode or 1
        log.error("worker exited; stopped the others", extra={"pid": failed[0].pid, "exit_code": code})
        return code if code > 0 else 1
    return 0 if all(p.exitcode == 0 for p in processes) else 1


def _stop_all(processes: Sequence[multiprocessing.process.BaseProcess], timeout: float) -> None:
    """SIGTERM every worker still running (each drains its calls), then wait; kill stragglers."""
    for process in processes:
        if process.is_alive() and process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(deadline - time.monotonic(), 0))
        if process.is_alive():
            log.warning("worker did not stop in time; killing it", extra={"pid": process.pid})
            process.kill()
            process.join()


def worker_main(settings: Settings, worker: Worker, gc_thresholds: tuple[int, int, int]) -> None:
    """A worker process: one full server on the shared port until SIGTERM (or its parent is gone)."""
    configure_logging(settings.log_level, settings.log_format)
    gc.set_threshold(*gc_thresholds)

    def run() -> int:
        asyncio.run(server.serve(settings, worker))
        return 0

    raise SystemExit(exit_status(run))
