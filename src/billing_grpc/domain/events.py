"""Domain events: immutable facts with a stable type name and schema version.

Each event class names itself (`TYPE`, past tense, e.g. `user.created`) and its payload schema
(`VERSION`). Payloads are the JSON form of the fields: decimals and times travel as strings,
so a payload never holds a float.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

_REGISTRY: dict[str, type[DomainEvent]] = {}


class DomainEvent(BaseModel):
    """Base of every event; subclasses are registered by their type name."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("TYPE")
        if name is None:
            return
        if name in _REGISTRY:
            raise TypeError(f"two event classes are named {name!r}")
        _REGISTRY[name] = cls

    def payload(self) -> dict[str, Any]:
        """The event's fields as a JSON-compatible object."""
        return self.model_dump(mode="json")


def decode_event(event_type: str, payload: dict[str, Any]) -> DomainEvent:
    """Rebuild the domain event a stored payload describes (already upcast to VERSION)."""
    try:
        cls = _REGISTRY[event_type]
    except KeyError:
        raise LookupError(f"unknown event type {event_type!r}") from None
    return cls.model_validate(payload)


def event_types() -> frozenset[str]:
    """Every registered event type name."""
    return frozenset(_REGISTRY)
