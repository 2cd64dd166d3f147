"""Schema evolution: old payloads are rewritten to the current schema when read, never in place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from billing_grpc.eventstore.envelope import JsonObject, RecordedEvent

UpcastStep = Callable[[JsonObject], JsonObject]


@dataclass
class Upcasters:
    """A chain of one-version steps per event type: v1 → v2 → v3 …"""

    _steps: dict[tuple[str, int], UpcastStep] = field(default_factory=dict)

    def register(self, event_type: str, from_version: int, step: UpcastStep) -> None:
        """Declare how to turn `event_type` at `from_version` into `from_version + 1`."""
        key = (event_type, from_version)
        if key in self._steps:
            raise ValueError(f"an upcaster for {event_type} v{from_version} exists already")
        self._steps[key] = step

    def upcast(self, event_type: str, version: int, payload: JsonObject) -> tuple[int, JsonObject]:
        """Apply every step from `version` on; return the final version and payload."""
        while (step := self._steps.get((event_type, version))) is not None:
            payload = step(dict(payload))
            version += 1
        return version, payload

    def apply(self, event: RecordedEvent) -> RecordedEvent:
        """The event as its current schema version describes it."""
        version, payload = self.upcast(event.type, event.schema_version, event.payload)
        if version == event.schema_version:
            return event
        return replace(event, schema_version=version, payload=payload)


NO_UPCASTERS = Upcasters()
