"""Customer memory in the daemon's real LMDB environment: CRUD, per-call updates, writes from a worker
thread, durable across reopening."""

import concurrent.futures
from pathlib import Path

import pytest

from daemon.acd.customers import Customers, normalise
from daemon.store.database import Store


def test_crud(tmp_path: Path) -> None:
    store = Store(tmp_path)
    cs = Customers(store.env)
    rec = cs.create("+86 138-0013-8000", name="张先生", level=2, notes="prefers morning flights")
    assert rec.number == "8613800138000" and cs.get("8613800138000") == rec
    with pytest.raises(KeyError):
        cs.create("8613800138000")
    cs.update("8613800138000", level=3, notes="")
    assert cs.get("8613800138000").level == 3
    with pytest.raises(ValueError, match="cannot change"):
        cs.update("8613800138000", calls=99)
    with pytest.raises(ValueError, match="level"):
        cs.update("8613800138000", level=42)
    cs.create("13900000001")
    cs.create("13900000002")
    assert [c.number for c in cs.list()] == ["13900000001", "13900000002", "8613800138000"]
    assert [c.number for c in cs.list(after="13900000001", limit=1)] == ["13900000002"]
    assert cs.delete("13900000001") and not cs.delete("13900000001") and cs.count() == 2
    with pytest.raises(ValueError):
        normalise("anonymous")


def test_every_call_updates_the_record(tmp_path: Path) -> None:
    store = Store(tmp_path)
    cs = Customers(store.env)
    assert cs.get("13800138000") is None
    cs.record_call("13800138000", 1000.0)
    cs.record_answer("13800138000", "1023", 1010.0)
    cs.record_call("13800138000", 2000.0)
    rec = cs.get("13800138000")
    assert (rec.calls, rec.answered, rec.first_call, rec.last_call, rec.last_agent) == (2, 1, 1000.0, 2000.0, "1023")


def test_writes_from_worker_thread_are_durable(tmp_path: Path) -> None:
    store = Store(tmp_path)
    cs = Customers(store.env)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        futs = [pool.submit(cs.record_call, f"1380000{i:04d}", float(i)) for i in range(50)]
        futs.append(pool.submit(cs.record_answer, "13800000007", "1024", 99.0))
        for f in futs:
            f.result()
    assert cs.count() == 50  # seen on the loop thread as soon as the writes return
    store.close()
    again = Customers(Store(tmp_path).env)
    assert again.count() == 50 and again.get("13800000007").last_agent == "1024"
