"""The gRPC server: create_server() builds it, serve() runs it until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass

import grpc
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from billing.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    billing_pb2,
    billing_pb2_grpc,
    catalogue_pb2,
    catalogue_pb2_grpc,
    entitlements_pb2,
    entitlements_pb2_grpc,
    event_log_pb2,
    event_log_pb2_grpc,
    identity_pb2,
    identity_pb2_grpc,
    organizations_pb2,
    organizations_pb2_grpc,
    subscriptions_pb2,
    subscriptions_pb2_grpc,
    usage_pb2,
    usage_pb2_grpc,
)
from billing_grpc.api.audit import AuditServicer
from billing_grpc.api.auth import AuthInterceptor
from billing_grpc.api.billing import BillingServicer, InvoiceServicer
from billing_grpc.api.catalogue import CatalogueServicer
from billing_grpc.api.entitlements import EntitlementServicer
from billing_grpc.api.event_log import EventLogServicer
from billing_grpc.api.identity import ApiKeyServicer, UserServicer
from billing_grpc.api.interceptors import RequestInterceptor
from billing_grpc.api.organizations import OrganizationServicer
from billing_grpc.api.reflection import enable_reflection
from billing_grpc.api.store_health import follow_store
from billing_grpc.api.subscriptions import SubscriptionServicer
from billing_grpc.api.usage import UsageServicer
from billing_grpc.bootstrap import App, open_app, open_in_memory_app
from billing_grpc.exclusive import PortInUse, check_port_free
from billing_grpc.observability.endpoint import MetricsEndpoint
from billing_grpc.settings import Settings

log = logging.getLogger(__name__)

# How often a worker looks whether the process that started it is still there.
ORPHAN_CHECK_SECONDS = 1.0

SERVICE_NAMES = tuple(
    service.full_name
    for module in (
        event_log_pb2,
        organizations_pb2,
        identity_pb2,
        catalogue_pb2,
        subscriptions_pb2,
        usage_pb2,
        billing_pb2,
        audit_pb2,
        entitlements_pb2,
    )
    for service in module.DESCRIPTOR.services_by_name.values()
)


@dataclass
class Server:
    """A created gRPC server with its health service and the port it is bound to.

    With metrics on, it also serves `/metrics` over HTTP: started after the gRPC server and
    stopped after it, so the drain's last calls are still counted and scrapeable.
    """

    grpc_server: aio.Server
    health: health.aio.HealthServicer
    port: int
    metrics: MetricsEndpoint | None = None

    @property
    def metrics_port(self) -> int | None:
        """The bound port of the metrics endpoint (None when metrics are off or not started)."""
        return self.metrics.port if self.metrics is not None and self.metrics.started else None

    async def start(self) -> None:
        """Start serving and report SERVING for the server and each service."""
        await self.grpc_server.start()
        if self.metrics is not None:
            await self.metrics.start()
        await self.set_serving(True)

    async def set_serving(self, serving: bool) -> None:
        """Report SERVING or NOT_SERVING for the server and each service (ignored once stopping)."""
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, status)

    async def stop(self, grace: float) -> None:
        """Report NOT_SERVING, refuse new calls, and give in-flight calls `grace` seconds."""
        await self.health.enter_graceful_shutdown()
        await self.grpc_server.stop(grace)
        if self.metrics is not None:
            await self.metrics.stop()


@dataclass(frozen=True)
class Worker:
    """This server is worker `index` (from 0) of `count` that share one port (`serve --workers`)."""

    index: int
    count: int
    # The process that started the workers: a worker stops when it is gone.
    parent_pid: int


def server_options(settings: Settings, *, reuse_port: bool = False) -> list[tuple[str, int]]:
    """Channel arguments: message size limits, keepalive, and whether the port may be shared.

    gRPC sets SO_REUSEPORT unless told not to, and a second server on a busy port then binds
    too and takes a share of its connections: the port is exclusive unless `reuse_port`.
    """
    return [
        ("grpc.so_reuseport", int(reuse_port)),
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.keepalive_time_ms", settings.keepalive_seconds * 1000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ]


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS credentials when a certificate is configured; client certificates required with a CA."""
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    ca = settings.tls_client_ca_file.read_bytes() if settings.tls_client_ca_file else None
    return grpc.ssl_server_credentials(
        [(settings.tls_key_file.read_bytes(), settings.tls_cert_file.read_bytes())],
        root_certificates=ca,
        require_client_auth=ca is not None,
    )


