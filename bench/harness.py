"""Run a real `billing-grpc serve` process for a benchmark and set up a metered catalogue on it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from billing.v1 import (
    catalogue_pb2,
    catalogue_pb2_grpc,
    identity_pb2,
    identity_pb2_grpc,
    organizations_pb2,
    organizations_pb2_grpc,
    subscriptions_pb2,
    subscriptions_pb2_grpc,
)
from billing_grpc.application.credentials import KeyHasher
from billing_grpc.embedded import free_port

ADMIN_KEY = KeyHasher(b"b" * 32).mint().token


@dataclass
class ServerProcess:
    """A running server process and how to reach it."""

    process: subprocess.Popen[bytes]
    address: str

    def rss_mb(self) -> float:
        """Resident memory now, in MiB."""
        return _status_kib(self.process.pid, "VmRSS") / 1024

    def peak_rss_mb(self) -> float:
        """Peak resident memory so far (VmHWM), in MiB."""
        return _status_kib(self.process.pid, "VmHWM") / 1024


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB (the store runs under a supervisor)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += _status_kib(current, "VmRSS")
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except OSError:  # it ended meanwhile
            continue
    return total / 1024


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


@contextmanager
def server(
    store: str, mongo_uri: str | None = None, extra_env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """Start `billing-grpc serve` on a free port with the given store (and settings); stop it afterwards."""
    with tempfile.TemporaryDirectory() as data:
        address = f"127.0.0.1:{free_port()}"
        env = {
            **os.environ,
            "BILLING_STORE": store,
            "BILLING_LISTEN": address,
            "BILLING_DATA_DIR": data,
            "BILLING_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
            "BILLING_LOG_LEVEL": "WARNING",
            "BILLING_DATABASE": f"bench_{int(time.time())}",
        }
        env.pop("MONGO_URI", None)
        if mongo_uri:
            env["MONGO_URI"] = mongo_uri
        env.update(extra_env or {})
        process = subprocess.Popen([sys.executable, "-m", "billing_grpc.cli", "serve"], env=env)
        try:
            asyncio.run(_wait_serving(address))
            yield ServerProcess(process, address)
        finally:
            process.terminate()
            process.wait(30)


async def _wait_serving(address: str) -> None:
    async with aio.insecure_channel(address) as channel:
        for _ in range(300):
            try:
                answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become SERVING")


@dataclass
class Catalogue:
    """What a benchmark's emitters need: organizations with a metered subscription, and a key."""

    organization_ids: list[str]
    subscription_ids: list[str]
    emitter_key: str
    meter_code: str = "api_calls"


async def set_up(address: str, organizations: int) -> Catalogue:
    """A sum meter, a plan charging it, `organizations` subscribed tenants, a platform emitter key."""
    admin = (("authorization", f"Bearer {ADMIN_KEY}"),)
    async with aio.insecure_channel(address) as channel:
        catalogue = catalogue_pb2_grpc.CatalogueServiceStub(channel)
        await catalogue.CreateMeter(
            catalogue_pb2.CreateMeterRequest(code="api_calls", name="API calls", aggregation="sum"), metadata=admin
        )
        plan = await catalogue.CreatePlan(
            catalogue_pb2.CreatePlanRequest(
                code="bench",
                name="Bench",
                currency="USD",
                interval_unit="month",
                base_fee_minor=1000,
                charges=[
                    catalogue_pb2.Charge(meter_code="api_calls", per_unit=catalogue_pb2.PerUnit(unit_price="0.1"))
                ],
            ),
            metadata=admin,
        )
        orgs = organizations_pb2_grpc.OrganizationServiceStub(channel)
        subscriptions = subscriptions_pb2_grpc.SubscriptionServiceStub(channel)
        organization_ids, subscription_ids = [], []
        for index in range(organizations):
            org = await orgs.CreateOrganization(
                organizations_pb2.CreateOrganizationRequest(name=f"Tenant {index}", currency="USD"), metadata=admin
            )
            organization_ids.append(org.organization.organization_id)
            started = await subscriptions.StartSubscription(
                subscriptions_pb2.StartSubscriptionRequest(
                    organization_id=org.organization.organization_id, plan_id=plan.plan.plan_id
                ),
                metadata=admin,
            )
            subscription_ids.append(started.subscription.subscription_id)
        users = identity_pb2_grpc.UserServiceStub(channel)
        emitter = await users.CreateUser(
            identity_pb2.CreateUserRequest(
                email="emitter@bench.local",
                name="Bench emitter",
                roles=[identity_pb2.RoleBinding(role="usage_emitter")],
            ),
            metadata=admin,
        )
        key = await identity_pb2_grpc.ApiKeyServiceStub(channel).IssueApiKey(
            identity_pb2.IssueApiKeyRequest(user_id=emitter.user.user_id, name="bench"), metadata=admin
        )
    return Catalogue(organization_ids, subscription_ids, key.key)
