"""Checksums of read-model documents: one canonical encoding, so two stores' documents compare."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


def _plain(value: Any) -> Any:
    """A JSON-encodable form that keeps every distinction a read model can make."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        moment = value if value.tzinfo is None else value.astimezone(UTC)
        return {"$date": moment.isoformat()}
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal | float):
        return {"$" + type(value).__name__: str(value)}
    # BSON types (Decimal128, ObjectId, Binary …): their type and text tell them apart.
    return {"$" + type(value).__name__: str(value)}


def canonical_document(document: Mapping[str, Any]) -> str:
    """The document as sorted, compact JSON (field order never matters)."""
    return json.dumps(_plain(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def document_checksum(document: Mapping[str, Any]) -> str:
    """sha256 of the canonical encoding, as hex."""
    return hashlib.sha256(canonical_document(document).encode("utf-8")).hexdigest()
