"""The composition root: the only place that picks concrete adapters and wires them together."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta

from pydantic import SecretStr
from pymongo import AsyncMongoClient

from billing_grpc.adapters.mongo_charge_ledger import MongoChargeLedger
from billing_grpc.adapters.mongo_key_activity import MongoKeyActivity
from billing_grpc.adapters.mongo_lease import MongoLease
from billing_grpc.application.authentication import Authenticator, InMemoryKeyActivity, KeyActivity
from billing_grpc.application.billing import BillingHandlers, BillingPolicy
from billing_grpc.application.billing_cycle import BillingCycle
from billing_grpc.application.catalogue import CatalogueHandlers
from billing_grpc.application.credentials import KeyHasher
from billing_grpc.application.credit import CreditHandlers
from billing_grpc.application.cycle_moves import CycleHandlers
from billing_grpc.application.entitlements import EntitlementQueries
from billing_grpc.application.identity import IdentityHandlers
from billing_grpc.application.lease import Lease, LocalLease
from billing_grpc.application.organizations import OrganizationHandlers
from billing_grpc.application.plan_changes import PlanChangeHandlers
from billing_grpc.application.platform_bootstrap import BootstrapResult, ensure_platform_admin
from billing_grpc.application.streams import Writer
from billing_grpc.application.subscriptions import SubscriptionHandlers
from billing_grpc.application.telemetry import NO_TELEMETRY, Telemetry
from billing_grpc.application.usage import UsageIngestor
from billing_grpc.application.usage_catalog import UsageCatalog
from billing_grpc.domain.clock import Clock, SystemClock, TestClock
from billing_grpc.domain.dunning import DunningPolicy, FinalAction
from billing_grpc.domain.entitlement_events import PastDuePolicy
from billing_grpc.domain.usage import UsageRecorded, series_from_records
from billing_grpc.embedded import EmbeddedMongo
from billing_grpc.eventstore import EventStore, Upcasters
from billing_grpc.eventstore.memory import InMemoryEventStore
from billing_grpc.eventstore.mongo import MongoEventStore
from billing_grpc.exclusive import DataDirLock
from billing_grpc.observability.gateway import MeteredGateway
from billing_grpc.observability.metrics import Metrics
from billing_grpc.payments import ChargeLedger, InMemoryChargeLedger, PaymentGateway, SimulatedGateway
from billing_grpc.scheduler import Scheduler
from billing_grpc.settings import Settings, key_hash_secret
from projections.balances import BalancesProjection
from projections.catalogue import FeaturesProjection, MetersProjection, PlansProjection
from projections.entitlements import EntitlementsProjection
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

# How long a start waits for the read models to reach the log's head before serving anyway.
STARTUP_CATCH_UP_SECONDS = 60.0


def all_projections() -> list[Projection]:
    """Every read model the product maintains."""
    return [
        OrganizationsProjection(),
        UsersProjection(),
        ApiKeysProjection(),
        MetersProjection(),
        PlansProjection(),
        FeaturesProjection(),
        SubscriptionsProjection(),
        EntitlementsProjection(),
        UsageProjection(),
        InvoicesProjection(),
        PaymentsProjection(),
        BalancesProjection(),
    ]


def upcasters() -> Upcasters:
    """Every schema step of the domain's events; the stores apply them on every read."""
    steps = Upcasters()
    steps.register(UsageRecorded.TYPE, 1, series_from_records)
    return steps


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
    billing: BillingHandlers
    credit: CreditHandlers
    plan_changes: PlanChangeHandlers
    cycle_moves: CycleHandlers
    entitlements: EntitlementQueries
    cycle: BillingCycle
    scheduler: Scheduler
    gateway: SimulatedGateway
    # Where the server reports RPCs, usage, payments and scheduler runs; `metrics` is the
    # Prometheus registry behind it when BILLING_METRICS_LISTEN is set (else None, and a no-op).
    telemetry: Telemetry
    metrics: Metrics | None
    bootstrap: BootstrapResult | None
    # Empty read models beside the live ones, dropped on exit: where a verification rebuilds.
    scratch_read_models: Callable[[], AbstractAsyncContextManager[ReadModelStore]]

    @property
    def test_clock(self) -> TestClock | None:
        """The test clock, when the business runs on one (`BILLING_TEST_CLOCK`)."""
        return self.clock if isinstance(self.clock, TestClock) else None


