"""First-start bootstrap of the platform admin, and serving over TLS and mutual TLS."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import SecretStr

from billing.v1 import organizations_pb2, organizations_pb2_grpc
from billing_grpc.api.server import create_server
from billing_grpc.application.credentials import KeyHasher
from billing_grpc.bootstrap import open_app
from billing_grpc.settings import Settings
from tests.e2e.conftest import TEST_KEY_HASH_SECRET, auth


def settings(mongo_uri: str, database: str, **extra: object) -> Settings:
    return Settings(
        mongo_uri=mongo_uri,
        database=database,
        listen="127.0.0.1:0",
        key_hash_secret=TEST_KEY_HASH_SECRET,
        **extra,  # type: ignore[arg-type]
    )


async def test_only_the_first_start_creates_an_admin_and_a_configured_key_is_used_as_given(
    mongo_uri: str, database_name: str
) -> None:
    configured = KeyHasher(b"x" * 32).mint().token  # any well-formed key
    config = settings(mongo_uri, database_name, bootstrap_admin_key=SecretStr(configured))
    async with open_app(config) as first:
        assert first.bootstrap is not None and first.bootstrap.token is None  # nothing to print
        await first.projections.wait_until(await first.store.head_position())
        server = create_server(first)
        await server.start()
        async with aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            created = await organizations_pb2_grpc.OrganizationServiceStub(channel).CreateOrganization(
                organizations_pb2.CreateOrganizationRequest(name="Acme", currency="USD"), metadata=auth(configured)
            )
            assert created.organization.name == "Acme"
        await server.stop(0)
        head = await first.store.head_position()

    async with open_app(settings(mongo_uri, database_name)) as second:
        assert second.bootstrap is None
        assert await second.store.head_position() == head
        admins = await second.read_models.find("users", {"email": "admin@billing-grpc.local"})
        assert len(admins) == 1
        await second.store._client.drop_database(database_name)  # type: ignore[attr-defined]


async def test_the_bootstrap_key_works_on_the_first_call_after_start(mongo_uri: str, database_name: str) -> None:
    """Found by `make demo` (its first call came right after SERVING): the key's read model was
    written by the projection runner a moment later, so the first call was refused
    `invalid_credentials`. An instance now serves only once its read models show the log."""
    configured = KeyHasher(b"y" * 32).mint().token
    async with open_app(settings(mongo_uri, database_name, bootstrap_admin_key=SecretStr(configured))) as app:
        principal = await app.authenticator.authenticate(f"Bearer {configured}")  # no wait_until first
        assert app.bootstrap is not None and principal.user_id == app.bootstrap.user_id
        await app.store._client.drop_database(database_name)  # type: ignore[attr-defined]


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all signed by the CA."""
    d = tmp_path_factory.mktemp("pki")
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        f"{d}/ca.key",
        "-out",
        f"{d}/ca.pem",
    )
    (d / "san.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name in ("server", "client"):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={name}",
            "-keyout",
            f"{d}/{name}.key",
            "-out",
            f"{d}/{name}.csr",
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{d}/{name}.csr",
            "-CA",
            f"{d}/ca.pem",
            "-CAkey",
            f"{d}/ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            f"{d}/san.cnf",
            "-out",
            f"{d}/{name}.pem",
        )
    return d


async def _health(port: int, credentials: grpc.ChannelCredentials) -> int:
    async with aio.secure_channel(f"localhost:{port}", credentials) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        return int(answer.status)


async def test_tls_and_mutual_tls(mongo_uri: str, database_name: str, pki: Path) -> None:
    ca = (pki / "ca.pem").read_bytes()
    client_key, client_cert = (pki / "client.key").read_bytes(), (pki / "client.pem").read_bytes()
    tls = {"tls_cert_file": pki / "server.pem", "tls_key_file": pki / "server.key"}

    async with open_app(settings(mongo_uri, database_name, **tls)) as app:
        server = create_server(app)
        await server.start()
        assert await _health(server.port, grpc.ssl_channel_credentials(ca)) == health_pb2.HealthCheckResponse.SERVING
        await server.stop(0)

        mutual_settings = settings(mongo_uri, database_name, tls_client_ca_file=pki / "ca.pem", **tls)
        mutual = create_server(dataclasses.replace(app, settings=mutual_settings))
        await mutual.start()
        with pytest.raises(aio.AioRpcError):  # no client certificate: the handshake fails
            await _health(mutual.port, grpc.ssl_channel_credentials(ca))
        with_cert = grpc.ssl_channel_credentials(ca, private_key=client_key, certificate_chain=client_cert)
        assert await _health(mutual.port, with_cert) == health_pb2.HealthCheckResponse.SERVING
        await mutual.stop(0)
        await app.store._client.drop_database(database_name)  # type: ignore[attr-defined]
