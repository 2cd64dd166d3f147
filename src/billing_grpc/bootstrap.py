"""The composition root: the only place that picks concrete adapters and wires them together."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from pydantic import SecretStr
from pymongo import AsyncMongoClient

from billing_grpc.adapters.mongo_key_activity import MongoKeyActivity
from billing_grpc.application.authentication import Authenticator, InMemoryKeyActivity, KeyActivity
from billing_grpc.application.catalogue import CatalogueHandlers
from billing_grpc.application.credentials import KeyHasher
from billing_grpc.application.identity import IdentityHandlers
from billing_grpc.application.organizations import OrganizationHandlers
from billing_grpc.application.platform_bootstrap import BootstrapResult, ensure_platform_admin
from billing_grpc.application.streams import Writer
from billing_grpc.application.subscriptions import SubscriptionHandlers
from billing_grpc.application.usage import UsageIngestor
from billing_grpc.application.usage_catalog import UsageCatalog
from billing_grpc.domain.clock import Clock, SystemClock
from billing_grpc.embedded import EmbeddedMongo
from billing_grpc.eventstore import EventStore
from billing_grpc.eventstore.memory import InMemoryEventStore
from billing_grpc.eventstore.mongo import MongoEventStore
from billing_grpc.settings import Settings, key_hash_secret
from projections.balances import BalancesProjection
from projections.catalogue import MetersProjection, PlansProjection
from projections.identity import ApiKeysProjection, UsersProjection
from projections.invoices import InvoicesProjection
from projections.model import Projection
from projections.mongo_store import MongoReadModels
from projections.organizations import OrganizationsProjection
from projections.payments import PaymentsProjection
from projections.runner import ProjectionRunner
from projections.store import InMemoryReadModels, ReadModelStore
from projections.subscriptions import SubscriptionsProjection
from projections.usage import UsageProjection

log = logging.getLogger(__name__)


def all_projections() -> list[Projection]:
    """Every read model the product maintains."""
    return [
        OrganizationsProjection(),
        UsersProjection(),
        ApiKeysProjection(),
        MetersProjection(),
        PlansProjection(),
        SubscriptionsProjection(),
        UsageProjection(),
        InvoicesProjection(),
        PaymentsProjection(),
        BalancesProjection(),
    ]


@dataclass
class App:
    """Everything a server instance runs on, wired."""

    settings: Settings
    clock: Clock
    store: EventStore
    read_models: ReadModelStore
    projections: ProjectionRunner
    writer: Writer
    authenticator: Authenticator
    key_activity: KeyActivity
    identity: IdentityHandlers
    organizations: OrganizationHandlers
    catalogue: CatalogueHandlers
    subscriptions: SubscriptionHandlers
    usage: UsageIngestor
    bootstrap: BootstrapResult | None


@asynccontextmanager
async def open_app(
    settings: Settings, *, clock: Clock | None = None, projections: Sequence[Projection] | None = None
) -> AsyncIterator[App]:
    """Connect to MongoDB (starting the embedded store if no URI is set) and start the read side.

    Everything is shut down in reverse order on exit: projections, the store's writer (which
    commits what is queued), the client, and last the embedded store.
    """
    clock = clock or SystemClock()
    async with AsyncExitStack() as stack:
        uri = settings.mongo_uri
        if uri is None:
            data = settings.data_dir.resolve()
            data.mkdir(parents=True, exist_ok=True)
            embedded = EmbeddedMongo(data / "mongo", log_file=data / "embedded-store.log")
            await asyncio.to_thread(embedded.start)
            stack.callback(embedded.stop)
            uri = embedded.uri
            log.info("embedded store ready", extra={"uri": uri, "data_dir": str(data)})
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
            uri, serverSelectionTimeoutMS=settings.store_timeout_ms, tz_aware=True
        )
        stack.push_async_callback(client.close)
        store = MongoEventStore(client, settings.database, clock=clock)
        await store.start()
        stack.push_async_callback(store.close)
        read_models = MongoReadModels(client, settings.database)
        activity = MongoKeyActivity(client, settings.database)
        yield await _wire(stack, settings, clock, store, read_models, activity, projections)


@asynccontextmanager
async def open_in_memory_app(
    settings: Settings | None = None, *, clock: Clock | None = None, projections: Sequence[Projection] | None = None
) -> AsyncIterator[App]:
    """The same application on the in-memory store: for unit tests and benchmarks only."""
    settings = settings or Settings(key_hash_secret=SecretStr(secrets.token_hex(32)))
    clock = clock or SystemClock()
    async with AsyncExitStack() as stack:
        store = InMemoryEventStore(clock)
        yield await _wire(stack, settings, clock, store, InMemoryReadModels(), InMemoryKeyActivity(), projections)


async def _wire(
    stack: AsyncExitStack,
    settings: Settings,
    clock: Clock,
    store: EventStore,
    read_models: ReadModelStore,
    activity: KeyActivity,
    projections: Sequence[Projection] | None,
) -> App:
    runner = ProjectionRunner(store, read_models, all_projections() if projections is None else projections)
    await runner.start()
    stack.push_async_callback(runner.stop)
    writer = Writer(store, clock)
    hasher = KeyHasher(key_hash_secret(settings))
    configured = settings.bootstrap_admin_key.get_secret_value() if settings.bootstrap_admin_key else None
    bootstrap = await ensure_platform_admin(writer, hasher, configured)
    return App(
        settings=settings,
        clock=clock,
        store=store,
        read_models=read_models,
        projections=runner,
        writer=writer,
        authenticator=Authenticator(read_models, hasher, clock, activity),
        key_activity=activity,
        identity=IdentityHandlers(store, writer, hasher),
        organizations=OrganizationHandlers(writer),
        catalogue=CatalogueHandlers(writer),
        subscriptions=SubscriptionHandlers(writer),
        usage=UsageIngestor(writer, UsageCatalog(read_models)),
        bootstrap=bootstrap,
    )