@asynccontextmanager
async def open_app(
    settings: Settings, *, clock: Clock | None = None, projections: Sequence[Projection] | None = None
) -> AsyncIterator[App]:
    """Connect to MongoDB (starting the embedded store if no URI is set) and start the read side.

    Everything is shut down in reverse order on exit: projections, the store's writer (which
    commits what is queued), the client, and last the embedded store.
    """
    clock = clock or business_clock(settings)
    async with AsyncExitStack() as stack:
        client = await _connect(stack, settings)
        store = MongoEventStore(client, settings.database, clock=clock, upcasters=upcasters())
        await store.start()
        stack.push_async_callback(store.close)
        read_models = MongoReadModels(client, settings.database)
        activity = MongoKeyActivity(client, settings.database)
        # The simulated gateway remembers charges where a real one would: beyond a crash of ours.
        ledger = MongoChargeLedger(client, settings.database)
        await ledger.start()
        adapters = _Adapters(
            read_models, activity, ledger, MongoLease(client, settings.database), lambda: _scratch_of(read_models)
        )
        yield await _wire(stack, settings, clock, store, adapters, projections)


@contextmanager
def embedded_store(settings: Settings, holder: str) -> Iterator[str]:
    """Run the embedded store under the data folder, this process holding the folder: its URI.

    Refuses (`DataDirInUse`, naming the holder's pid) a folder another process holds, before
    starting anything; `holder` describes this process to such a refused command.
    """
    data = settings.data_dir.resolve()
    store = EmbeddedMongo(data / "mongo", log_file=data / "embedded-store.log")
    with DataDirLock(data, holder) as lock, store:
        lock.record_store(store.uri)
        log.info("embedded store ready", extra={"uri": store.uri, "data_dir": str(data)})
        yield store.uri


async def _connect(
    stack: AsyncExitStack, settings: Settings, holder: str = "billing-grpc serve"
) -> AsyncMongoClient[dict[str, object]]:
    """A client on MONGO_URI, or on the embedded store started under the data folder (stopped on exit)."""
    uri = settings.mongo_uri
    if uri is None:
        uri = await asyncio.to_thread(stack.enter_context, embedded_store(settings, holder))
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        uri, serverSelectionTimeoutMS=settings.store_timeout_ms, tz_aware=True
    )
    stack.push_async_callback(client.close)
    return client


@dataclass(frozen=True)
class AuditLog:
    """What the auditor's command-line tools work on: the log and the read models, nothing running."""

    store: EventStore
    read_models: ReadModelStore
    scratch_read_models: Callable[[], AbstractAsyncContextManager[ReadModelStore]]
    projections: list[Projection]


@asynccontextmanager
async def open_audit_log(settings: Settings) -> AsyncIterator[AuditLog]:
    """Connect like `serve` does, without starting projections, the scheduler or the first admin."""
    async with AsyncExitStack() as stack:
        if settings.store == "memory":  # nothing persists: an empty log, for symmetry
            memory = InMemoryReadModels()
            yield AuditLog(InMemoryEventStore(upcasters=upcasters()), memory, _in_memory_scratch, all_projections())
            return
        client = await _connect(stack, settings, "a billing-grpc audit command (replay, export-events, import-events)")
        store = MongoEventStore(client, settings.database, upcasters=upcasters())
        await store.start()
        stack.push_async_callback(store.close)
        read_models = MongoReadModels(client, settings.database)
        yield AuditLog(store, read_models, lambda: _scratch_of(read_models), all_projections())


@asynccontextmanager
async def open_in_memory_app(
    settings: Settings | None = None, *, clock: Clock | None = None, projections: Sequence[Projection] | None = None
) -> AsyncIterator[App]:
    """The same application on the in-memory store: for unit tests and benchmarks only."""
    settings = settings or Settings(key_hash_secret=SecretStr(secrets.token_hex(32)))
    clock = clock or business_clock(settings)
    async with AsyncExitStack() as stack:
        store = InMemoryEventStore(clock, upcasters())
        adapters = _Adapters(
            InMemoryReadModels(), InMemoryKeyActivity(), InMemoryChargeLedger(), LocalLease(), _in_memory_scratch
        )
        yield await _wire(stack, settings, clock, store, adapters, projections)