def create_server(app: App, listen: str | None = None, *, reuse_port: bool = False) -> Server:
    """Build the server with every service, health and reflection, bound to `listen`.

    Raises `PortInUse` when the address cannot be bound (shared only with `reuse_port`).
    """
    # Order matters: the request interceptor is outermost, so it maps authentication errors too.
    grpc_server = aio.server(
        interceptors=[RequestInterceptor(app.telemetry), AuthInterceptor(app.authenticator)],
        options=server_options(app.settings, reuse_port=reuse_port),
    )
    event_log_pb2_grpc.add_EventLogServiceServicer_to_server(EventLogServicer(app.store), grpc_server)
    organizations_pb2_grpc.add_OrganizationServiceServicer_to_server(OrganizationServicer(app), grpc_server)
    identity_pb2_grpc.add_UserServiceServicer_to_server(UserServicer(app), grpc_server)
    identity_pb2_grpc.add_ApiKeyServiceServicer_to_server(ApiKeyServicer(app), grpc_server)
    catalogue_pb2_grpc.add_CatalogueServiceServicer_to_server(CatalogueServicer(app), grpc_server)
    subscriptions_pb2_grpc.add_SubscriptionServiceServicer_to_server(SubscriptionServicer(app), grpc_server)
    usage_pb2_grpc.add_UsageServiceServicer_to_server(UsageServicer(app), grpc_server)
    billing_pb2_grpc.add_BillingServiceServicer_to_server(BillingServicer(app), grpc_server)
    billing_pb2_grpc.add_InvoiceServiceServicer_to_server(InvoiceServicer(app), grpc_server)
    entitlements_pb2_grpc.add_EntitlementServiceServicer_to_server(EntitlementServicer(app), grpc_server)
    audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditServicer(app), grpc_server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, grpc_server)
    enable_reflection((*SERVICE_NAMES, health.SERVICE_NAME), grpc_server)
    address = listen or app.settings.listen
    credentials = server_credentials(app.settings)
    try:
        port = (
            grpc_server.add_secure_port(address, credentials) if credentials else grpc_server.add_insecure_port(address)
        )
    except RuntimeError:  # gRPC's "Failed to bind to address …"
        port = 0
    if port == 0:
        raise PortInUse(f"cannot listen on {address}: in use by another process, or not an address of this host")
    metrics = MetricsEndpoint(app.metrics.registry, app.settings.metrics_listen) if app.metrics else None
    return Server(grpc_server=grpc_server, health=health_servicer, port=port, metrics=metrics)


async def serve(settings: Settings, worker: Worker | None = None) -> None:
    """Run the server until SIGINT or SIGTERM, then drain calls and stop everything in order.

    A busy port is refused (`PortInUse`) before anything starts. A `worker` shares its port
    with its siblings (SO_REUSEPORT) and also stops when the process that started it is gone.
    """
    if worker is None:
        check_port_free(settings.listen)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    orphaned = None if worker is None else asyncio.create_task(_stop_when_orphaned(worker.parent_pid, stopping))
    opener = open_in_memory_app if settings.store == "memory" else open_app
    async with opener(settings) as app:
        server = create_server(app, reuse_port=worker is not None)
        await server.start()
        if settings.scheduler:
            app.scheduler.start()
        log.info(
            "serving",
            extra={
                "listen": settings.listen,
                "port": server.port,
                "tls": bool(settings.tls_cert_file),
                "metrics_port": server.metrics_port,
                "pid": os.getpid(),
                **({} if worker is None else {"worker": worker.index, "workers": worker.count}),
            },
        )
        of = "" if worker is None else f" (worker {worker.index + 1} of {worker.count}, pid {os.getpid()})"
        print(f"billing-grpc listening on {settings.listen}{of}", flush=True)
        if app.bootstrap is not None and app.bootstrap.token is not None:
            # Printed, never logged: this is the only time the key exists outside its holder.
            print(
                f"First start: platform admin API key (shown once, store it now):\n  {app.bootstrap.token}",
                flush=True,
            )
        store_health = asyncio.create_task(follow_store(app.store, server.set_serving))
        await stopping.wait()
        log.info("shutting down", extra={"grace_seconds": settings.shutdown_grace_seconds})
        store_health.cancel()
        await server.stop(settings.shutdown_grace_seconds)
    if orphaned is not None:
        orphaned.cancel()
    log.info("stopped")


async def _stop_when_orphaned(parent_pid: int, stopping: asyncio.Event) -> None:
    """Set `stopping` once our parent is gone (we were re-parented), e.g. after its kill -9."""
    while os.getppid() == parent_pid:
        try:
            await asyncio.wait_for(stopping.wait(), ORPHAN_CHECK_SECONDS)
            return
        except TimeoutError:
            pass
    log.warning("the process that started this worker is gone; stopping", extra={"parent_pid": parent_pid})
    stopping.set()
