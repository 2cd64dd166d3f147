"""Reading a paged listing to its end."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")


async def every_page(page: Callable[[str], Awaitable[tuple[Sequence[Item], str]]]) -> list[Item]:
    """Every item of a paged listing: `page(token)` gives one page and the next token ("" at the end)."""
    items: list[Item] = []
    token = ""
    while True:
        found, token = await page(token)
        items.extend(found)
        if not token:
            return items
