"""The off-tick writer: one thread that turns tapped blocks into WAV files, fsyncs and indexes them.

The tick side calls ``offer(block)`` (one ``TapBlock`` per tick for all recordings). It never
blocks on disk: it takes a lock for a deque append and, if ``queue_ticks`` blocks are already
waiting, drops the block and counts it (``dropped``); the writer thread then raises the
``recorder.overrun`` alarm and fills the lost ticks with silence so both channels keep their timing.
Control requests (open, close, barrier, stop) go through the same deque in order, so a recording's
frames always land between its open and its close; they are never dropped (there are at most a few
per call).

The thread wakes at once for a control request, for audio every ``batch_interval`` (100 ms) or
when half the queue is used (so the tick hands the GIL over rarely), drains everything queued, encodes each block for all recordings at once with numpy
(interleave for stereo, table lookup for PCM, sum-and-clip for mixed mono), and appends each
recording's frames with one ``writev``. A recording's file is created with its header (sizes 0) right
after its index row (status ``recording``) is committed; on close the header gets the real sizes,
the file and its directory are fsync'd, the sha256 of the file on disk is computed, and only then is
the row committed as ``complete`` and the ``recording.finished`` event emitted.

Every ``sync_interval`` seconds (10) the header of each open file is brought up to date and its data
fdatasync'd: a power cut loses at most that much, and a file in progress already plays.

A segment that reaches ``max_segment_bytes`` (1 GiB: 18 h of stereo A-law; WAV sizes are 32-bit)
is finalized ``complete`` and the call continues, without a gap, in the next segment.

An index write that fails (the index's disk is full too) costs nothing: the row is held in memory
(the newest version of each), the alarm ``recorder.index_error`` is raised, and the held rows are
written again every ``index_retry_s`` (1 s) until they land; then the alarm is cleared. A
recording's ``recording.finished`` is emitted only once its final row is in the index, so a client
that gets it can query and fetch the recording.

A failed write (ENOSPC/EDQUOT: the disk is full) finalizes the file as ``interrupted`` (note
``disk full``), suspends the recording and raises ``recorder.disk_full``; while it is raised new
recordings are registered suspended (no file). Every ``check_interval`` seconds the writer looks at
the free space: under ``min_free_bytes`` it enters the same state before the disk is actually full;
at ``resume_free_bytes`` or more it clears the alarm and opens a new segment for every suspended
recording of a call still in progress. Nothing here raises into the tick or the daemon.
"""

from __future__ import annotations

import collections
import errno
import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hal.clock import FRAME_SAMPLES, SAMPLE_RATE
from hal.dsp.g711 import ALAW_SILENCE, alaw_to_linear, linear_to_alaw
from recorder.held_rows import HeldRows
from recorder.index import RecordingIndex
from recorder.tap import TapBlock
from recorder.wav import Format, header

log = logging.getLogger(__name__)

_SPACE_ERRORS = (errno.ENOSPC, errno.EDQUOT)
_MAX_GAP_TICKS = 3000  # silence filled for lost ticks at most (1 minute)
INDEX_RETRY_S = 1.0  # index rows the index refused are written again this often
_IOV_MAX = 512
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")

Event = dict[str, Any]


@dataclass
class OpenRequest:
    key: str  # the call id
    fmt: Format
    row: dict  # call_id, start, caller, called, trunk, agent, queue, direction, reason


@dataclass
class CloseRequest:
    key: str
    end: float
    note: str = ""  # non-empty: the recording is finalized as interrupted with this note
    seq: int | None = None  # the tap's last tick: ticks dropped at the very end become silence too


@dataclass
class _Barrier:
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Stop:
    pass


@dataclass
class _Rec:
    key: str
    fmt: Format
    base: dict
    row: dict | None = None  # the index row of the open segment
    fd: int | None = None
    path: Path | None = None
    data: int = 0  # audio bytes written after the header
    last_seq: int | None = None
    resumable: bool = True


