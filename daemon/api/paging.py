"""List ops reply one page at a time, every page under the API's 1 MiB frame limit.

A list op takes ``limit`` (at most ``LIST_MAX`` rows) and ``cursor`` (both declared in its schema); its reply is the page's rows as
the ``result`` and, beside it, ``next``: the cursor of the following page (nil on the last). A page
ends at ``limit`` rows or at ``PAGE_BYTES`` of encoded rows, whichever comes first, so rows of any
size page under the limit; the cursor is the position after the last row sent, so following the
cursors visits every row once. ``ApiClient.pages`` follows them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgpack

LIST_MAX = 1000  # rows per page at most (``limit``)
PAGE_BYTES = 768 << 10  # encoded rows per page at most: the reply's other fields fit in the rest of 1 MiB


@dataclass(frozen=True)
class Page:
    """What a list op's handler returns: the rows, and the cursor of the next page (None: the last)."""

    items: list
    next: Any = None


def encoded_size(row: Any) -> int:
    return len(msgpack.packb(row, use_bin_type=True))


def take_page(rows: Iterable[tuple[Any, Any]], limit: int, budget: int = PAGE_BYTES,
              size_of: Callable[[Any], int] = encoded_size) -> Page:
    """The first page of ``rows`` (``(cursor, row)`` pairs in order): up to ``limit`` rows and ``budget``
    bytes as ``size_of`` counts them (at least one row). Its ``next`` is the cursor of its last row if
    more remain. ``rows`` is read one past the page at most (then closed, if it is a generator)."""
    try:
        return _take(rows, limit, budget, size_of)
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()  # a store scan's read transaction ends here, on the thread that read it


def _take(rows: Iterable[tuple[Any, Any]], limit: int, budget: int, size_of: Callable[[Any], int]) -> Page:
    items: list = []
    size, last = 0, None
    for key, row in rows:
        n = size_of(row)
        if len(items) >= limit or (items and size + n > budget):
            return Page(items, last)
        items.append(row)
        size += n
        last = key
    return Page(items, None)
