"""The channel factory: authentication on every call, TLS, retries, keepalive and message limits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from grpc import aio

from billing_grpc import __version__
from billing_grpc.client.retries import service_config

# The server's own limit (BILLING_MAX_MESSAGE_BYTES, 16 MiB by default): a 5,000-event batch with
# properties can pass gRPC's 4 MiB default.
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# gRPC servers accept a client ping at most every 5 minutes when no data flows (the default of
# grpc.http2.min_recv_ping_interval_without_data_ms, which billing-grpc keeps) and answer faster
# ones with GOAWAY `too_many_pings`. Pinging at that interval still finds a dead peer on a quiet
# connection, where TCP alone may take hours; a busy connection needs no pings.
KEEPALIVE_TIME_MS = 300_000
KEEPALIVE_TIMEOUT_MS = 20_000
# Reconnect soon after a server restart (gRPC's default starts at 1 s and grows to 120 s).
INITIAL_RECONNECT_BACKOFF_MS = 250
MAX_RECONNECT_BACKOFF_MS = 5_000


def channel_options(max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> list[tuple[str, Any]]:
    """Channel arguments: the retry policy, keepalive the server accepts, reconnect backoff, limits."""
    return [
        ("grpc.service_config", service_config()),
        ("grpc.enable_retries", 1),
        ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
        ("grpc.keepalive_permit_without_calls", 0),
        ("grpc.initial_reconnect_backoff_ms", INITIAL_RECONNECT_BACKOFF_MS),
        ("grpc.max_reconnect_backoff_ms", MAX_RECONNECT_BACKOFF_MS),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.primary_user_agent", f"billing-grpc-client/{__version__}"),
    ]


class _Bearer:
    """The `authorization: Bearer <key>` header every billing-grpc call needs."""

    def __init__(self, api_key: str) -> None:
        if not api_key or any(c.isspace() for c in api_key):
            raise ValueError("api_key must be a non-empty key without whitespace (a bgk_… key)")
        self._header = ("authorization", f"Bearer {api_key}")

    def _with_key(self, details: aio.ClientCallDetails) -> aio.ClientCallDetails:
        pairs = [(k, v) for k, v in (details.metadata or ()) if k != "authorization"]
        return details._replace(metadata=aio.Metadata(*pairs, self._header))


class _UnaryUnaryBearer(_Bearer, aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(self, continuation: Any, details: aio.ClientCallDetails, request: Any) -> Any:
        return await continuation(self._with_key(details), request)


class _UnaryStreamBearer(_Bearer, aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_stream(self, continuation: Any, details: aio.ClientCallDetails, request: Any) -> Any:
        return await continuation(self._with_key(details), request)


class _StreamUnaryBearer(_Bearer, aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_unary(self, continuation: Any, details: aio.ClientCallDetails, requests: Any) -> Any:
        return await continuation(self._with_key(details), requests)


class _StreamStreamBearer(_Bearer, aio.StreamStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_stream(self, continuation: Any, details: aio.ClientCallDetails, requests: Any) -> Any:
        return await continuation(self._with_key(details), requests)


def bearer_auth(api_key: str) -> list[Any]:
    """Client interceptors adding `authorization: Bearer <key>` to every call, plaintext or TLS.

    Interceptors rather than call credentials: gRPC sends call credentials on secure channels only,
    and the development server listens in plaintext. One per call kind, because grpc.aio files an
    interceptor under the first kind it implements only.
    """
    return [kind(api_key) for kind in (_UnaryUnaryBearer, _UnaryStreamBearer, _StreamUnaryBearer, _StreamStreamBearer)]


def connect(
    target: str,
    api_key: str,
    *,
    root_certificates: bytes | None = None,
    private_key: bytes | None = None,
    certificate_chain: bytes | None = None,
    tls: bool | None = None,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    options: Sequence[tuple[str, Any]] = (),
) -> aio.Channel:
    """An asyncio channel to a billing-grpc server that authenticates every call with `api_key`.

    TLS is used when certificates are given (`root_certificates` to trust a private CA, plus
    `private_key` and `certificate_chain` for mutual TLS) or `tls=True` (the system's roots);
    otherwise plaintext, for a server on localhost. `options` are extra channel arguments; one
    named like a default replaces it. Call it inside the event loop that will use the channel.
    """
    use_tls = tls if tls is not None else any(x is not None for x in (root_certificates, certificate_chain))
    if not use_tls and (root_certificates or private_key or certificate_chain):
        raise ValueError("certificates were given with tls=False")
    if (private_key is None) != (certificate_chain is None):
        raise ValueError("mutual TLS needs both private_key and certificate_chain")
    arguments = list({**dict(channel_options(max_message_bytes)), **dict(options)}.items())
    interceptors = bearer_auth(api_key)
    if use_tls:
        credentials = grpc.ssl_channel_credentials(root_certificates, private_key, certificate_chain)
        return aio.secure_channel(target, credentials, options=arguments, interceptors=interceptors)
    return aio.insecure_channel(target, options=arguments, interceptors=interceptors)
