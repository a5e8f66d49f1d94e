"""The recordings index in LMDB: one row per recording segment, queried by time, agent, number, call.

A row (msgpack map) holds: ``id`` (recording id = ``<call id>-<segment>``), ``call_id``, ``segment``,
``start``/``end`` (epoch seconds), ``caller``, ``called``, ``trunk``, ``agent``, ``queue``,
``direction``, ``extension`` (the agent's extension), ``reason`` (why it was recorded), ``file`` (path relative to the recordings
directory), ``format``, ``size`` (bytes), ``duration`` (seconds of audio), ``sha256`` (of the whole
file), ``status`` (``recording`` → ``complete`` | ``interrupted``; ``purged`` once retention deleted
it), ``note`` (why interrupted: ``crash``, ``disk full``, ``write error``), and the second copy's
``copy`` (``none`` | ``pending`` | ``retry`` | ``verified`` | ``mismatch`` | ``failed`` = gave up), ``copy_attempts``,
``copy_error``.

Tables (no dupsort: see shared/reference on reopening dupsort tables):

* ``rec``    key = start in µs (8 bytes big-endian) + id → row: time-ordered, a range scan is a time range;
* ``id``     id → ``rec`` key;
* ``call``, ``agent`` (agent ID and extension), ``number`` (caller and called)  value + NUL + ``rec`` key → empty;
* ``open``   ids of rows still ``recording`` (what recovery looks at after a crash);
* ``copyq``  ids of rows whose second copy is to be made (``pending``, ``retry``, ``mismatch``).

The environment is opened ``sync=True, metasync=True``: a commit is on disk when ``put`` returns.
Writes come from the recorder's own threads (writer, housekeeping), never from the tick.

The index usually shares the state directory's filesystem with the CDR store, which recordings and
logs can fill: its data file is given its whole map up front (``posix_fallocate``), sized to the
filesystem (an eighth of it, at most 32 MiB), so rows land in blocks it owns on a full disk. Where
even that does not fit it opens anyway (a log line): the writer holds the rows the index refuses.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lmdb
import msgpack

log = logging.getLogger(__name__)

_TIME = struct.Struct(">Q")
_MAP_SIZE = 32 << 20
_MIN_MAP = 256 << 10
_MAP_MAX = 16 << 30
COPY_TODO = ("pending", "retry", "mismatch")
_SECONDARY = {"call": ("call_id",), "agent": ("agent", "extension"), "number": ("caller", "called")}


def has_audio(row: dict) -> bool:
    """Whether a row's file holds audio to fetch or play: finished (complete or interrupted), not empty."""
    return row.get("status") in ("complete", "interrupted") and bool(row.get("size"))


def rec_key(start: float, rec_id: str) -> bytes:
    return _TIME.pack(max(0, int(start * 1_000_000))) + rec_id.encode()