def file_name(rec_id: str, start: float) -> str:
    """Where a recording lives, relative to the recordings directory: UTC day / safe id.wav."""
    return time.strftime("%Y%m%d", time.gmtime(start)) + "/" + _UNSAFE.sub("_", rec_id) + ".wav"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def encode(fmt: Format, frames: np.ndarray) -> np.ndarray:
    """(n, 2, 160) A-law left/right frames → (n, bytes) the data of ``fmt`` for each of the n."""
    n = len(frames)
    if fmt is Format.STEREO_ALAW:
        return np.ascontiguousarray(frames.transpose(0, 2, 1)).reshape(n, -1)
    lin = alaw_to_linear(frames)
    if fmt is Format.STEREO_PCM16:
        return np.ascontiguousarray(lin.transpose(0, 2, 1)).astype("<i2").view(np.uint8).reshape(n, -1)
    mono = np.clip(lin[:, 0].astype(np.int32) + lin[:, 1], -32768, 32767).astype(np.int16)
    if fmt is Format.MONO_PCM16:
        return mono.astype("<i2").view(np.uint8).reshape(n, -1)
    return linear_to_alaw(mono)


def silence(fmt: Format, ticks: int) -> bytes:
    fill = bytes([ALAW_SILENCE]) if fmt.alaw else b"\0"
    return fill * (ticks * FRAME_SAMPLES * fmt.block_align)


