"""Usage ingestion: judge every event, count each (organization, idempotency key) once, ever.

A batch becomes one `usage.recorded` event per organization (its events as columns per
subscription period and meter), appended atomically together with one claim per accepted
idempotency key. The store refuses a claim that exists (another stream,
another instance, an earlier retry got there first); those events are answered `duplicate`
and the rest of the batch is appended again. An answer is only given once the append is
committed: acknowledged means durable.

The append also expects the stream version of every subscription the usage is assigned to.
Closing or sealing a period moves that version, so usage judged on a view of the subscription
from before the seal can never commit after it ("accepted, then not billed" cannot happen):
each organization's events are then judged again on fresh state, on their own, and such usage
is rejected `period_closed`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from billing_grpc.application.context import CommandContext
from billing_grpc.application.progress import ProjectionProgress
from billing_grpc.application.streams import Writer
from billing_grpc.application.usage_catalog import UsageCatalog
from billing_grpc.domain import subscription as subscriptions
from billing_grpc.domain.access import Action
from billing_grpc.domain.errors import ConcurrencyConflict
from billing_grpc.domain.meter import Meter
from billing_grpc.domain.usage import (
    LiveSubscription,
    Rejection,
    RejectReason,
    UsageInput,
    UsageRecord,
    UsageRecorded,
    judge,
)
from billing_grpc.eventstore import ClaimConflict, WrongExpectedVersion

# How often a batch is re-appended after losing claims to concurrent writers before giving up.
CLAIM_RETRIES = 5
# How often one organization's events are judged again after a subscription they were judged on
# moved (a period closed, was sealed, or a payment changed the status while they were in flight).
REJUDGE_RETRIES = 3


class Outcome(StrEnum):
    """What happened to one usage event."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True)
class UsageResult:
    """The answer for one usage event, in the order the events came."""

    outcome: Outcome
    reason: str = ""
    message: str = ""


ACCEPTED = UsageResult(Outcome.ACCEPTED)
DUPLICATE = UsageResult(Outcome.DUPLICATE)
UNKNOWN_ORGANIZATION = UsageResult(Outcome.REJECTED, RejectReason.UNKNOWN_ORGANIZATION.value, "no such organization")


@dataclass(frozen=True)
class _Lookups:
    """A batch's organizations (None: unknown or not the caller's), meters and live subscriptions."""

    organizations: dict[tuple[str, str], str | None]
    meters: dict[str, Meter | None]
    subscriptions: dict[str, list[LiveSubscription]]
    # The organizations whose views came from the cache, not from the read model just now.
    cached: frozenset[str] = frozenset()


# Refusals that depend on when an event arrives, not on what it says: a resend of an event that
# was counted before its subscription ended or its period was sealed meets one of them, and must
# be answered `duplicate` (counted once already), not `rejected` (as if it had never counted).
STATE_REJECTIONS = frozenset({RejectReason.NO_ACTIVE_SUBSCRIPTION, RejectReason.PERIOD_CLOSED})


def claim_key(organization_id: str, idempotency_key: str) -> str:
    """The store-wide unique key of one usage event (organization ids contain no colon)."""
    return f"usage:{organization_id}:{idempotency_key}"


