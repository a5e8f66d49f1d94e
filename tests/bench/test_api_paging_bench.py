"""Benchmark: what a page of a list op costs, read from a store of 10,000 CDRs.

* ``test_cdr_page``: one 1,000-row ``cdr.list`` page (a range scan, each row's encoded size counted
  for the page's byte budget) — the work the op hands to a worker thread, off the event loop; the
  page's encoded size in ``extra_info``, against the 2.9 MB one reply of 10,000 used to be.
* ``test_csv_page``: one ``cdr.export_csv`` page, its rows measured as CSV.

Run: ``.venv/bin/pytest tests/bench/test_api_paging_bench.py --benchmark-enable``
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest

from daemon.api.paging import LIST_MAX, PAGE_BYTES, take_page
from daemon.store.cdr_csv import cdrs_to_csv
from daemon.store.database import Store
from tests.support.store_rows import fill_store

ROWS = 10_000


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path: Path = tmp_path_factory.mktemp("paging")
    fill_store(path, cdrs=ROWS)
    s = Store(path)
    yield s
    s.close()


def test_cdr_page(benchmark, store: Store) -> None:
    whole = len(msgpack.packb(list(r for _, r in store.scan(store.cdr)), use_bin_type=True))
    page = benchmark(lambda: take_page(store.scan(store.cdr, None, None, True, None), LIST_MAX))
    size = len(msgpack.packb(page.items, use_bin_type=True))
    benchmark.extra_info.update(page_bytes=size, all_rows_bytes=whole)
    assert len(page.items) == LIST_MAX and page.next is not None and size <= PAGE_BYTES < whole


def test_csv_page(benchmark, store: Store) -> None:
    def page():
        return take_page(store.scan(store.cdr), 5000, size_of=lambda row: len(cdrs_to_csv([row], header=False)))

    got = benchmark(page)
    benchmark.extra_info.update(rows=len(got.items), csv_bytes=len(cdrs_to_csv(got.items)))
    assert 0 < len(got.items) <= 5000 and len(cdrs_to_csv(got.items)) <= PAGE_BYTES + 4096
