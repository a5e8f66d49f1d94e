"""Callbacks that survive a restart: a callback the caller accepted is a promise, so it is stored.

One row per pending callback in a named LMDB database of the daemon's environment
(``acd_callbacks``), keyed by call ID, holding what the engine needs to put it back in its queue at
its place: queue, number, priority, entered, arrived, caller level and last agent. The engine writes
a row when a callback is accepted and deletes it when an agent answers it (the dial-back starts) or
it is cancelled; ``load`` gives the rows back, in queue order, when the engine starts. Writes are
sync LMDB transactions callable from any thread (the daemon's store writer).
"""

from __future__ import annotations

import lmdb
import msgpack

DB_NAME = b"acd_callbacks"


class CallbackStore:
    def __init__(self, env: lmdb.Environment, db_name: bytes = DB_NAME) -> None:
        self.env = env
        self.db = env.open_db(db_name)

    def put(self, record: dict) -> None:
        with self.env.begin(write=True, db=self.db) as txn:
            txn.put(record["call"].encode(), msgpack.packb(record))

    def delete(self, call: str) -> None:
        with self.env.begin(write=True, db=self.db) as txn:
            txn.delete(call.encode())

    def load(self) -> list[dict]:
        with self.env.begin(db=self.db) as txn:
            rows = [msgpack.unpackb(v) for _, v in txn.cursor()]
        return sorted(rows, key=lambda r: (-r["priority"], r["entered"], r["call"]))
