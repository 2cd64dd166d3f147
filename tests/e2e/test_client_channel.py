"""connect(): the key on every call kind, TLS, and gRPC retrying exactly the methods safe to repeat."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc import aio

from billing.v1 import event_log_pb2, organizations_pb2, organizations_pb2_grpc
from billing_grpc.client import BillingClient, connect
from tests.e2e.conftest import Running, start_running
from tests.integration.test_bootstrap_and_tls import pki  # noqa: F401 (a fixture)
from tests.rpc_errors import details_of


async def test_every_call_kind_carries_the_key(running: Running) -> None:
    async with BillingClient.connect(f"127.0.0.1:{running.server.port}", running.admin_token) as client:
        created = await client.organizations.CreateOrganization(  # unary
            organizations_pb2.CreateOrganizationRequest(name="Acme", currency="USD")
        )
        listed = await client.organizations.ListOrganizations(organizations_pb2.ListOrganizationsRequest())
        assert created.organization.organization_id in [o.organization_id for o in listed.organizations]
        read = client.events.ReadEvents(event_log_pb2.ReadEventsRequest(after_position=0))  # server stream
        positions = [answer.event.position async for answer in read]
        assert positions[:3] == [1, 2, 3]


async def test_a_wrong_key_is_refused_and_caller_metadata_cannot_replace_the_key(running: Running) -> None:
    async with BillingClient.connect(f"127.0.0.1:{running.server.port}", "bgk_0000000000000000_" + "x" * 43) as client:
        with pytest.raises(aio.AioRpcError) as refused:
            await client.organizations.ListOrganizations(
                organizations_pb2.ListOrganizationsRequest(),
                metadata=(("authorization", f"Bearer {running.admin_token}"),),  # the channel's key wins
            )
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert details_of(refused.value).reason == "invalid_credentials"
    with pytest.raises(ValueError, match="api_key"):
        connect("127.0.0.1:1", "")


async def test_tls_with_a_private_ca(mongo_uri: str, database_name: str, pki: Path) -> None:  # noqa: F811
    tls = {"tls_cert_file": pki / "server.pem", "tls_key_file": pki / "server.key"}
    async for running in start_running(mongo_uri, database_name, **tls):
        ca = (pki / "ca.pem").read_bytes()
        async with BillingClient.connect(
            f"localhost:{running.server.port}", running.admin_token, root_certificates=ca
        ) as client:
            listed = await client.organizations.ListOrganizations(organizations_pb2.ListOrganizationsRequest())
            assert listed is not None
        async with BillingClient.connect(f"localhost:{running.server.port}", running.admin_token) as plaintext:
            with pytest.raises(aio.AioRpcError) as refused:  # a plaintext client cannot talk to a TLS server
                await plaintext.organizations.ListOrganizations(organizations_pb2.ListOrganizationsRequest(), timeout=5)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


class FlakyOrganizations(organizations_pb2_grpc.OrganizationServiceServicer):
    """Answers UNAVAILABLE to the first `failures` calls of each method, then succeeds; counts calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: Counter[str] = Counter()
        self.keys: list[str] = []

    async def _attempt(self, name: str, context: aio.ServicerContext) -> None:
        self.calls[name] += 1
        self.keys.append(dict(context.invocation_metadata())["authorization"])
        if self.calls[name] <= self.failures:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "warming up")

    async def GetOrganization(
        self, request: organizations_pb2.GetOrganizationRequest, context: aio.ServicerContext
    ) -> organizations_pb2.GetOrganizationResponse:
        await self._attempt("GetOrganization", context)
        return organizations_pb2.GetOrganizationResponse()

    async def CreateOrganization(
        self, request: organizations_pb2.CreateOrganizationRequest, context: aio.ServicerContext
    ) -> organizations_pb2.CreateOrganizationResponse:
        await self._attempt("CreateOrganization", context)
        return organizations_pb2.CreateOrganizationResponse()


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[FlakyOrganizations, int]]:
    """A real gRPC server whose OrganizationService fails twice per method before answering."""
    servicer = FlakyOrganizations(failures=2)
    server = aio.server()
    organizations_pb2_grpc.add_OrganizationServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield servicer, port
    await server.stop(0)


async def test_reads_are_retried_on_unavailable_and_commands_without_a_key_are_not(
    flaky: tuple[FlakyOrganizations, int],
) -> None:
    servicer, port = flaky
    async with BillingClient.connect(f"127.0.0.1:{port}", "bgk_key") as client:
        await client.organizations.GetOrganization(organizations_pb2.GetOrganizationRequest(organization_id="o"))
        with pytest.raises(aio.AioRpcError) as failed:
            await client.organizations.CreateOrganization(organizations_pb2.CreateOrganizationRequest(name="A"))
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert servicer.calls == {"GetOrganization": 3, "CreateOrganization": 1}  # two retries; none
    assert set(servicer.keys) == {"Bearer bgk_key"}  # every attempt authenticated
