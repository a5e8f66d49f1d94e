"""The ``Recorder`` facade: everything the daemon calls, in one object.

Threads: ``start``, ``stop``, ``tap``, ``alarms``, ``stats`` and ``drain_events`` are for the daemon's
loop thread (``tap`` on the tick; the others between ticks) and never touch the disk. ``query`` reads
the index (an LMDB read transaction, no fsync: fine between ticks). ``fetch`` reads a whole file:
call it from an executor, not the loop. The writer thread does all file writes, fsyncs and index
commits; the housekeeping thread (every ``housekeeping_interval`` seconds) runs retention and the
second copy. Construction runs crash recovery (before the writer starts).

See docs/recorder.md for when the daemon calls what.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recorder import retention
from recorder.backup import BackupCopier
from recorder.held_rows import HeldRows
from recorder.index import RecordingIndex, has_audio
from recorder.policy import CallInfo, RecordingPolicy, decide, demand_start, demand_stop
from recorder.recovery import recover
from recorder.tap import RecordingTaps, Tap
from recorder.wav import Format
from recorder.writer import CloseRequest, Event, OpenRequest, RecordingWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecorderConfig:
    directory: Path  # the recordings (day directories of WAV files)
    index_dir: Path | None = None  # the LMDB index; default directory/.index (better: the state dir)
    backup_dir: Path | None = None  # the second copy; None = no second copy
    policy: RecordingPolicy = field(default_factory=RecordingPolicy)
    max_age_days: float | None = None
    max_bytes: int | None = None  # total size of recordings kept
    min_free_bytes: int = 64 << 20  # stop recording (alarm) under this much free space ...
    resume_free_bytes: int = 128 << 20  # ... and resume at this much
    queue_ticks: int = 250  # writer queue: 5 s of ticks
    check_interval: float = 1.0  # free-space check
    housekeeping_interval: float = 300.0  # retention + backup; 0: only when housekeep() is called
    verify_interval: float = 86400.0  # second copies read back and checked; 0: only when verify_copies() is called
    backup_attempts: int = 5
    max_segment_bytes: int = 1 << 30  # a longer call continues in a new file (segment)
    sync_interval: float = 10.0  # open files: header sizes updated and data fdatasync'd this often

    def __post_init__(self) -> None:
        for name in ("directory", "index_dir", "backup_dir"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))


class Recorder:
    def __init__(self, config: RecorderConfig, on_event: Callable[[Event], None] | None = None,
                 clock: Callable[[], float] = time.time, crashed_at: float | None = None) -> None:
        """``crashed_at``: when the previous run was last known alive (recordings a crash left open end
        there, or where their audio ends if later; the present without it)."""
        self.config = config
        self.clock = clock
        self.directory = config.directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.index = RecordingIndex(config.index_dir or config.directory / ".index")
        backup = config.backup_dir is not None
        self.held_file = HeldRows((config.index_dir or config.directory / ".index") / "held-rows")
        before = self.held_file.rows()  # rows the index refused before a crash
        self.recovered = recover(self.directory, self.index, now=clock(), backup=backup,
                                 crashed_at=crashed_at, held=before)
        held = tuple(row for row in self.recovered if row.pop("unindexed", False))
        finished = tuple(row for row in before if row.get("status") != "recording")
        self.writer = RecordingWriter(
            self.directory, self.index, queue_ticks=config.queue_ticks, min_free_bytes=config.min_free_bytes,
            resume_free_bytes=config.resume_free_bytes, check_interval=config.check_interval,
            on_event=on_event, backup=backup, max_segment_bytes=config.max_segment_bytes,
            sync_interval=config.sync_interval, held_rows=held, held_finished=finished, held_file=self.held_file)
        for row in self.recovered:
            self.writer.emit("recording.recovered", **row)
        self.taps = RecordingTaps(self.writer.offer)
        self.backup = BackupCopier(self.directory, config.backup_dir, self.index,
                                   config.backup_attempts, clock=clock) if backup else None
        self.copies = self._count_copies()  # files by second-copy status (refreshed by housekeeping)
        self.last_verify: dict[str, Any] | None = None  # the last verify_copies() summary
        self._hk_lock = threading.Lock()
        self._stop = threading.Event()
        self._hk: threading.Thread | None = None
        if config.housekeeping_interval > 0 or (backup and config.verify_interval > 0):
            self._hk = threading.Thread(target=self._housekeeping, name="recorder-housekeeping", daemon=True)
            self._hk.start()

    # --- call control (daemon loop, between ticks) -----------------------------------------------

    def start(self, call_id: str, parties: Mapping[str, Any], a_ch: int, b_ch: int | None,
              fmt: Format | str | None = None, *, on_demand: bool = False) -> bool:
        """Start recording ``call_id`` if the policy says so (or on demand). True if it is recording.

        ``a_ch`` is the caller's channel (left), ``b_ch`` the agent's (right) or None for a one-party
        recording (right = what the box played to the caller). ``parties``: caller, called, trunk,
        agent (ACD agent ID, or the extension), queue, direction, extension (strings; missing ones are
        empty). Never blocks.
        """
        if call_id in self.taps.taps:
            return True
        info = CallInfo.from_parties(call_id, parties)
        decision = demand_start(info, self.config.policy) if on_demand else decide(info, self.config.policy)
        if not decision.record:
            return False
        fmt = Format.parse(fmt) if fmt is not None else self.config.policy.format
        row = dict(call_id=call_id, start=self.clock(), caller=info.caller, called=info.called,
                   trunk=info.trunk, agent=info.agent, queue=info.queue, direction=info.direction,
                   extension=info.extension, reason=decision.reason)
        tap = Tap(call_id, a_ch, b_ch, fmt, decision.reason)  # checks the channels first
        self.writer.request(OpenRequest(call_id, fmt, row))
        self.taps.add(tap)
        return True

    def stop(self, call_id: str, *, on_demand: bool = False) -> bool:
        """Stop recording ``call_id`` (the call ended, or on demand). True if a recording stopped."""
        tap = self.taps.taps.get(call_id)
        if tap is None:
            return False
        if on_demand and not demand_stop(tap.reason, self.config.policy).record:
            return False
        self.taps.remove(call_id)
        self.writer.request(CloseRequest(call_id, self.clock(), seq=self.taps.seq))
        return True

    def recording(self, call_id: str) -> bool:
        return call_id in self.taps.taps

    # --- the tick --------------------------------------------------------------------------------

    def tap(self, rx: np.ndarray, tx: np.ndarray) -> None:
        """Every tick, after ``Media.transmit``: copy the active recordings' frames (never blocks).

        A recording naming a channel the tick does not have is stopped (note ``bad channel``, alarm
        ``recorder.bad_channel``) instead of breaking the tick.
        """
        try:
            self.taps.tap(rx, tx)
        except IndexError:
            bad = [t for t in self.taps.taps.values() if not t.fits(len(rx))]
            for t in bad:
                self.taps.remove(t.key)
                self.writer.request(CloseRequest(t.key, self.clock(), note="bad channel"))
            log.error("recorder: channels out of range (%d channels): %s", len(rx), [t.key for t in bad])
            self.writer.alarm("recorder.bad_channel", True, ", ".join(f"{t.key}: {t.caller_ch}/{t.agent_ch}"
                                                                     for t in bad))
            self.taps.seq -= 1  # the same tick again, for the others
            self.taps.tap(rx, tx)

    # --- reading ---------------------------------------------------------------------------------

    def query(self, **criteria: Any) -> list[dict]:
        """Index rows: since, until, agent, number, call_id, status, limit, newest_first."""
        return self.index.query(**criteria)

    def path(self, key: str) -> Path:
        """The file of ``key``: a call id (its first segment with audio) or a recording id."""
        row = next((r for r in self.index.query(call_id=key) if has_audio(r)), None) or self.index.get(key)
        if row is None:
            raise KeyError(key)
        if not has_audio(row):
            raise KeyError(f"{key}: {row.get('status')}, no audio")
        return self.directory / row["file"]

    def fetch(self, key: str, offset: int = 0, size: int | None = None) -> bytes:
        """Bytes ``offset`` .. ``offset + size`` of a finished recording (all of it by default).

        The API refuses messages over 1 MiB, so it fetches in chunks (``size`` <= 512 KiB) until a
        short or empty chunk; the row's ``size`` and ``sha256`` let the client check the whole.
        Blocking file read: call it from an executor, not the loop.
        """
        if offset < 0 or size is not None and size < 0:
            raise ValueError("offset and size must not be negative")
        with open(self.path(key), "rb") as f:
            f.seek(offset)
            return f.read() if size is None else f.read(size)

    @property
    def alarms(self) -> dict[str, str]:
        """Active alarms: name → detail (``recorder.disk_full``, ``recorder.overrun``, ...)."""
        return dict(self.writer.alarms)

    def drain_events(self) -> list[Event]:
        out = []
        events = self.writer.events
        while events:
            out.append(events.popleft())
        return out

    def stats(self) -> dict[str, Any]:
        w = self.writer
        return dict(active=len(self.taps.taps), dropped_ticks=w.dropped, gap_ticks=w.gap_ticks,
                    queued=w.pending(), bytes_written=w.bytes_written, disk_full=w.disk_full,
                    copies=dict(self.copies), last_verify=self.last_verify)

    def copy_status(self, key: str) -> list[dict[str, Any]]:
        """The second-copy status of each file of ``key`` (a call id or a recording id)."""
        rows = self.index.query(call_id=key, limit=1000) or [r for r in [self.index.get(key)] if r is not None]
        return [{k: row.get(k) for k in ("id", "call_id", "file", "status", "size", "sha256", "copy", "copy_attempts",
                                         "copy_error", "copy_checked")} for row in rows]

    # --- housekeeping (its own thread) -----------------------------------------------------------

    def housekeep(self, now: float | None = None) -> dict[str, Any]:
        """Retention, then the second copy. Blocking: its own thread or a test, never the loop."""
        now = self.clock() if now is None else now
        cfg = self.config
        with self._hk_lock:
            max_age = cfg.max_age_days * 86400 if cfg.max_age_days is not None else None
            purged = retention.enforce(self.directory, self.index, now=now, max_age=max_age,
                                       max_bytes=cfg.max_bytes, backup_root=cfg.backup_dir)
            for row in purged:
                self.writer.emit("recording.purged", id=row["id"], file=row["file"], reason=row.get("purge_reason"))
            result = self.backup.run_once() if self.backup is not None else None
            self.copies = self._count_copies()
        if result is not None:
            if result.failed:
                self.writer.alarm("recorder.backup_failed", True, f"gave up copying {', '.join(result.failed)}")
            elif result.verified and not result.retry and "recorder.backup_failed" in self.writer.alarms:
                self.writer.alarm("recorder.backup_failed", False, "")
        return dict(purged=[r["id"] for r in purged], backup=result)

    def verify_copies(self, now: float | None = None) -> dict[str, Any]:
        """Read every verified second copy back and compare its checksum (``copy_checked`` on each good
        row); a copy that differs or vanished becomes ``mismatch`` (event ``recording.copy_mismatch``)
        and is copied again at once. Blocking: its own thread or an executor, never the loop."""
        backup = self.backup
        assert backup is not None, "no second copy configured (backup_dir)"  # the callers check first
        now = self.clock() if now is None else now
        with self._hk_lock:
            checked, bad = backup.verify(now=now)
            for rid in bad:
                self.writer.emit("recording.copy_mismatch", id=rid)
            result = backup.run_once() if bad else None
            summary = {"at": now, "checked": checked, "mismatch": bad,
                       "recopied": [r for r in bad if result is not None and r in result.verified]}
            self.last_verify = summary
            self.copies = self._count_copies()
        if bad:
            log.warning("recorder: %d second copies did not match; copied again: %s", len(bad), summary["recopied"])
        self.writer.emit("recording.copies_verified", **summary)
        return summary

    def _count_copies(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.index.rows():
            if has_audio(row):
                counts[row.get("copy") or "none"] = counts.get(row.get("copy") or "none", 0) + 1
        return counts

    def _housekeeping(self) -> None:
        cfg = self.config
        now = time.monotonic()
        next_hk = now + cfg.housekeeping_interval if cfg.housekeeping_interval > 0 else float("inf")
        next_verify = now + cfg.verify_interval if self.backup is not None and cfg.verify_interval > 0 else float("inf")
        while not self._stop.wait(max(0.0, min(next_hk, next_verify) - time.monotonic())):
            now = time.monotonic()
            try:
                if now >= next_hk:
                    next_hk = now + cfg.housekeeping_interval
                    self.housekeep()
                if now >= next_verify:
                    next_verify = now + cfg.verify_interval
                    self.verify_copies()
            except Exception:
                log.exception("recorder: housekeeping failed")

    # --- lifetime --------------------------------------------------------------------------------

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until the writer has handled everything queued so far (tests, shutdown)."""
        return self.writer.flush(timeout)

    def close(self) -> None:
        """Stop: open recordings are finalized as interrupted (note ``shutdown``), threads joined."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._hk is not None:
            self._hk.join(30)
        self.writer.close()
        self.held_file.close()
        self.index.close()
