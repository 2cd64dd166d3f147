"""What became of emitted usage: counts per outcome, rejection reasons, and the rejected events."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from billing.v1 import usage_pb2


@dataclass(frozen=True)
class RejectedEvent:
    """An event the server refused (it was not counted), with the stable reason and its explanation."""

    event: usage_pb2.UsageEvent
    reason: str
    message: str


@dataclass
class EmitterStats:
    """Counters of one emitter; `UsageEmitter.stats` hands out copies."""

    emitted: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejection_reasons: Counter[str] = field(default_factory=Counter)
    batches_sent: int = 0  # every send, resends included
    batches_resent: int = 0
    reconnects: int = 0

    @property
    def acknowledged(self) -> int:
        """Events the server answered: accepted, duplicate or rejected."""
        return self.accepted + self.duplicates + self.rejected

    def copy(self) -> EmitterStats:
        """A snapshot that later counting does not change."""
        return replace(self, rejection_reasons=Counter(self.rejection_reasons))
