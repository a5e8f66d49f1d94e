"""Stored callbacks: written and deleted from a worker thread, read back in queue order after reopening."""

import concurrent.futures
from pathlib import Path

from daemon.acd.callbacks import CallbackStore
from daemon.store.database import Store


def row(call: str, priority: int, entered: float) -> dict:
    return {"call": call, "queue": "q", "number": "138", "priority": priority, "entered": entered,
            "arrived": entered, "level": 0, "last_agent": None, "customer": None}


def test_rows_survive_reopen_in_queue_order(tmp_path: Path) -> None:
    store = Store(tmp_path)
    cbs = CallbackStore(store.env)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        for r in (row("late", 0, 30.0), row("early", 0, 10.0), row("vip", 20, 50.0), row("gone", 0, 5.0)):
            pool.submit(cbs.put, r).result()
        pool.submit(cbs.delete, "gone").result()
    store.close()
    again = CallbackStore(Store(tmp_path).env)
    assert [r["call"] for r in again.load()] == ["vip", "early", "late"]