@dataclass(frozen=True)
class UsageIngestor:
    """Turns batches of usage events into appended facts and per-event answers."""

    writer: Writer
    catalog: UsageCatalog
    progress: ProjectionProgress

    async def ingest(self, context: CommandContext, batch: Sequence[UsageInput]) -> list[UsageResult]:
        """Judge, deduplicate and durably record a batch; one result per event, in order."""
        try:
            return await self._ingest_once(context, batch)
        except WrongExpectedVersion:
            await self._catch_up()
        # A subscription moved under the batch: a billing run is closing periods, one subscription
        # after another, and a batch spanning many organizations would meet a moved one on every
        # try for as long as the run lasts (seen in the soak benchmark: whole batches aborted).
        # Each organization's events are independent, so each is judged and recorded on its own:
        # a busy subscription holds back only its own organization's events.
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for index, usage in enumerate(batch):
            groups[(usage.organization_id, usage.external_id)].append(index)
        answers = await asyncio.gather(
            *(self._ingest_alone(context, [batch[i] for i in indexes]) for indexes in groups.values()),
            return_exceptions=True,  # let every group finish its append before answering
        )
        results: list[UsageResult] = [ACCEPTED] * len(batch)
        for indexes, answer in zip(groups.values(), answers, strict=True):
            if isinstance(answer, BaseException):
                raise answer  # what the other groups recorded is durable: a resend answers duplicate
            for index, result in zip(indexes, answer, strict=True):
                results[index] = result
        return results

    async def _ingest_alone(self, context: CommandContext, events: Sequence[UsageInput]) -> list[UsageResult]:
        """One organization's events, judged again on fresh state after each conflict."""
        for _ in range(REJUDGE_RETRIES):
            try:
                return await self._ingest_once(context, events)
            except WrongExpectedVersion:
                await self._catch_up()
        raise ConcurrencyConflict("usage_contended", "subscriptions changed while recording; resend the batch")

    async def _catch_up(self) -> None:
        """After a conflict nothing was written: let the read models see the change that moved the
        subscription and forget the cached views, so the next judgement is on fresh state."""
        await self.progress.wait_until(await self.writer.store.head_position())
        self.catalog.forget_subscriptions()

    async def _ingest_once(
        self, context: CommandContext, batch: Sequence[UsageInput], rejudge: bool = True
    ) -> list[UsageResult]:
        lookups = await self._lookups(context, batch)
        organizations, meters, subscriptions = lookups.organizations, lookups.meters, lookups.subscriptions
        results: list[UsageResult] = [ACCEPTED] * len(batch)
        pending: dict[str, tuple[int, str, UsageRecord]] = {}  # claim → (index, organization, record)
        late: dict[str, int] = {}  # claim → index of an event refused for a state that may have moved on
        now = self.writer.clock.now()
        # The loop runs once per event: names are bound locally and the claim key is inlined.
        for index, usage in enumerate(batch):
            organization_id = organizations[(usage.organization_id, usage.external_id)]
            if organization_id is None:
                results[index] = UNKNOWN_ORGANIZATION
                continue
            verdict = judge(usage, meters[usage.meter_code], subscriptions[organization_id], now)
            if isinstance(verdict, Rejection):
                results[index] = UsageResult(Outcome.REJECTED, verdict.reason.value, verdict.message)
                if verdict.reason in STATE_REJECTIONS:
                    late[f"usage:{organization_id}:{usage.idempotency_key}"] = index
                continue
            claim = f"usage:{organization_id}:{verdict.idempotency_key}"  # claim_key, inlined
            if claim in pending:  # the same key twice in one batch: the first one counts
                results[index] = DUPLICATE
                continue
            pending[claim] = (index, organization_id, verdict)
        for claim in await self.writer.store.claimed([*pending, *late]):
            if claim in pending:
                results[pending.pop(claim)[0]] = DUPLICATE
            else:  # counted before its subscription ended or its period was sealed: a resend
                results[late[claim]] = DUPLICATE
        versions = {s.subscription_id: s.stream_version for subs in subscriptions.values() for s in subs}
        await self._record(context, pending, results, versions)
        if rejudge:
            await self._rejudge_stale_refusals(context, batch, results, late.values(), lookups)
        return results

    async def _rejudge_stale_refusals(
        self,
        context: CommandContext,
        batch: Sequence[UsageInput],
        results: list[UsageResult],
        refused: Iterable[int],
        lookups: _Lookups,
    ) -> None:
        """Judge again, on fresh views, the events a cached view refused for the subscription's state.

        A view up to `ttl` old may miss a subscription started or resumed since: refusing on it
        would tell the emitter an event that belongs to a live period never counts. One fresh
        read per batch that holds such refusals, and only for their organizations.
        """
        organization_of = {
            index: lookups.organizations[(batch[index].organization_id, batch[index].external_id)] for index in refused
        }
        stale = [
            index
            for index, organization_id in organization_of.items()
            if results[index].outcome is Outcome.REJECTED and organization_id in lookups.cached
        ]
        if not stale:
            return
        self.catalog.forget_subscriptions({organization_of[index] or "" for index in stale})
        again = await self._ingest_once(context, [batch[index] for index in stale], rejudge=False)
        for index, result in zip(stale, again, strict=True):
            results[index] = result

    async def _lookups(self, context: CommandContext, batch: Sequence[UsageInput]) -> _Lookups:
        """Resolve each distinct organization and meter of the batch once, not once per event."""
        organizations: dict[tuple[str, str], str | None] = {}
        for reference in {(usage.organization_id, usage.external_id) for usage in batch}:
            organization_id = await self.catalog.organization_id(*reference)
            # Another tenant's organization is answered exactly like one that does not exist.
            allowed = organization_id is not None and context.principal.may(Action.USAGE_RECORD, organization_id)
            organizations[reference] = organization_id if allowed else None
        meters = {code: await self.catalog.meter(code) for code in {usage.meter_code for usage in batch}}
        known = [o for o in organizations.values() if o is not None]
        cached = self.catalog.cached_subscriptions(known)
        subscriptions = await self.catalog.live_subscriptions_of(known)
        return _Lookups(organizations, meters, subscriptions, cached)

    async def _record(
        self,
        context: CommandContext,
        pending: dict[str, tuple[int, str, UsageRecord]],
        results: list[UsageResult],
        versions: dict[str, int],
    ) -> None:
        for _ in range(CLAIM_RETRIES):
            if not pending:
                return
            expect = {
                subscriptions.stream_of(subscription_id): versions[subscription_id]
                for subscription_id in {record.subscription_id for _, _, record in pending.values()}
            }
            by_organization: dict[str, list[UsageRecord]] = defaultdict(list)
            for _, organization_id, record in pending.values():
                by_organization[organization_id].append(record)
            appends = [
                self.writer.append_of(
                    f"usage-{organization_id}-{uuid.uuid4().hex}",
                    0,
                    [UsageRecorded.of(organization_id, records)],
                    context,
                    organization_id,
                )
                for organization_id, records in by_organization.items()
            ]
            try:
                await self.writer.append(*appends, claims=list(pending), expect=expect)
                return
            except ClaimConflict as conflict:  # someone recorded some of these keys meanwhile
                for claim in conflict.keys:
                    results[pending.pop(claim)[0]] = DUPLICATE
        raise ConcurrencyConflict("usage_contended", "usage keys are contended; resend the batch")
