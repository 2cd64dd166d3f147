"""The read side's progress, as the write side sees it: how far the read models follow the log."""

from __future__ import annotations

from typing import Protocol


class ProjectionProgress(Protocol):
    """How far the read models have followed the log."""

    async def wait_until(self, position: int, timeout: float = 5.0) -> bool:
        """Wait until every read model reflects `position`; False on timeout."""
        ...
