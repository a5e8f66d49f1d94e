"""A daemon store filled with many rows at once (one LMDB transaction, before the daemon opens it):
CDRs, audit records of config changes, customers with notes, statistics intervals — for the tests
and benchmarks of list ops that page (``daemon.api.paging``)."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import msgpack

from daemon.acd.customers import DB_NAME as CUSTOMERS_DB
from daemon.acd.customers import Customer
from daemon.acd.stats import DB_NAME as INTERVALS_DB
from daemon.acd.stats import IntervalStore
from daemon.store.database import Store

T0 = time.time() - 30 * 86400  # the first row's time; one CDR a minute, one interval per 15 minutes
KEY = struct.Struct(">QI")  # the store's time-ordered keys (daemon/store/database.py)


def cdr(i: int) -> dict:
    """The ``i``-th CDR: an answered inbound call through the IVR (id ``c000000`` on)."""
    start = T0 + i * 60
    return {"id": f"c{i:06d}", "direction": "inbound", "caller": f"138{i:08d}", "caller_name": "张三",
            "called": "4008001234", "src_port": "1/1", "src": "PSTN-1", "dst_port": "2/3", "dst": "8003",
            "trunk": "PSTN-1", "start": start, "answer": start + 5, "end": start + 50, "duration": 50.0,
            "billsec": 45.0, "cause": 16, "disposition": "ANSWERED", "interrupted": False, "category": None,
            "ivr_flow": "travel", "ivr_path": ["welcome", "main", "domestic"], "ivr_keys": "11"}


def fill_store(state_dir: Path, cdrs: int = 0, audits: int = 0, customers: int = 0, intervals: int = 0) -> None:
    """Write the rows into the store at ``state_dir``. Audit record ``i`` has ``args.n == i`` (~1 kB each),
    customer ``i`` the number ``139`` + ``i`` in 8 digits, interval ``i`` starts at ``T0 + i * 900``."""
    store = Store(state_dir)
    customer_db, interval_db = store.env.open_db(CUSTOMERS_DB), store.env.open_db(INTERVALS_DB)
    with store.env.begin(write=True) as txn:
        for i in range(cdrs):
            txn.put(KEY.pack(int((T0 + i * 60 + 50) * 1e6), i), msgpack.packb(cdr(i)), db=store.cdr)
        for i in range(audits):
            change = {"key": f"extension[80{i % 100:02d}].name", "value": "前台" * 300}
            txn.put(KEY.pack(int((T0 + i) * 1e6), i), msgpack.packb(
                {"when": T0 + i, "who": "root(uid 0, pid 1, admin)", "role": "admin", "op": "config.set",
                 "args": {"changes": [change], "n": i}}), db=store.audit)
        for i in range(customers):
            number = f"139{i:08d}"
            txn.put(number.encode(), msgpack.packb(Customer(number, name="李四", notes="常客 " * 100).to_dict()),
                    db=customer_db)
        for i in range(intervals):
            start = T0 + i * 900
            agents = {f"10{a:02d}": {"answered": i, "talk_s": 60.0, "pause_s": {"1": 5.0}} for a in range(20)}
            txn.put(IntervalStore.key(start), msgpack.packb({"start": start, "end": start + 900, "agents": agents,
                                                             "queues": {"domestic": {"offered": i}}}), db=interval_db)
    store.close()
