"""Reading a paged listing page by page, so a long list starts printing at once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")


async def pages(page: Callable[[str], Awaitable[tuple[Sequence[Item], str]]]) -> AsyncIterator[Item]:
    """Every item of a listing: `page(token)` gives one page and the next token ("" at the end)."""
    token = ""
    while True:
        found, token = await page(token)
        for item in found:
            yield item
        if not token:
            return