def business_clock(settings: Settings) -> Clock:
    """The clock the business runs on: the wall clock, or a test clock that only AdvanceClock moves."""
    wall = SystemClock()
    start = settings.test_clock_start(wall.now())
    return wall if start is None else TestClock(start)


@dataclass(frozen=True)
class _Adapters:
    """The store-specific adapters besides the event store."""

    read_models: ReadModelStore
    activity: KeyActivity
    ledger: ChargeLedger
    lease: Lease
    scratch: Callable[[], AbstractAsyncContextManager[ReadModelStore]]


@asynccontextmanager
async def _scratch_of(live: MongoReadModels) -> AsyncIterator[ReadModelStore]:
    """Scratch collections `verify_<random>_*` in the live database, dropped afterwards."""
    scratch = live.with_prefix(f"verify_{secrets.token_hex(4)}_")
    try:
        yield scratch
    finally:
        await scratch.drop()


@asynccontextmanager
async def _in_memory_scratch() -> AsyncIterator[ReadModelStore]:
    yield InMemoryReadModels()


async def _wire(
    stack: AsyncExitStack,
    settings: Settings,
    clock: Clock,
    store: EventStore,
    adapters: _Adapters,
    projections: Sequence[Projection] | None,
) -> App:
    read_models, activity = adapters.read_models, adapters.activity
    runner = ProjectionRunner(store, read_models, all_projections() if projections is None else projections)
    await runner.start()
    stack.push_async_callback(runner.stop)
    writer = Writer(store, clock)
    hasher = KeyHasher(key_hash_secret(settings))
    configured = settings.bootstrap_admin_key.get_secret_value() if settings.bootstrap_admin_key else None
    bootstrap = await ensure_platform_admin(writer, hasher, configured)
    # Serve only once the read models show the log as it was at start (the bootstrap key above
    # included): a first call made right after start must not be refused for a key the runner has
    # not applied yet. Bounded, so an instance far behind still comes up and catches up serving.
    if not await runner.wait_until(await store.head_position(), STARTUP_CATCH_UP_SECONDS):
        log.warning("read models still catching up at start", extra={"waited_seconds": STARTUP_CATCH_UP_SECONDS})
    # Metrics only when there is an endpoint to read them: otherwise nothing is counted at all.
    metrics = Metrics(projection_lag=runner.lag) if settings.metrics_listen else None
    telemetry: Telemetry = metrics or NO_TELEMETRY
    gateway = SimulatedGateway(
        adapters.ledger, failure_rate=settings.payment_failure_rate, seed=settings.payment_seed, clock=clock
    )
    charging: PaymentGateway = MeteredGateway(gateway, telemetry) if metrics else gateway
    policy = BillingPolicy(
        grace=timedelta(seconds=settings.grace_period_seconds),
        dunning=DunningPolicy(settings.retry_days(), FinalAction(settings.dunning_final_action)),
        past_due=PastDuePolicy(settings.entitlements_past_due),
    )
    billing = BillingHandlers(writer, read_models, runner, charging, policy)
    cycle = BillingCycle(billing, read_models, runner, clock)
    scheduler = Scheduler(cycle, adapters.lease, settings.scheduler_cron, telemetry=telemetry)
    stack.push_async_callback(scheduler.stop)
    usage_catalog = UsageCatalog(read_models)
    authenticator = Authenticator(read_models, hasher, clock, activity)
    entitlements = EntitlementQueries(read_models, usage_catalog)
    # The in-memory copies of read models follow the runner (see `ProjectionRunner.listen`).
    runner.listen(authenticator)
    runner.listen(entitlements)
    return App(
        settings=settings,
        clock=clock,
        store=store,
        read_models=read_models,
        projections=runner,
        writer=writer,
        authenticator=authenticator,
        key_activity=activity,
        identity=IdentityHandlers(store, writer, hasher),
        organizations=OrganizationHandlers(writer),
        catalogue=CatalogueHandlers(writer),
        subscriptions=SubscriptionHandlers(writer),
        usage=UsageIngestor(writer, usage_catalog, runner),
        billing=billing,
        credit=CreditHandlers(writer),
        plan_changes=PlanChangeHandlers(writer, billing),
        cycle_moves=CycleHandlers(writer, billing),
        entitlements=entitlements,
        cycle=cycle,
        scheduler=scheduler,
        gateway=gateway,
        telemetry=telemetry,
        metrics=metrics,
        bootstrap=bootstrap,
        scratch_read_models=adapters.scratch,
    )
