"""Collect every field violation of a request, then refuse it once with all of them."""

from __future__ import annotations

from dataclasses import dataclass, field

from billing_grpc.domain.errors import FieldViolation, InvalidArgument


@dataclass
class Violations:
    """An accumulator of field violations."""

    found: list[FieldViolation] = field(default_factory=list)

    def check(self, condition: bool, field_path: str, description: str) -> bool:
        """Record a violation unless `condition` holds; return the condition."""
        if not condition:
            self.found.append(FieldViolation(field_path, description))
        return condition

    def raise_if_any(self) -> None:
        """Raise INVALID_ARGUMENT listing every violation found, if there is one."""
        if self.found:
            raise InvalidArgument.of(*self.found)
