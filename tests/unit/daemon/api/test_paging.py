"""List ops' pages: at most ``limit`` rows and ``PAGE_BYTES`` of them, the cursors visiting every row once."""

from __future__ import annotations

from daemon.api.paging import PAGE_BYTES, Page, encoded_size, take_page


def _rows(sizes: list[int]) -> list[tuple[int, dict]]:
    return [(i, {"i": i, "pad": "x" * n}) for i, n in enumerate(sizes)]


def _follow(rows: list[tuple[int, dict]], limit: int, budget: int = PAGE_BYTES) -> list[Page]:
    pages, cursor = [], None
    while True:
        page = take_page(iter([(k, r) for k, r in rows if cursor is None or k > cursor]), limit, budget)
        pages.append(page)
        if page.next is None:
            return pages
        cursor = page.next


def test_pages_end_at_the_limit_or_the_byte_budget_and_cover_every_row_once() -> None:
    rows = _rows([100, 5000, 20, 70000, 300, 300, 90000, 10, 10, 10, 40000])
    for limit, budget in ((3, PAGE_BYTES), (100, 100_000), (2, 60_000), (1000, 1)):
        pages = _follow(rows, limit, budget)
        got = [r["i"] for p in pages for r in p.items]
        assert got == list(range(len(rows)))
        for p in pages:
            assert 1 <= len(p.items) <= limit
            assert len(p.items) == 1 or sum(encoded_size(r) for r in p.items) <= budget
    assert [len(p.items) for p in _follow(rows, 4)] == [4, 4, 3]  # under the budget: the limit decides
    assert _follow(rows, 1000, 100_000)[0].next == 5  # rows 0-5 fit in 100 kB, the 90 kB row 6 would not


def test_the_scan_is_read_one_row_past_the_page_and_closed() -> None:
    read: list[int] = []
    closed = []

    def scan():
        try:
            for k, r in _rows([10] * 50):
                read.append(k)
                yield k, r
        finally:
            closed.append(True)

    page = take_page(scan(), 5)
    assert [r["i"] for r in page.items] == [0, 1, 2, 3, 4] and page.next == 4
    assert read == [0, 1, 2, 3, 4, 5] and closed == [True]
    assert take_page(iter([]), 5) == Page([], None)