class RecordingIndex:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(str(self.directory / "recordings.lmdb"), map_size=self._map_size(), max_dbs=8,
                             sync=True, metasync=True, writemap=False, subdir=True)
        self._reserve()
        self.rec = self.env.open_db(b"rec")
        self.ids = self.env.open_db(b"id")
        self.sec = {name: self.env.open_db(name.encode()) for name in _SECONDARY}
        self.open_ids = self.env.open_db(b"open")
        self.copyq = self.env.open_db(b"copyq")
        self._lock = threading.Lock()

    def close(self) -> None:
        self.env.close()

    def _map_size(self) -> int:
        st = os.statvfs(self.directory)
        page = os.sysconf("SC_PAGE_SIZE")
        return max(_MIN_MAP, min(_MAP_SIZE, st.f_blocks * st.f_frsize // 8) // page * page)

    def _reserve(self) -> None:
        """Give the data file its whole map on disk now, while there is room (a log line if there is not)."""
        size = self.env.info()["map_size"]
        try:
            fd = os.open(self.directory / "recordings.lmdb" / "data.mdb", os.O_RDWR)
            try:
                if os.fstat(fd).st_blocks * 512 < size:
                    os.posix_fallocate(fd, 0, size)
            finally:
                os.close(fd)
        except OSError as exc:
            log.error("recorder: cannot reserve %d KiB for the recordings index (%s): on a full disk its rows "
                      "wait in memory", size >> 10, exc)

    def _write(self, fn) -> Any:
        with self._lock:
            while True:
                try:
                    with self.env.begin(write=True) as txn:
                        return fn(txn)
                except lmdb.MapFullError:
                    size = self.env.info()["map_size"]
                    if size * 2 > _MAP_MAX:
                        raise
                    self.env.set_mapsize(size * 2)
                    self._reserve()

    # --- writing ---------------------------------------------------------------------------------

    def put(self, row: dict) -> None:
        """Insert or replace a row (by ``id``); ``start`` and ``id`` never change for a recording."""
        key = rec_key(row["start"], row["id"])

        def fn(txn: lmdb.Transaction) -> None:
            old = txn.get(row["id"].encode(), db=self.ids)
            if old is not None:
                self._drop_secondary(txn, bytes(old), msgpack.unpackb(txn.get(old, db=self.rec)))
                txn.delete(old, db=self.rec)
            txn.put(key, msgpack.packb(row), db=self.rec)
            txn.put(row["id"].encode(), key, db=self.ids)
            self._add_secondary(txn, key, row)

        self._write(fn)

    def update(self, rec_id: str, **fields: Any) -> dict | None:
        """Change some fields of a row (not ``start``/``id``); returns the new row or None if absent."""
        return self._write(lambda txn: self._update_txn(txn, rec_id, fields))

    def update_many(self, changes: list[tuple[str, dict[str, Any]]]) -> int:
        """Several ``update``s in one transaction (one fsync); returns how many rows existed."""

        def fn(txn: lmdb.Transaction) -> int:
            return sum(self._update_txn(txn, rec_id, fields) is not None for rec_id, fields in changes)

        return self._write(fn) if changes else 0

    def _update_txn(self, txn: lmdb.Transaction, rec_id: str, fields: dict[str, Any]) -> dict | None:
        key = txn.get(rec_id.encode(), db=self.ids)
        if key is None:
            return None
        row = msgpack.unpackb(txn.get(key, db=self.rec))
        self._drop_secondary(txn, bytes(key), row)
        row.update(fields)
        txn.put(key, msgpack.packb(row), db=self.rec)
        self._add_secondary(txn, bytes(key), row)
        return row

    def _add_secondary(self, txn: lmdb.Transaction, key: bytes, row: dict) -> None:
        for name, fields in _SECONDARY.items():
            for value in {str(row.get(f) or "") for f in fields} - {""}:
                txn.put(value.encode() + b"\0" + key, b"", db=self.sec[name])
        rid = row["id"].encode()
        if row.get("status") == "recording":
            txn.put(rid, b"", db=self.open_ids)
        else:
            txn.delete(rid, db=self.open_ids)
        if row.get("copy") in COPY_TODO and row.get("status") != "purged":
            txn.put(rid, b"", db=self.copyq)
        else:
            txn.delete(rid, db=self.copyq)

    def _drop_secondary(self, txn: lmdb.Transaction, key: bytes, row: dict) -> None:
        for name, fields in _SECONDARY.items():
            for value in {str(row.get(f) or "") for f in fields} - {""}:
                txn.delete(value.encode() + b"\0" + key, db=self.sec[name])

    # --- reading ---------------------------------------------------------------------------------

    def get(self, rec_id: str) -> dict | None:
        with self.env.begin() as txn:
            key = txn.get(rec_id.encode(), db=self.ids)
            return None if key is None else msgpack.unpackb(txn.get(key, db=self.rec))

    def rows(self, since: float | None = None, until: float | None = None,
             reverse: bool = False, after: bytes | None = None) -> Iterator[dict]:
        """Rows in start-time order (oldest first unless ``reverse``), within [since, until], strictly
        after the row key ``after`` in that order if given (``rec_key``: a page's cursor)."""
        lo = _TIME.pack(max(0, int((since or 0) * 1_000_000)))
        hi = _TIME.pack(int(until * 1_000_000) + 1) if until is not None else b"\xff" * 9
        if after is not None:  # hi is exclusive; the smallest key after ``after`` is ``after + NUL``
            hi, lo = (min(hi, after), lo) if reverse else (hi, max(lo, after + b"\0"))
        with self.env.begin(db=self.rec) as txn:
            cur = txn.cursor()
            if reverse:
                ok = cur.set_range(hi)
                ok = cur.prev() if ok else cur.last()
                while ok and cur.key() >= lo:
                    yield msgpack.unpackb(cur.value())
                    ok = cur.prev()
            else:
                ok = cur.set_range(lo)
                while ok and cur.key() < hi:
                    yield msgpack.unpackb(cur.value())
                    ok = cur.next()

    def _by(self, name: str, value: str) -> list[dict]:
        prefix = value.encode() + b"\0"
        out = []
        with self.env.begin() as txn:
            cur = txn.cursor(db=self.sec[name])
            ok = cur.set_range(prefix)
            while ok and cur.key().startswith(prefix):
                row = txn.get(cur.key()[len(prefix):], db=self.rec)
                if row is not None:
                    out.append(msgpack.unpackb(row))
                ok = cur.next()
        return out  # time order: the rec key (time first) follows the prefix

    def query(self, *, since: float | None = None, until: float | None = None, agent: str | None = None,
              number: str | None = None, call_id: str | None = None, status: str | None = None,
              limit: int = 100, newest_first: bool = False, after: bytes | None = None) -> list[dict]:
        """Rows matching every given criterion, in start-time order, at most ``limit``; with ``after``
        (a row's ``rec_key``), only the rows that come after it in that order.

        ``number`` matches the caller or the called number exactly, ``agent`` the agent ID or the
        extension. Uses the most selective index
        (call id, then agent, then number) and filters the rest.
        """
        if call_id is not None:
            rows: list[dict] | Iterator[dict] = self._by("call", call_id)
        elif agent is not None:
            rows = self._by("agent", agent)
        elif number is not None:
            rows = self._by("number", number)
        else:
            rows = self.rows(since, until, reverse=newest_first, after=after)
        if isinstance(rows, list) and newest_first:
            rows.reverse()
        out = []
        for row in rows:
            if after is not None and isinstance(rows, list):
                key = rec_key(row["start"], row["id"])
                if key >= after if newest_first else key <= after:
                    continue
            if since is not None and row["start"] < since or until is not None and row["start"] > until:
                continue
            if agent is not None and agent not in (row.get("agent"), row.get("extension")):
                continue
            if number is not None and number not in (row.get("caller"), row.get("called")):
                continue
            if call_id is not None and row.get("call_id") != call_id:
                continue
            if status is not None and row.get("status") != status:
                continue
            out.append(row)
            if len(out) >= limit:
                break
        return out

    def unfinished(self) -> list[dict]:
        """Rows still ``recording`` (after a crash: the recordings it interrupted)."""
        return self._listed(self.open_ids)

    def copy_todo(self) -> list[dict]:
        """Rows whose second copy is still to be made or remade."""
        return self._listed(self.copyq)

    def _listed(self, db: Any) -> list[dict]:
        with self.env.begin() as txn:
            ids = [bytes(k) for k, _ in txn.cursor(db=db)]
            keys = [txn.get(i, db=self.ids) for i in ids]
            rows = [msgpack.unpackb(txn.get(k, db=self.rec)) for k in keys if k is not None]
        return sorted(rows, key=lambda r: r["start"])

    def count(self) -> int:
        with self.env.begin(db=self.rec) as txn:
            return txn.stat(self.rec)["entries"]
