"""One billing run: close ended periods, finalize invoices past their grace, collect due payments.

The run asks the read models what is due and sends each item its command. Commands decide on
the log, not on the read models, so a stale read model or a second run at the same time (two
schedulers, a `RunBillingCycle` during a cron tick) costs a wasted command, never a second
invoice or charge. A run repeats until nothing is left, because one step makes the next due:
closing a period issues a draft, a draft past its grace is finalized, a final invoice is charged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from billing_grpc.application.billing import BillingHandlers
from billing_grpc.application.context import CommandContext, system_context
from billing_grpc.application.progress import ProjectionProgress
from billing_grpc.domain.clock import Clock, TestClock
from billing_grpc.domain.errors import BillingError, ConcurrencyConflict, FailedPrecondition
from projections.invoices import INVOICES
from projections.model import ReadModelReader
from projections.subscriptions import SUBSCRIPTIONS

log = logging.getLogger(__name__)

# Items whose commands run before the read models are waited for. What is due is read whole,
# ids only: on the MongoDB-wire store a range query costs as much as the documents it matches,
# limit or not (a page of 200 out of 10,000 due drafts took ~1.2 s), so paging by re-querying
# made a run quadratic in the number of subscriptions.
CHUNK = 200
# A run that keeps finding work after this many passes is stuck on something; the next run retries.
MAX_PASSES = 50
# Commands in flight at once: enough to overlap store round trips, few enough to keep them cheap.
CONCURRENCY = 16


@dataclass
class CycleReport:
    """What one run did."""

    periods_closed: int = 0
    invoices_finalized: int = 0
    payments_attempted: int = 0
    failures: int = 0

    def add(self, other: CycleReport) -> None:
        """Accumulate another run's counts."""
        self.periods_closed += other.periods_closed
        self.invoices_finalized += other.invoices_finalized
        self.payments_attempted += other.payments_attempted
        self.failures += other.failures

    @property
    def did_something(self) -> bool:
        """Whether any command changed anything."""
        return bool(self.periods_closed or self.invoices_finalized or self.payments_attempted)


@dataclass
class BillingCycle:
    """Finds what is due and runs the billing commands for it."""

    handlers: BillingHandlers
    read_models: ReadModelReader
    progress: ProjectionProgress
    clock: Clock
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def run(self, context: CommandContext | None = None) -> CycleReport:
        """Run everything due at the clock's current time until nothing is left."""
        context = context or system_context()
        # One run at a time per process; runs on other instances are harmless (see module doc).
        async with self._lock:
            return await self._run(context)

    async def advance(self, clock: TestClock, to: datetime, context: CommandContext | None = None) -> CycleReport:
        """Move a test clock to `to`, stopping at every moment something falls due, in order.

        Like Stripe's test clocks: a month of billing happens as it would in real time (the
        period closes, the grace ends, the payment fails, the retries come days later), only fast.
        """
        context = context or system_context()
        report = CycleReport()
        async with self._lock:
            report.add(await self._run(context))
            after: datetime | None = None
            while (due := await self.next_due(after)) is not None and due <= to:
                if due <= clock.now():
                    # Still due after a run at this moment: it failed (logged) and every later run
                    # retries it. Look past it, or the clock would stop here forever.
                    after = clock.now()
                    continue
                clock.advance_to(due)
                report.add(await self._run(context))
            clock.advance_to(to)
            report.add(await self._run(context))
        return report

    async def next_due(self, after: datetime | None = None) -> datetime | None:
        """The earliest moment anything becomes due, later than `after` if given (None: nothing is)."""
        candidates = [
            await self._earliest(SUBSCRIPTIONS, "close_due_at", {}, after),
            await self._earliest(INVOICES, "finalize_at", {"status": "draft"}, after),
            await self._earliest(INVOICES, "next_attempt_at", {"status": "open"}, after),
        ]
        return min((c for c in candidates if c is not None), default=None)

    async def _earliest(
        self, collection: str, field_name: str, scope: dict[str, object], after: datetime | None
    ) -> datetime | None:
        query = {**scope, field_name: {"$ne": None} if after is None else {"$gt": after}}
        found = await self.read_models.find(collection, query, sort=[(field_name, 1)], limit=1)
        return found[0][field_name] if found else None

    async def _run(self, context: CommandContext) -> CycleReport:
        report = CycleReport()
        for _ in range(MAX_PASSES):
            # Drafts are priced from the usage read model: let it show every event recorded so far.
            await self.progress.wait_until(await self.handlers.writer.store.head_position())
            now = self.clock.now()
            passed = CycleReport()
            passed.periods_closed = await self._each(
                SUBSCRIPTIONS,
                {"close_due_at": {"$lte": now}},
                "close_due_at",
                context,
                self.handlers.close_period,
                passed,
            )
            passed.invoices_finalized = await self._each(
                INVOICES, {"status": "draft", "finalize_at": {"$lte": now}}, "finalize_at", context,
                self.handlers.finalize, passed,
            )  # fmt: skip
            passed.payments_attempted = await self._each(
                INVOICES, {"status": "open", "next_attempt_at": {"$lte": now}}, "next_attempt_at", context,
                self.handlers.collect, passed,
            )  # fmt: skip
            report.add(passed)
            if not passed.did_something:
                break
        if report.did_something or report.failures:
            log.info("billing run", extra=vars(report))
        return report

    async def _each(
        self,
        collection: str,
        query: dict[str, object],
        order: str,
        context: CommandContext,
        command: Callable[[CommandContext, str], Awaitable[int]],
        report: CycleReport,
    ) -> int:
        """Run `command` for every due item; return how many changed something."""
        done = 0
        seen: set[str] = set()  # tried in this run: an item that stays due (failed, skipped) waits for the next
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(item_id: str) -> int:
            async with gate:
                return await self._attempt(command, context, item_id, report)

        while True:
            due = await self.read_models.find(collection, query, sort=[(order, 1), ("_id", 1)], fields=())
            fresh = [doc["_id"] for doc in due if doc["_id"] not in seen]
            if not fresh:
                return done
            seen.update(fresh)
            reached = 0
            for first in range(0, len(fresh), CHUNK):
                positions = await asyncio.gather(*(one(item_id) for item_id in fresh[first : first + CHUNK]))
                done += sum(1 for position in positions if position)
                reached = max(reached, *positions)
            # Let the read models show what was done, so the next query does not return it again.
            await self.progress.wait_until(reached)

    async def _attempt(
        self,
        command: Callable[[CommandContext, str], Awaitable[int]],
        context: CommandContext,
        item_id: str,
        report: CycleReport,
    ) -> int:
        try:
            return await command(context, item_id)
        except ConcurrencyConflict:
            return 0  # someone else did it (another run, another instance): the next pass re-reads
        except FailedPrecondition as refused:
            log.info("billing item skipped", extra={"item": item_id, "reason": refused.reason})
            return 0
        except BillingError as error:
            report.failures += 1
            log.warning("billing item failed", extra={"item": item_id, "reason": error.reason})
            return 0
        except Exception:
            # One broken item must not stop everyone else's billing; it is retried next run.
            report.failures += 1
            log.exception("billing item failed", extra={"item": item_id})
            return 0
