"""The gRPC server: create_server() builds it, serve() runs it until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from billing.v1 import event_log_pb2, event_log_pb2_grpc
from billing_grpc.api.event_log import EventLogServicer
from billing_grpc.api.interceptors import RequestInterceptor
from billing_grpc.bootstrap import App, open_app
from billing_grpc.settings import Settings

log = logging.getLogger(__name__)

SERVICE_NAMES = (event_log_pb2.DESCRIPTOR.services_by_name["EventLogService"].full_name,)


@dataclass
class Server:
    """A created gRPC server with its health service and the port it is bound to."""

    grpc_server: aio.Server
    health: health.aio.HealthServicer
    port: int

    async def start(self) -> None:
        """Start serving and report SERVING for the server and each service."""
        await self.grpc_server.start()
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float) -> None:
        """Report NOT_SERVING, refuse new calls, and give in-flight calls `grace` seconds."""
        await self.health.enter_graceful_shutdown()
        await self.grpc_server.stop(grace)


def server_options(settings: Settings) -> list[tuple[str, int]]:
    """Channel arguments: message size limits and keepalive."""
    return [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.keepalive_time_ms", settings.keepalive_seconds * 1000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ]


def create_server(app: App, listen: str | None = None) -> Server:
    """Build the server with every service, health and reflection, bound to `listen`."""
    grpc_server = aio.server(interceptors=[RequestInterceptor()], options=server_options(app.settings))
    event_log_pb2_grpc.add_EventLogServiceServicer_to_server(EventLogServicer(app.store), grpc_server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, grpc_server)
    reflection.enable_server_reflection((*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), grpc_server)
    port = grpc_server.add_insecure_port(listen or app.settings.listen)
    if port == 0:
        raise RuntimeError(f"cannot listen on {listen or app.settings.listen}")
    return Server(grpc_server=grpc_server, health=health_servicer, port=port)


async def serve(settings: Settings) -> None:
    """Run the server until SIGINT or SIGTERM, then drain calls and stop everything in order."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    async with open_app(settings) as app:
        server = create_server(app)
        await server.start()
        log.info("serving", extra={"listen": settings.listen, "port": server.port})
        print(f"billing-grpc listening on {settings.listen}", flush=True)
        await stopping.wait()
        log.info("shutting down", extra={"grace_seconds": settings.shutdown_grace_seconds})
        await server.stop(settings.shutdown_grace_seconds)
    log.info("stopped")
