"""Durable storage in LMDB: call detail records and the journal of calls in progress.

CDRs are append-only under time-ordered keys (8-byte big-endian microseconds since the epoch +
4-byte sequence), so a range scan is a time range. A call in progress has a row in ``active``;
finishing the call writes its CDR and deletes that row in one transaction. After a kill -9 or a
power cut, ``recover_interrupted`` turns the rows left in ``active`` into CDRs marked interrupted.

The environment is opened with ``sync=True, metasync=True`` (shared/reference: no acknowledged row
lost under kill -9 or power cut). Writes run on one worker thread (``StoreWriter``) so fsync never
runs on the 20 ms tick; a write's future completes only once LMDB has committed it to disk.

A full disk must not stop CDRs landing (recordings and logs fill disks; CDRs are small): the
database file is given its whole map size up front (``posix_fallocate``), so LMDB's writes land
in blocks it already owns. When the map itself fills, it grows (and only that can fail on a
full disk, loudly).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import os
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lmdb
import msgpack

log = logging.getLogger(__name__)

_KEY = struct.Struct(">QI")
_MAP_SIZE = 64 << 20
_MAP_MAX = 64 << 30


class Store:
    """The daemon's LMDB environment (opened only by the daemon)."""

    def __init__(self, directory: str | Path, map_size: int = _MAP_SIZE) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(str(self.directory / "callbox.lmdb"), map_size=map_size, max_dbs=16,
                             sync=True, metasync=True, writemap=False, subdir=True)
        self._reserve()
        self.cdr = self.env.open_db(b"cdr")
        self.active = self.env.open_db(b"active")
        self.audit = self.env.open_db(b"audit")  # API changes: who, when, what (time-ordered keys)
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def close(self) -> None:
        self.env.close()

    def _reserve(self) -> None:
        """Give the data file its whole map size on disk now, while there is room."""
        path = self.directory / "callbox.lmdb" / "data.mdb"
        size = self.env.info()["map_size"]
        try:
            fd = os.open(path, os.O_RDWR)
            try:
                if os.fstat(fd).st_blocks * 512 < size:
                    os.posix_fallocate(fd, 0, size)
            finally:
                os.close(fd)
        except OSError as exc:
            log.error("store: cannot reserve %d MiB for the database (%s): CDRs may fail on a full disk",
                      size >> 20, exc)

    def _key(self, when: float) -> bytes:
        with self._lock:
            return _KEY.pack(int(when * 1_000_000), next(self._seq) & 0xFFFFFFFF)

    def _write(self, fn) -> Any:
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    return fn(txn)
            except lmdb.MapFullError:
                new = min(self.env.info()["map_size"] * 2, _MAP_MAX)
                if new <= self.env.info()["map_size"]:
                    raise
                log.warning("store: growing LMDB map to %d MiB", new >> 20)
                self.env.set_mapsize(new)
                self._reserve()

    # --- calls in progress ---------------------------------------------------------------------

    def begin_call(self, call_id: str, record: dict) -> None:
        self._write(lambda txn: txn.put(call_id.encode(), msgpack.packb(record), db=self.active))

    def update_call(self, call_id: str, record: dict) -> None:
        self.begin_call(call_id, record)

    def finish_call(self, call_id: str, cdr: dict) -> bytes:
        """Append the CDR and drop the active row, atomically. Returns the CDR's key."""
        key = self._key(cdr.get("end") or time.time())

        def txn_fn(txn: lmdb.Transaction) -> bytes:
            txn.put(key, msgpack.packb(cdr), db=self.cdr, overwrite=False)
            txn.delete(call_id.encode(), db=self.active)
            return key

        return self._write(txn_fn)

    def recover_interrupted(self, now: float | None = None) -> list[dict]:
        """Turn calls left in progress by a crash into CDRs marked interrupted."""
        now = time.time() if now is None else now
        with self.env.begin(db=self.active) as txn:
            rows = [(bytes(k), msgpack.unpackb(v)) for k, v in txn.cursor()]
        out = []
        for k, rec in rows:
            rec = dict(rec)
            rec.update(interrupted=True, disposition="INTERRUPTED", end=rec.get("end") or now)
            rec.setdefault("cause", 41)  # temporary failure
            start = rec.get("start") or now
            rec["duration"] = round(max(0.0, rec["end"] - start), 3)
            ans = rec.get("answer")
            rec["billsec"] = round(max(0.0, rec["end"] - ans), 3) if ans else 0.0
            self.finish_call(k.decode(), rec)
            out.append(rec)
        return out

    # --- reading ---------------------------------------------------------------------------------

    def cdrs(self, since: float | None = None, until: float | None = None, limit: int = 100,
             reverse: bool = False) -> list[dict]:
        return list(itertools.islice(self.iter_cdrs(since, until, reverse), limit))

    def iter_cdrs(self, since: float | None = None, until: float | None = None,
                  reverse: bool = False) -> Iterator[dict]:
        return (rec for _, rec in self.scan(self.cdr, since, until, reverse))

    def cdr_page(self, since: float | None, until: float | None, limit: int,
                 after: bytes | None = None, reverse: bool = False) -> tuple[list[dict], bytes | None]:
        """Up to ``limit`` CDRs after the key ``after`` (a previous page's cursor), and the next cursor
        (None at the end)."""
        rows = list(itertools.islice(self.scan(self.cdr, since, until, reverse, after), limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        return [rec for _, rec in rows], (rows[-1][0] if more and rows else None)

    def scan(self, db: Any, since: float | None = None, until: float | None = None, reverse: bool = False,
             after: bytes | None = None) -> Iterator[tuple[bytes, dict]]:
        """(key, record) pairs of a time-keyed table between ``since`` and ``until`` (epoch seconds),
        oldest first (or newest first), strictly after the key ``after`` if given."""
        lo = _KEY.pack(int((since or 0) * 1_000_000), 0)
        hi = _KEY.pack(int(until * 1_000_000), 0xFFFFFFFF) if until else b"\xff" * 12
        if after is not None:
            if reverse:
                hi = min(hi, after)
            else:
                lo = max(lo, after)
        with self.env.begin(db=db) as txn:
            cur = txn.cursor()
            if reverse:
                ok = cur.set_range(hi)
                if not ok:
                    ok = cur.last()
                elif cur.key() > hi:
                    ok = cur.prev()
                while ok and cur.key() >= lo:
                    if cur.key() != after:
                        yield bytes(cur.key()), msgpack.unpackb(cur.value())
                    ok = cur.prev()
            else:
                ok = cur.set_range(lo)
                while ok and cur.key() <= hi:
                    if cur.key() != after:
                        yield bytes(cur.key()), msgpack.unpackb(cur.value())
                    ok = cur.next()

    # --- the audit log -----------------------------------------------------------------------------

    def add_audit(self, record: dict) -> bytes:
        record = {"when": time.time(), **record}
        key = self._key(record["when"])
        self._write(lambda txn: txn.put(key, msgpack.packb(record), db=self.audit, overwrite=False))
        return key

    def audit_log(self, since: float | None = None, limit: int = 100) -> list[dict]:
        return [rec for _, rec in itertools.islice(self.scan(self.audit, since, None, reverse=True), limit)]

    def active_calls(self) -> list[dict]:
        with self.env.begin(db=self.active) as txn:
            return [msgpack.unpackb(v) for _, v in txn.cursor()]

    def cdr_count(self) -> int:
        with self.env.begin(db=self.cdr) as txn:
            return txn.stat(self.cdr)["entries"]


class StoreWriter:
    """Runs store writes in order on one worker thread, off the tick."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")

    def submit(self, fn, *args) -> concurrent.futures.Future:
        fut = self._pool.submit(fn, *args)
        fut.add_done_callback(_log_failure)
        return fut

    def begin_call(self, call_id: str, record: dict) -> concurrent.futures.Future:
        return self.submit(self.store.begin_call, call_id, dict(record))

    def update_call(self, call_id: str, record: dict) -> concurrent.futures.Future:
        return self.submit(self.store.update_call, call_id, dict(record))

    def finish_call(self, call_id: str, cdr: dict) -> concurrent.futures.Future:
        return self.submit(self.store.finish_call, call_id, dict(cdr))

    def add_audit(self, record: dict) -> concurrent.futures.Future:
        return self.submit(self.store.add_audit, dict(record))

    async def flushed(self) -> None:
        """Wait until every write submitted so far is committed (they run in order on one thread), so a
        read that follows sees them: the CDR of a call whose end was just reported, an audited change."""
        await asyncio.wrap_future(self.submit(lambda: None))

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _log_failure(fut: concurrent.futures.Future) -> None:
    exc = fut.exception()
    if exc is not None:
        log.error("store write failed: %s", exc, exc_info=exc)
