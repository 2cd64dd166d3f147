"""The generated stubs the tour calls, and reading a paged listing to its end."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from grpc import aio

from billing.v1 import (
    billing_pb2_grpc,
    catalogue_pb2_grpc,
    organizations_pb2_grpc,
    subscriptions_pb2_grpc,
    usage_pb2_grpc,
)

Item = TypeVar("Item")


async def every_page(page: Callable[[str], Awaitable[tuple[Sequence[Item], str]]]) -> list[Item]:
    """Every item of a paged listing: `page(token)` gives one page and the next token ("" at the end)."""
    items: list[Item] = []
    token = ""
    while True:
        found, token = await page(token)
        items.extend(found)
        if not token:
            return items


@dataclass
class Stubs:
    """The services the tour calls."""

    organizations: organizations_pb2_grpc.OrganizationServiceStub
    catalogue: catalogue_pb2_grpc.CatalogueServiceStub
    subscriptions: subscriptions_pb2_grpc.SubscriptionServiceStub
    usage: usage_pb2_grpc.UsageServiceStub
    billing: billing_pb2_grpc.BillingServiceStub
    invoices: billing_pb2_grpc.InvoiceServiceStub

    @classmethod
    def on(cls, channel: aio.Channel) -> Stubs:
        """Stubs on one channel."""
        return cls(
            organizations_pb2_grpc.OrganizationServiceStub(channel),
            catalogue_pb2_grpc.CatalogueServiceStub(channel),
            subscriptions_pb2_grpc.SubscriptionServiceStub(channel),
            usage_pb2_grpc.UsageServiceStub(channel),
            billing_pb2_grpc.BillingServiceStub(channel),
            billing_pb2_grpc.InvoiceServiceStub(channel),
        )
