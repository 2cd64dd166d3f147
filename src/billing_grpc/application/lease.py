"""Leases: which instance runs a singleton job (the scheduler) right now."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class Lease(Protocol):
    """A time-limited claim on a named job, renewed by its holder."""

    async def acquire(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew the lease for `seconds`; False while another holder's lease is valid."""
        ...


@dataclass
class LocalLease:
    """A lease inside one process (the in-memory store): one holder at a time, same rules."""

    monotonic: Callable[[], float] = time.monotonic
    _held: dict[str, tuple[str, float]] = field(default_factory=dict)

    async def acquire(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew the lease (see Lease.acquire)."""
        now = self.monotonic()
        current = self._held.get(name)
        if current is not None and current[0] != holder and current[1] > now:
            return False
        self._held[name] = (holder, now + seconds)
        return True
