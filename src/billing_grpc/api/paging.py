"""Keyset paging over read models: stable under concurrent inserts, served by the `_id` index."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from billing_grpc.domain.errors import FieldViolation, InvalidArgument
from projections.model import ReadModelReader

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class Page:
    """One page of documents and the token of the next (empty on the last page)."""

    documents: list[dict[str, Any]]
    next_token: str


def _decode(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidArgument.of(FieldViolation("page_token", "is not a token this API issued")) from None


async def page(
    reader: ReadModelReader, collection: str, query: Mapping[str, Any], page_size: int, page_token: str
) -> Page:
    """The page of `collection` after `page_token`, ordered by `_id`."""
    if not 0 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidArgument.of(FieldViolation("page_size", f"must be between 1 and {MAX_PAGE_SIZE} (0: default)"))
    size = page_size or DEFAULT_PAGE_SIZE
    where = dict(query)
    if page_token:
        after = {"$gt": _decode(page_token)}
        scope = where.get("_id")
        where["_id"] = {**scope, **after} if isinstance(scope, dict) else after
    found = await reader.find(collection, where, sort=[("_id", 1)], limit=size + 1)
    if len(found) <= size:
        return Page(found, "")
    last = found[size - 1]["_id"]
    return Page(found[:size], base64.urlsafe_b64encode(str(last).encode()).decode())
