"""Collect every field violation of a request, then refuse it once with all of them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from billing_grpc.domain.errors import FieldViolation, InvalidArgument

MAX_NAME = 200
MAX_EMAIL = 254
# Deliberately simple: one @, a dot in the domain, no spaces. Deliverability is not our job.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass
class Violations:
    """An accumulator of field violations."""

    found: list[FieldViolation] = field(default_factory=list)

    def check(self, condition: bool, field_path: str, description: str) -> bool:
        """Record a violation unless `condition` holds; return the condition."""
        if not condition:
            self.found.append(FieldViolation(field_path, description))
        return condition

    def text(self, value: str, field_path: str, *, required: bool = True, max_length: int = MAX_NAME) -> bool:
        """Check a free-text field: present (not blank) if required, not too long, no control characters."""
        if not value.strip():  # a name of spaces names nothing
            return self.check(not required, field_path, "is required" if not value else "must not be blank")
        if not self.check(len(value) <= max_length, field_path, f"at most {max_length} characters"):
            return False
        return self.check(value.isprintable(), field_path, "must not contain control characters")

    def email(self, value: str, field_path: str, *, required: bool = True) -> bool:
        """Check an email address (shape only)."""
        if not value:
            return self.check(not required, field_path, "is required")
        return self.check(len(value) <= MAX_EMAIL and bool(_EMAIL.match(value)), field_path, "is not an email address")

    def code(self, value: str, field_path: str) -> bool:
        """Check a machine code: lowercase letters, digits, `_`, `.`, `-`; 1 to 64 characters."""
        return self.check(bool(_CODE.match(value)), field_path, "must match [a-z0-9][a-z0-9_.-]{0,63}")

    def raise_if_any(self) -> None:
        """Raise INVALID_ARGUMENT listing every violation found, if there is one."""
        if self.found:
            raise InvalidArgument.of(*self.found)
