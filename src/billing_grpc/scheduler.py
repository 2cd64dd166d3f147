"""The scheduler: an aiocron loop that runs the billing cycle on the instance holding the lease.

Several instances may run it: the lease makes one of them do the work, and if two ever run at
once (a lease expiring mid-run) the billing commands' own concurrency checks keep every
invariant (one invoice per period, one charge per attempt).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiocron

from billing_grpc.application.billing_cycle import BillingCycle
from billing_grpc.application.lease import Lease
from billing_grpc.application.telemetry import NO_TELEMETRY, SchedulerOutcome, Telemetry

log = logging.getLogger(__name__)

LEASE_NAME = "billing-scheduler"
# A lease outlives a few ticks, so a brief stall does not hand the job over, yet a dead holder's
# job moves to another instance within minutes.
LEASE_SECONDS = 180.0


@dataclass
class Scheduler:
    """Runs `cycle` on every tick of the cron expression, when this instance holds the lease."""

    cycle: BillingCycle
    lease: Lease
    cron: str = "* * * * *"
    holder: str = field(default_factory=lambda: f"instance-{uuid.uuid4().hex[:12]}")
    telemetry: Telemetry = NO_TELEMETRY
    _crontab: Any = None
    _running: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start ticking (the cron expression was validated with the settings)."""
        self._crontab = aiocron.crontab(self.cron, func=self._tick, start=True)

    async def stop(self) -> None:
        """Stop ticking and let a run in progress finish its current commands."""
        if self._crontab is not None:
            self._crontab.stop()
            self._crontab = None
        if self._running is not None:
            self._running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._running

    async def tick(self) -> bool:
        """One tick: run the cycle if the lease is ours; True if it ran."""
        outcome: SchedulerOutcome = SchedulerOutcome.FAILED
        started: float | None = None
        try:
            if not await self.lease.acquire(LEASE_NAME, self.holder, LEASE_SECONDS):
                outcome = SchedulerOutcome.NOT_LEADER
                return False
            started = time.perf_counter()
            await self.cycle.run()
            outcome = SchedulerOutcome.COMPLETED
            return True
        finally:
            # A lease check that failed (store down) counts as a failed tick without a duration.
            self.telemetry.scheduler_ticked(outcome, None if started is None else time.perf_counter() - started)

    async def _tick(self) -> None:
        if self._running is not None and not self._running.done():
            # The previous run is still going: skip this tick rather than pile up.
            self.telemetry.scheduler_ticked(SchedulerOutcome.OVERLAPPED, None)
            return
        self._running = asyncio.current_task()
        try:
            await self.tick()
        except Exception:
            log.exception("scheduler tick failed; the next tick retries")
