"""Evaluate the small query language of read models in memory (MongoDB semantics, a subset)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from projections.model import Document, Query, Sort

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": lambda value, bound: value is not None and value > bound,
    "$gte": lambda value, bound: value is not None and value >= bound,
    "$lt": lambda value, bound: value is not None and value < bound,
    "$lte": lambda value, bound: value is not None and value <= bound,
    "$in": lambda value, options: value in options,
    "$ne": lambda value, other: value != other,
}


def matches(document: Document, query: Query) -> bool:
    """True if the document satisfies every condition of the query."""
    for name, condition in query.items():
        value = document.get(name)
        if isinstance(condition, dict):
            for operator, operand in condition.items():
                if operator not in _OPERATORS:
                    raise ValueError(f"unsupported query operator {operator}")
                if not _OPERATORS[operator](value, operand):
                    return False
        elif value != condition:
            return False
    return True


def ordered(documents: Iterable[Document], sort: Sort) -> list[Document]:
    """Documents sorted by the (field, 1 | -1) keys, most significant first."""
    result = list(documents)
    for name, direction in reversed(sort):
        result.sort(key=lambda doc: (doc.get(name) is not None, doc.get(name)), reverse=direction < 0)
    return result
