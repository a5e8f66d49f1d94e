"""Benchmark: what durability costs, and where.

On the loop, once a second: ``retry_due`` with CDRs held (a clock read and a submit) and the
last-alive mark's submit. On the store writer's thread: the mark itself (an 8-byte pwrite, no fsync)
and a held CDR's journal append (pwrite + fdatasync, into blocks allocated at start).

Run: ``.venv/bin/pytest tests/bench/test_store_bench.py --benchmark-enable``
"""

from __future__ import annotations

from pathlib import Path

import lmdb

from daemon.store.cdr_journal import CdrJournal
from daemon.store.database import Store, StoreWriter

CDR = {"id": "1796651040-21000-1", "direction": "internal", "caller": "8001", "called": "8002", "src": "8001",
       "dst": "8002", "start": 1796651040.0, "answer": 1796651043.0, "end": 1796651100.0, "duration": 60.0,
       "billsec": 57.0, "cause": 16, "disposition": "ANSWERED", "interrupted": False}


def test_alive_mark_write(benchmark, tmp_path: Path) -> None:
    s = Store(tmp_path)
    benchmark(s.alive.write, 1796651100.0)
    s.close()


def test_journal_append(benchmark, tmp_path: Path) -> None:
    j = CdrJournal(tmp_path / "cdr.journal", size=64 << 20)
    benchmark.pedantic(j.append, args=(b"k" * 12, "c1", CDR), rounds=200, iterations=1)
    assert j.entries()[-1] == (b"k" * 12, "c1", CDR)
    j.close()


def test_retry_due_on_the_loop_with_cdrs_held(benchmark, tmp_path: Path) -> None:
    class Full(Store):
        def finish_calls(self, items):
            raise lmdb.Error("mdb_txn_commit: No space left on device")

    s = Full(tmp_path)
    w = StoreWriter(s, retry_s=0.0)
    for i in range(100):
        w.finish_call(f"c{i}", dict(CDR, id=f"c{i}"))
    w.submit(lambda: None).result()
    assert len(w.held) == 100
    benchmark.pedantic(w.retry_due, rounds=200, iterations=1)
    w.close()
