"""Unique identities (emails, external ids, codes) claimed through the log itself.

Claiming appends `unique_key.claimed` to a stream named after the key, expecting the stream to
be new, in the same atomic append as the fact that needs the key. Two racing claims cannot both
succeed, on any number of server instances, and no read model has to be trusted for it.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar

from billing_grpc.domain.events import DomainEvent


class UniqueKeyClaimed(DomainEvent):
    """A unique key (e.g. an email) now belongs to `owner_id`."""

    TYPE: ClassVar[str] = "unique_key.claimed"

    scope: str
    key_digest: str
    owner_id: str


def claim_stream(scope: str, key: str) -> str:
    """The stream that holds the claim of `key` within `scope` (the key itself is not in the name)."""
    return f"unique-{scope}-{digest(key)}"


def digest(key: str) -> str:
    """A stable digest of a key, so stream names carry no personal data."""
    return hashlib.sha256(key.encode()).hexdigest()[:40]
