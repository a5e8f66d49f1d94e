"""Durable storage in LMDB: call detail records and the journal of calls in progress.

CDRs are append-only under time-ordered keys (8-byte big-endian microseconds since the epoch +
4-byte sequence), so a range scan is a time range. A call in progress has a row in ``active``;
finishing the call writes its CDR and deletes that row in one transaction. After a kill -9 or a
power cut, ``interrupted`` turns the rows left in ``active`` into CDRs marked interrupted, ended at
the previous run's last-alive mark (``daemon.store.alive_mark``), not at the restart.

The environment is opened with ``sync=True, metasync=True`` (shared/reference: no acknowledged row
lost under kill -9 or power cut). Writes run on one worker thread (``StoreWriter``) so fsync never
runs on the 20 ms tick; a write's future completes only once LMDB has committed it to disk.

A full disk must not stop CDRs landing (recordings and logs fill disks; CDRs are small): the
database file is given its whole map up front (``posix_fallocate``), so LMDB's writes land in blocks
it already owns. The map is sized to the filesystem: a quarter of it, at most 64 MiB, at least
``MIN_RESERVE``; where not even that fits, the store refuses to open (``StoreError``, and the daemon
does not start). When the map itself fills on a full disk it cannot grow: the store writer then keeps
each finished call's CDR in memory and in a small preallocated journal (``daemon.store.cdr_journal``),
raises an alarm and retries every ``RETRY_S`` until the store takes them, then clears the alarm.
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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lmdb
import msgpack

from daemon.store.alive_mark import AliveMark
from daemon.store.cdr_journal import JOURNAL_SIZE, CdrJournal, JournalFull, NoJournal

log = logging.getLogger(__name__)

_KEY = struct.Struct(">QI")
_MAP_SIZE = 64 << 20
_MAP_MAX = 64 << 30
MIN_RESERVE = 256 << 10  # the smallest store worth starting with: several hundred CDRs
RETRY_S = 1.0  # CDRs the store refused are offered again this often
ENV_OPTIONS = dict(max_dbs=16, sync=True, metasync=True, writemap=False, subdir=True)  # durability: see above


class StoreError(Exception):
    """The store cannot be opened where it is configured (names the directory and why)."""


def _allocated(path: Path) -> int:
    try:
        return path.stat().st_blocks * 512
    except FileNotFoundError:
        return 0


def reservation(directory: Path, want: int | None = None) -> int:
    """How many bytes the CDR database gets up front in ``directory``: ``want`` (default a quarter of the
    filesystem, at most 64 MiB), cut to what is free plus what it already owns, or ``StoreError`` where
    that is under ``MIN_RESERVE`` (with the journal's share)."""
    st = os.statvfs(directory)
    total, free = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
    data = directory / "callbox.lmdb" / "data.mdb"
    owned = _allocated(data)
    journal_need = max(0, JOURNAL_SIZE - _allocated(directory / "cdr.journal"))
    want = want if want is not None else min(_MAP_SIZE, max(MIN_RESERVE, total // 4))
    room = free - journal_need + owned
    if room < min(want, MIN_RESERVE):
        raise StoreError(f"{directory}: no room for the CDR store: {free >> 10} KiB free of {total >> 10} KiB, "
                         f"it needs at least {(min(want, MIN_RESERVE) + journal_need) >> 10} KiB")
    page = os.sysconf("SC_PAGE_SIZE")
    return max(owned, min(want, room) // page * page)


class Store:
    """The daemon's LMDB environment (opened only by the daemon). ``map_size``: the bytes reserved for it
    (default: sized to the filesystem, see ``reservation``)."""

    def __init__(self, directory: str | Path, map_size: int | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        size = reservation(self.directory, map_size)
        self.env = lmdb.open(str(self.directory / "callbox.lmdb"), map_size=size, **ENV_OPTIONS)
        try:
            self._reserve(at_start=True)
        except OSError as exc:
            self.env.close()
            raise StoreError(f"{self.directory}: cannot reserve room for the CDR store: {exc.strerror or exc}") from exc
        self.journal: CdrJournal | NoJournal
        try:
            self.journal = CdrJournal(self.directory / "cdr.journal")
        except OSError as exc:  # the store has its room (an older box first started on a full disk): start
            log.error("store: cannot create the CDR journal (%s): CDRs the store refuses are held in memory only",
                      exc.strerror or exc)
            self.journal = NoJournal(exc.strerror or str(exc))
        try:
            self.alive = AliveMark(self.directory / "alive")
        except OSError as exc:
            self.journal.close()
            self.env.close()
            raise StoreError(f"{self.directory}: cannot open the last-alive mark: {exc.strerror or exc}") from exc
        self.cdr = self.env.open_db(b"cdr")
        self.active = self.env.open_db(b"active")
        self.audit = self.env.open_db(b"audit")  # API changes: who, when, what (time-ordered keys)
        self._seq = itertools.count()
        self._lock = threading.Lock()

    @property
    def last_alive(self) -> float | None:
        """When the previous run was last known alive (its last-alive mark), if it left one."""
        return self.alive.previous

    def close(self) -> None:
        self.journal.close()
        self.alive.close()
        self.env.close()

    def _reserve(self, at_start: bool = False) -> None:
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
            if at_start:
                raise
            log.error("store: cannot reserve %d KiB for the database (%s): CDRs wait in the journal until "
                      "there is room", size >> 10, exc)

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
        self.put_active({call_id: record})

    def update_call(self, call_id: str, record: dict) -> None:
        self.begin_call(call_id, record)

    def put_active(self, rows: dict[str, dict]) -> None:
        """Write (or rewrite) the rows of calls in progress, in one transaction."""

        def txn_fn(txn: lmdb.Transaction) -> None:
            for call_id, record in rows.items():
                txn.put(call_id.encode(), msgpack.packb(record), db=self.active)

        self._write(txn_fn)

    def cdr_key(self, cdr: dict) -> bytes:
        """A new CDR's key: its end time and a sequence number."""
        return self._key(cdr.get("end") or time.time())

    def finish_call(self, call_id: str, cdr: dict, key: bytes | None = None) -> bytes:
        """Append the CDR and drop the active row, atomically. Returns the CDR's key."""
        return self.finish_calls([(key or self.cdr_key(cdr), call_id, cdr)])[0]

    def finish_calls(self, items: list[tuple[bytes, str, dict]]) -> list[bytes]:
        """Several ``(key, call_id, cdr)`` finishes in one transaction (one fsync). A key already stored is
        left as it is (a journal replayed after the store had taken its CDR)."""

        def txn_fn(txn: lmdb.Transaction) -> list[bytes]:
            for key, call_id, cdr in items:
                txn.put(key, msgpack.packb(cdr), db=self.cdr, overwrite=False)
                txn.delete(call_id.encode(), db=self.active)
            return [key for key, _, _ in items]

        return self._write(txn_fn)

    def interrupted(self, last_alive: float | None = None, now: float | None = None,
                    skip: set[str] | frozenset[str] = frozenset(),
                    journalled: dict[str, dict] | None = None) -> list[tuple[str, dict]]:
        """The calls a crash left in progress, as ``(call_id, cdr)`` marked interrupted and ended at
        ``last_alive`` (the crashed run's last-alive mark; ``now`` without one), never before they were
        answered or began. ``skip``: calls whose CDR is already held (the journal); ``journalled``: rows
        of calls in progress the store had refused (the journal's; newer than the store's)."""
        now = time.time() if now is None else now
        with self.env.begin(db=self.active) as txn:
            rows = {bytes(k).decode(): msgpack.unpackb(v) for k, v in txn.cursor()}
        rows.update(journalled or {})
        out = []
        for call_id, rec in rows.items():
            if call_id in skip:
                continue
            rec = dict(rec)
            start = rec.get("start") or now
            ans = rec.get("answer")
            end = rec.get("end") or max(min(last_alive or now, now), ans or start, start)
            rec.update(interrupted=True, disposition="INTERRUPTED", end=end)
            rec.setdefault("cause", 41)  # temporary failure
            rec["duration"] = round(max(0.0, end - start), 3)
            rec["billsec"] = round(max(0.0, end - ans), 3) if ans else 0.0
            out.append((call_id, rec))
        return out

    def recover_interrupted(self, now: float | None = None, last_alive: float | None = None) -> list[dict]:
        """Turn calls left in progress by a crash into CDRs marked interrupted (directly: tests, tools)."""
        rows = self.interrupted(last_alive, now)
        for call_id, rec in rows:
            self.finish_call(call_id, rec)
        return [rec for _, rec in rows]

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
    """Runs store writes in order on one worker thread, off the tick.

    A finished call's CDR the store refuses (a full disk, a map that cannot grow) is never dropped: it
    is held in memory and in the journal, the alarm ``CDR_STORE`` is raised (``on_alarm(True, detail)``),
    and ``retry_due`` (called by the service's once-a-second timer) offers the held CDRs again every
    ``retry_s`` until the store takes them; then the journal is emptied and the alarm cleared
    (``on_alarm(False, detail)``). A call in progress whose row the store refuses is held the same way
    (``held_active``: a crash still leaves an interrupted CDR for it), until its CDR replaces it or the
    store takes the row. What a crash left in the journal is held again at start. ``on_alarm`` is
    called on the worker thread (or in the constructor).
    """

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.monotonic, retry_s: float = RETRY_S,
                 on_alarm: Callable[[bool, str], None] | None = None) -> None:
        self.store = store
        self.clock = clock
        self.retry_s = retry_s
        self.on_alarm = on_alarm
        self.held: dict[bytes, tuple[str, dict]] = {}  # key → (call id, CDR): refused by the store so far
        self.held_active: dict[str, dict] = {}  # call id → its row, of calls in progress the store refused
        self.alarm: str | None = None  # the alarm's detail while anything is held
        self._next_retry = 0.0
        self._retrying = False
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        for key, call_id, record in store.journal.entries():
            if key:
                self.held[key] = (call_id, record)
            else:  # an in-progress row: the newest one counts, a CDR replaces it
                self.held_active[call_id] = record
        for call_id in self.held_call_ids:
            self.held_active.pop(call_id, None)
        if self.held or self.held_active:
            log.warning("store: %d CDRs and %d rows of calls in progress from the journal are not in the store yet",
                        len(self.held), len(self.held_active))
            self._set_alarm("the journal holds what the store has not taken yet")

    def submit(self, fn, *args) -> concurrent.futures.Future:
        fut = self._pool.submit(fn, *args)
        fut.add_done_callback(_log_failure)
        return fut

    def begin_call(self, call_id: str, record: dict) -> concurrent.futures.Future:
        return self.submit(self._active, call_id, dict(record))

    def update_call(self, call_id: str, record: dict) -> concurrent.futures.Future:
        return self.submit(self._active, call_id, dict(record))

    def finish_call(self, call_id: str, cdr: dict) -> concurrent.futures.Future:
        """Store a finished call's CDR; the future's result is its key (held or stored, never lost)."""
        cdr = dict(cdr)
        return self.submit(self._finish, self.store.cdr_key(cdr), call_id, cdr)

    def add_audit(self, record: dict) -> concurrent.futures.Future:
        return self.submit(self.store.add_audit, dict(record))

    @property
    def held_call_ids(self) -> set[str]:
        return {call_id for call_id, _ in list(self.held.values())}

    # --- on the worker thread -------------------------------------------------------------------------

    def _active(self, call_id: str, record: dict) -> None:
        try:
            self.store.put_active({call_id: record})
        except Exception as exc:
            self.held_active[call_id] = record
            self._journal(b"", call_id, record, exc)
            return
        self.held_active.pop(call_id, None)
        if self.alarm is not None:
            self._retry()  # the store takes writes again: what is held now, not at the next retry

    def _finish(self, key: bytes, call_id: str, cdr: dict) -> bytes:
        self.held_active.pop(call_id, None)  # the CDR replaces it (held or stored)
        try:
            self.store.finish_call(call_id, cdr, key)
        except Exception as exc:  # the store refuses it: hold it, never drop it
            self.held[key] = (call_id, cdr)
            self._journal(key, call_id, cdr, exc)
            return key
        if self.alarm is not None:
            self._retry()  # the store takes writes again: what is held now, not at the next retry
        return key

    def _journal(self, key: bytes, call_id: str, record: dict, exc: Exception) -> None:
        what = "CDR" if key else "row in progress"
        note = ""
        try:
            self.store.journal.append(key, call_id, record)
        except (JournalFull, OSError) as jexc:
            note = f"; journal: {jexc}"
            log.error("store: %s of call %s held in memory only: %s", what, call_id, jexc)
        log.error("store: %s of call %s not stored (%s): held, %d CDRs waiting", what, call_id, exc, len(self.held))
        if not self.alarm:
            self._next_retry = self.clock() + self.retry_s
        self._set_alarm(self._detail(f"{exc}{note}"))

    def _retry(self) -> None:
        self._retrying = False
        if self.alarm is None:
            return
        items = [(key, call_id, cdr) for key, (call_id, cdr) in list(self.held.items())]
        active = dict(self.held_active)
        try:
            if active:
                self.store.put_active(active)
            if items:
                self.store.finish_calls(items)
        except Exception as exc:
            self._next_retry = self.clock() + self.retry_s
            self._set_alarm(self._detail(str(exc)))
            return
        for key, _, _ in items:
            del self.held[key]
        for call_id in active:
            self.held_active.pop(call_id, None)
        log.warning("store: %d held CDRs and %d rows of calls in progress stored", len(items), len(active))
        try:
            self.store.journal.clear()
        except OSError as exc:  # replaying it later is harmless: the store keeps the CDRs it has
            log.error("store: cannot empty the CDR journal: %s", exc)
        self._set_alarm(None)

    def _detail(self, why: str) -> str:
        calls = f" and {len(self.held_active)} calls in progress" if self.held_active else ""
        return f"{len(self.held)} CDRs{calls} wait for the store: {why}"

    def _set_alarm(self, detail: str | None) -> None:
        raised = detail is not None
        was = self.alarm is not None
        self.alarm = detail
        if raised != was and self.on_alarm is not None:
            try:
                self.on_alarm(raised, detail or "")
            except Exception:
                log.exception("store: alarm callback failed")

    # --- from the loop --------------------------------------------------------------------------------

    def retry_due(self) -> bool:
        """Offer what is held to the store again if it is time (non-blocking: the worker does it)."""
        if self.alarm is None or self._retrying or self.clock() < self._next_retry:
            return False
        self._retrying = True
        self._next_retry = self.clock() + self.retry_s
        self.submit(self._retry)
        return True

    def mark_alive(self, when: float) -> concurrent.futures.Future:
        """Rewrite the last-alive mark (on the worker thread)."""
        return self.submit(self.store.alive.write, when)

    async def flushed(self) -> None:
        """Wait until every write submitted so far is committed (they run in order on one thread), so a
        read that follows sees them: the CDR of a call whose end was just reported, an audited change."""
        await asyncio.wrap_future(self.submit(lambda: None))

    def close(self) -> None:
        """Run what is queued, one last try for what is held (still in the journal if it fails), and stop."""
        if self.alarm is not None:
            self.submit(self._retry)
        self._pool.shutdown(wait=True)


def _log_failure(fut: concurrent.futures.Future) -> None:
    exc = fut.exception()
    if exc is not None:
        log.error("store write failed: %s", exc, exc_info=exc)
