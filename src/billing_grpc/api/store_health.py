"""Health follows the store: an instance that cannot reach its store reports NOT_SERVING.

Every call but health needs the store, so an instance cut off from it (a failed replica set, a
network partition between this instance and the database) answers nothing but UNAVAILABLE. A
load balancer checking gRPC health then routes around it, and routes back once it can reach the
store again. The probe is one point read of the log's head every few seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from billing_grpc.eventstore import EventStore

log = logging.getLogger(__name__)

# Between probes. A probe of an unreachable store also waits out the store timeout
# (BILLING_STORE_TIMEOUT_MS), so health turns within the two of them.
PROBE_SECONDS = 2.0


async def follow_store(
    store: EventStore, set_serving: Callable[[bool], Awaitable[None]], probe_seconds: float = PROBE_SECONDS
) -> None:
    """Probe the store for ever; report each change between reachable and unreachable."""
    reachable = True  # the server starts SERVING: it has just read the store to start
    while True:
        await asyncio.sleep(probe_seconds)
        try:
            await store.head_position()
            now_reachable = True
        except Exception as error:  # whatever keeps the head unread keeps every command from running
            now_reachable = False
            if reachable:
                log.warning("store unreachable: reporting NOT_SERVING", extra={"error": repr(error)})
        if now_reachable != reachable:
            reachable = now_reachable
            if reachable:
                log.warning("store reachable again: reporting SERVING")
            await set_serving(reachable)
