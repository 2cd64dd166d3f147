"""BillingClient: one channel and a typed stub for every service."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any, cast

from grpc import aio

from billing.v1 import (
    audit_pb2_grpc,
    billing_pb2_grpc,
    catalogue_pb2_grpc,
    entitlements_pb2_grpc,
    event_log_pb2_grpc,
    identity_pb2_grpc,
    organizations_pb2_grpc,
    subscriptions_pb2_grpc,
    usage_pb2_grpc,
)
from billing_grpc.client.channel import connect
from billing_grpc.client.emitter import UsageEmitter


@dataclass(frozen=True)
class BillingClient:
    """A channel to one server and its services' stubs (request and response types are typed)."""

    channel: aio.Channel
    organizations: organizations_pb2_grpc.OrganizationServiceAsyncStub
    users: identity_pb2_grpc.UserServiceAsyncStub
    api_keys: identity_pb2_grpc.ApiKeyServiceAsyncStub
    catalogue: catalogue_pb2_grpc.CatalogueServiceAsyncStub
    subscriptions: subscriptions_pb2_grpc.SubscriptionServiceAsyncStub
    usage: usage_pb2_grpc.UsageServiceAsyncStub
    billing: billing_pb2_grpc.BillingServiceAsyncStub
    invoices: billing_pb2_grpc.InvoiceServiceAsyncStub
    entitlements: entitlements_pb2_grpc.EntitlementServiceAsyncStub
    events: event_log_pb2_grpc.EventLogServiceAsyncStub
    audit: audit_pb2_grpc.AuditServiceAsyncStub

    @classmethod
    def on(cls, channel: aio.Channel) -> BillingClient:
        """Stubs over an existing channel (one from `connect`, or any channel you configured)."""
        # The generated stubs are asyncio stubs on an aio channel; their .pyi says so by overload,
        # which mypy cannot pick while grpc itself is untyped here.
        return cls(
            channel,
            cast(Any, organizations_pb2_grpc.OrganizationServiceStub(channel)),
            cast(Any, identity_pb2_grpc.UserServiceStub(channel)),
            cast(Any, identity_pb2_grpc.ApiKeyServiceStub(channel)),
            cast(Any, catalogue_pb2_grpc.CatalogueServiceStub(channel)),
            cast(Any, subscriptions_pb2_grpc.SubscriptionServiceStub(channel)),
            cast(Any, usage_pb2_grpc.UsageServiceStub(channel)),
            cast(Any, billing_pb2_grpc.BillingServiceStub(channel)),
            cast(Any, billing_pb2_grpc.InvoiceServiceStub(channel)),
            cast(Any, entitlements_pb2_grpc.EntitlementServiceStub(channel)),
            cast(Any, event_log_pb2_grpc.EventLogServiceStub(channel)),
            cast(Any, audit_pb2_grpc.AuditServiceStub(channel)),
        )

    @classmethod
    def connect(cls, target: str, api_key: str, **channel: Any) -> BillingClient:
        """Open a channel with `connect(target, api_key, **channel)` and wrap it."""
        return cls.on(connect(target, api_key, **channel))

    def usage_emitter(self, **options: Any) -> UsageEmitter:
        """A UsageEmitter on this client's channel (options as for `UsageEmitter.on`)."""
        return UsageEmitter.on(self.channel, **options)

    async def close(self) -> None:
        """Close the channel; calls still running are cancelled."""
        await self.channel.close()

    async def __aenter__(self) -> BillingClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()