class RecordingWriter:
    def __init__(self, root: str | Path, index: RecordingIndex, *, queue_ticks: int = 250,
                 min_free_bytes: int = 0, resume_free_bytes: int = 1 << 20, check_interval: float = 1.0,
                 on_event: Callable[[Event], None] | None = None, backup: bool = False,
                 batch_interval: float = 0.1, max_segment_bytes: int = 1 << 30,
                 sync_interval: float = 10.0, index_retry_s: float = INDEX_RETRY_S,
                 held_rows: tuple[dict, ...] = (), held_finished: tuple[dict, ...] = (),
                 held_file: HeldRows | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.index = index
        self.queue_ticks = queue_ticks
        self.min_free_bytes = min_free_bytes
        self.resume_free_bytes = resume_free_bytes
        self.check_interval = check_interval
        self.batch_interval = batch_interval
        self.sync_interval = sync_interval
        self.index_retry_s = index_retry_s
        self.max_segment_bytes = max_segment_bytes  # WAV sizes are 32-bit: long calls continue in a new file
        self._wake_at = max(1, queue_ticks // 2)
        self.on_event = on_event
        self.backup = backup
        self.events: collections.deque[Event] = collections.deque(maxlen=1000)
        self.alarms: dict[str, str] = {}
        self.dropped = 0  # blocks the tick side could not queue
        self.gap_ticks = 0  # ticks filled with silence because of drops
        self.bytes_written = 0
        self.disk_full = False
        self._recs: dict[str, _Rec] = {}
        # recording id → its newest row, refused by the index so far (``held_rows``: crash recovery's;
        # ``held_finished``: finished before a crash, their recording.finished still due), saved in
        # ``held_file`` whenever that set changes, so a crash does not lose them
        self.unindexed: dict[str, dict] = {r["id"]: dict(r) for r in (*held_finished, *held_rows)}
        self._finish_due: set[str] = {r["id"] for r in held_finished}  # ids whose recording.finished waits for their row
        self.held_file = held_file
        self._held_changes = 1 if self.unindexed else 0  # changes to ``unindexed`` ...
        self._held_saved = 0  # ... and the one ``held_file`` has
        self._save_held()
        self._index_retry_at = 0.0
        self._cond = threading.Condition()
        self._alarm_lock = threading.Lock()
        self._items: collections.deque[Any] = collections.deque()
        self._audio = 0
        self._control = 0
        self._closed = False
        self._dropped_seen = 0
        self._last_drop = 0.0
        self._last_check = 0.0
        self._last_sync = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="recorder-writer", daemon=True)
        self._thread.start()

    # --- the tick side ---------------------------------------------------------------------------

    def offer(self, block: TapBlock) -> bool:
        """Queue one tick's block; never blocks. False (and counted) if the queue is full."""
        with self._cond:
            if self._audio >= self.queue_ticks or self._closed:
                self.dropped += 1
                return False
            self._items.append(block)
            self._audio += 1
            if self._audio == self._wake_at:  # otherwise the writer wakes every batch_interval
                self._cond.notify()
        return True

    # --- control (from the daemon's loop, between ticks) ------------------------------------------

    def request(self, item: OpenRequest | CloseRequest) -> None:
        self._put_control(item)

    def _put_control(self, item: Any) -> None:
        with self._cond:
            self._items.append(item)
            self._control += 1
            self._cond.notify()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued so far is written (tests, shutdown). Not for the tick."""
        barrier = _Barrier()
        self._put_control(barrier)
        return barrier.done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Finish: open recordings are finalized as interrupted (note ``shutdown``)."""
        with self._cond:
            if self._closed:
                return
            self._items.append(_Stop())
            self._control += 1
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)

    def pending(self) -> int:
        return self._audio

    # --- the thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                # wake for control requests at once, for audio when half the queue is used, else
                # every batch_interval: few wake-ups (GIL hand-overs) and large writes
                deadline = time.monotonic() + min(self.batch_interval, self.check_interval)
                while not self._control and self._audio < self._wake_at:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch = list(self._items)
                self._items.clear()
                self._audio = self._control = 0
            stop = self._process(batch)
            try:
                self._periodic()
            except Exception:
                log.exception("recorder: periodic check failed")
            if stop:
                return

    def _process(self, batch: list[Any]) -> bool:
        """Handle a batch in order; an unexpected error costs one item, never the batch's barriers."""
        pending: dict[str, list[Any]] = {}
        for item in batch:
            try:
                if isinstance(item, TapBlock):
                    self._block(item, pending)
                    continue
                self._flush(pending)
                if isinstance(item, OpenRequest):
                    self._open_request(item)
                elif isinstance(item, CloseRequest):
                    self._close_request(item)
                elif isinstance(item, _Barrier):
                    item.done.set()
                elif isinstance(item, _Stop):
                    for rec in list(self._recs.values()):
                        self._finalize(rec, time.time(), "shutdown")
                    self._recs.clear()
                    if self.unindexed:
                        log.error("recorder: stopping with %d index rows the index refused: %s (recovered at the "
                                  "next start)", len(self.unindexed), ", ".join(self.unindexed))
                    return True
            except Exception:  # never let the writer die: recordings would stop silently
                log.exception("recorder: writer failed on %s", type(item).__name__)
                self.alarm("recorder.write_error", True, "internal error, see the log")
        try:
            self._flush(pending)
        except Exception:
            log.exception("recorder: writer failed on a flush")
            self.alarm("recorder.write_error", True, "internal error, see the log")
        return False

    def _block(self, block: TapBlock, pending: dict[str, list[Any]]) -> None:
        frames = block.frames.reshape(len(block.keys), 2, FRAME_SAMPLES)
        encoded: dict[Format, np.ndarray] = {}
        for i, key in enumerate(block.keys):
            rec = self._recs.get(key)
            if rec is None or rec.fd is None:
                continue
            out = pending.setdefault(key, [])
            if rec.last_seq is not None and block.seq - rec.last_seq > 1:
                gap = block.seq - rec.last_seq - 1
                self.gap_ticks += gap
                out.append(silence(rec.fmt, min(gap, _MAX_GAP_TICKS)))
            rec.last_seq = block.seq
            enc = encoded.get(rec.fmt)
            if enc is None:
                enc = encoded[rec.fmt] = encode(rec.fmt, frames)
            out.append(enc[i])

    def _flush(self, pending: dict[str, list[Any]]) -> None:
        while pending:  # popped first: an error never writes the same frames twice
            key, bufs = pending.popitem()
            rec = self._recs.get(key)
            if rec is not None and rec.fd is not None:
                self._write(rec, bufs)
                if rec.fd is not None and rec.data >= self.max_segment_bytes:
                    now = time.time()
                    self._finalize(rec, now, "")
                    self._open_segment(rec, now)

    def _write(self, rec: _Rec, bufs: list[Any]) -> None:
        assert rec.fd is not None
        try:
            for i in range(0, len(bufs), _IOV_MAX):
                chunk = bufs[i:i + _IOV_MAX]
                want = sum(len(memoryview(b).cast("B")) for b in chunk)
                done = os.writev(rec.fd, chunk)
                if done < want:  # a short write: the rest, or the error that caused it
                    rest = b"".join(bytes(memoryview(b).cast("B")) for b in chunk)[done:]
                    while rest:
                        n = os.write(rec.fd, rest)
                        done += n
                        rest = rest[n:]
                rec.data += done
                self.bytes_written += done
        except OSError as exc:
            self._write_failed(rec, exc)

    def _write_failed(self, rec: _Rec, exc: OSError) -> None:
        full = exc.errno in _SPACE_ERRORS
        note = "disk full" if full else f"write error: {exc.strerror}"
        log.error("recorder: %s: %s", rec.path, note)
        self._finalize(rec, time.time(), note)
        if full:
            self._enter_full(str(exc))
        else:
            rec.resumable = False
            self.alarm("recorder.write_error", True, f"{rec.path}: {exc.strerror}")

    def _enter_full(self, detail: str) -> None:
        if not self.disk_full:
            self.disk_full = True
            self.alarm("recorder.disk_full", True, detail)
        for rec in self._recs.values():
            if rec.fd is not None:
                self._finalize(rec, time.time(), "disk full")

    # --- open and finalize -----------------------------------------------------------------------

    def _open_request(self, req: OpenRequest) -> None:
        old = self._recs.pop(req.key, None)
        if old is not None:
            self._finalize(old, req.row["start"], "")
        rec = self._recs[req.key] = _Rec(req.key, req.fmt, dict(req.row))
        if not self.disk_full:
            self._open_segment(rec, req.row["start"])
        else:
            self.emit("recording.suspended", call_id=req.key, note="disk full")

    def _open_segment(self, rec: _Rec, start: float) -> None:
        ids = {r["id"] for r in self.index.query(call_id=rec.key, limit=1 << 20)}
        segment = len(ids | {rid for rid, r in self.unindexed.items() if r["call_id"] == rec.key}) + 1
        rec_id = f"{rec.key}-{segment}"
        rel = file_name(rec_id, start)
        row = dict(rec.base, id=rec_id, call_id=rec.key, segment=segment, start=start, end=None,
                   file=rel, format=rec.fmt.value, size=0, duration=0.0, sha256="", status="recording",
                   note="", copy="none", copy_attempts=0, copy_error="")
        rec.row, rec.data, rec.last_seq = row, 0, None
        rec.path = self.root / rel
        self._index(row)  # the index may sit on a full disk too: record anyway, the row is held
        try:
            parent = rec.path.parent
            if not parent.is_dir():
                parent.mkdir(parents=True, exist_ok=True)
                fsync_dir(self.root)
            rec.fd = os.open(rec.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
            hdr = header(rec.fmt)
            if os.write(rec.fd, hdr) != len(hdr):
                raise OSError(errno.ENOSPC, "short header write")
        except OSError as exc:
            log.error("recorder: cannot create %s: %s", rec.path, exc)
            self._write_failed(rec, exc)
            return
        self.emit("recording.started", id=rec_id, call_id=rec.key, file=rel)

    def _finalize(self, rec: _Rec, end: float, note: str) -> None:
        """Close the open segment: real sizes, fsync file and directory, checksum, index row."""
        row, path, fd = rec.row, rec.path, rec.fd
        rec.fd = None
        if row is None or path is None:
            return
        rec.row = None
        hs = rec.fmt.header_size
        try:
            if fd is None:
                raise FileNotFoundError(path)
            try:
                size = os.fstat(fd).st_size
                data = max(0, size - hs)
                data -= data % rec.fmt.block_align
                if size != hs + data:
                    os.ftruncate(fd, hs + data)
                os.pwrite(fd, header(rec.fmt, data), 0)
                os.fsync(fd)
            finally:
                os.close(fd)
            fsync_dir(path.parent)
            row.update(size=hs + data, duration=round(data / rec.fmt.block_align / SAMPLE_RATE, 3),
                       sha256=sha256_file(path))
        except OSError as exc:
            if fd is not None:
                log.error("recorder: cannot finalize %s: %s", path, exc)
            note = note or f"finalize failed: {getattr(exc, 'strerror', None) or exc}"
            try:  # keep whatever audio reached the disk; the row says what we know of it
                size = path.stat().st_size
                sha = sha256_file(path) if size > hs else ""
            except OSError:
                size, sha = 0, ""
            data = max(0, size - hs)
            row.update(size=size if data else 0, sha256=sha,
                       duration=round(data // rec.fmt.block_align / SAMPLE_RATE, 3))
            if not data:
                path.unlink(missing_ok=True)
        row.update(end=end, status="interrupted" if note else "complete", note=note,
                   copy="pending" if self.backup and row["size"] else "none")
        self._index(row, finished=True)

    # --- the index: rows it refused are held and written again ---------------------------------------

    def _index(self, row: dict, finished: bool = False) -> None:
        """Commit ``row`` (after the rows still held, in order); ``finished``: emit ``recording.finished``
        once it is in the index."""
        self.unindexed.pop(row["id"], None)
        self.unindexed[row["id"]] = dict(row)
        self._held_changes += 1
        if finished:
            self._finish_due.add(row["id"])
        self._retry_index()

    def _save_held(self) -> None:
        """Bring ``held_file`` up to date if the held rows changed since it was saved: on disk while the
        index refuses rows, emptied once they have landed (nothing to write while the index is well)."""
        if self.held_file is None or self._held_saved == self._held_changes:
            return
        if self.unindexed or self.held_file.rows():
            self.held_file.save(list(self.unindexed.values()))
        self._held_saved = self._held_changes

    def _retry_index(self) -> None:
        while self.unindexed:
            rid, row = next(iter(self.unindexed.items()))
            try:
                self.index.put(row)
            except Exception as exc:
                self._index_retry_at = time.monotonic() + self.index_retry_s
                if "recorder.index_error" not in self.alarms:
                    log.error("recorder: index write failed for %s: %s (held, written again when it can)", rid, exc)
                self.alarm("recorder.index_error", True, f"index writes fail: {exc}")
                self._save_held()
                return
            del self.unindexed[rid]
            self._held_changes += 1
            if rid in self._finish_due:
                self._finish_due.discard(rid)
                self.emit("recording.finished", **row)
        self._save_held()
        if "recorder.index_error" in self.alarms:
            log.warning("recorder: the index takes writes again: every held row written")
            self.alarm("recorder.index_error", False, "")

    def _close_request(self, req: CloseRequest) -> None:
        rec = self._recs.pop(req.key, None)
        if rec is None:
            return
        if rec.fd is not None and req.seq is not None and rec.last_seq is not None and req.seq > rec.last_seq:
            gap = req.seq - rec.last_seq
            self.gap_ticks += gap
            self._write(rec, [silence(rec.fmt, min(gap, _MAX_GAP_TICKS))])
        self._finalize(rec, req.end, req.note)

    # --- periodic: free space, overruns ----------------------------------------------------------

    def _periodic(self) -> None:
        now = time.monotonic()
        if self.unindexed and now >= self._index_retry_at:
            self._retry_index()
        if self.dropped != self._dropped_seen:
            self._dropped_seen = self.dropped
            self._last_drop = now
            self.alarm("recorder.overrun", True, "writer queue full, ticks dropped")
        elif "recorder.overrun" in self.alarms and now - self._last_drop > 5.0:
            self.alarm("recorder.overrun", False, "")
        if now - self._last_sync >= self.sync_interval:
            self._last_sync = now
            self._sync_open()
        if now - self._last_check < self.check_interval:
            return
        self._last_check = now
        try:
            free = free_bytes(self.root)
        except OSError as exc:
            self.alarm("recorder.write_error", True, f"{self.root}: {exc.strerror}")
            return
        if not self.disk_full and free < self.min_free_bytes:
            self._enter_full(f"{free} bytes free, under {self.min_free_bytes}")
        elif self.disk_full and free >= self.resume_free_bytes:
            self.disk_full = False
            self.alarm("recorder.disk_full", False, f"{free} bytes free")
            for rec in self._recs.values():
                if rec.fd is None and rec.resumable:
                    self._open_segment(rec, time.time())
                    if self.disk_full:
                        break

    def _sync_open(self) -> None:
        """Recordings in progress: header sizes brought up to date and data fdatasync'd, so a power
        cut loses at most ``sync_interval`` seconds and the file plays even before it is repaired."""
        for rec in self._recs.values():
            if rec.fd is None:
                continue
            try:
                os.pwrite(rec.fd, header(rec.fmt, rec.data), 0)
                os.fdatasync(rec.fd)
            except OSError as exc:
                self._write_failed(rec, exc)

    # --- events and alarms -----------------------------------------------------------------------

    def emit(self, kind: str, **data: Any) -> None:
        ev = {"event": kind, **data}
        self.events.append(ev)
        if self.on_event is not None:
            try:
                self.on_event(ev)
            except Exception:
                log.exception("recorder: event callback failed")

    def alarm(self, name: str, active: bool, detail: str) -> None:
        """Raise (or clear) an alarm; emits ``recorder.alarm`` when it changes. Any thread."""
        with self._alarm_lock:
            if active:
                if self.alarms.get(name) == detail:
                    return
                self.alarms[name] = detail
            elif self.alarms.pop(name, None) is None:
                return
        self.emit("recorder.alarm", name=name, active=active, detail=detail)
