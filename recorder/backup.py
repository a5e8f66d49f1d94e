"""The second copy: every finished recording copied to another directory and verified by checksum.

``BackupCopier.run_once`` takes the rows the index lists as to-do (copy ``pending``, ``retry`` or
``mismatch``), copies each file to the same relative path under the backup directory (through a
temporary name, fsync'd, renamed, directory fsync'd), reads the copy back and compares its sha256
with the row's. The row's ``copy`` becomes ``verified``; on an error (destination missing, full, a
checksum that differs) it becomes ``retry`` with ``copy_error`` set, and after ``max_attempts``
``failed`` (and the ``recorder.backup_failed`` alarm is raised by the caller from the result).
``verify`` re-reads verified copies, stamps the good ones ``copy_checked`` and marks any that no
longer match as ``mismatch`` (so the next ``run_once`` copies them again); the recorder's
housekeeping thread runs it every ``verify_interval`` (a day by default). All of this runs off the
tick.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from recorder.index import RecordingIndex
from recorder.writer import fsync_dir, sha256_file

log = logging.getLogger(__name__)


@dataclass
class BackupResult:
    verified: list[str] = field(default_factory=list)
    retry: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # gave up after max_attempts


class BackupCopier:
    def __init__(self, root: str | Path, dest: str | Path, index: RecordingIndex, max_attempts: int = 5,
                 clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.dest = Path(dest)
        self.index = index
        self.max_attempts = max_attempts
        self.clock = clock

    def copy_path(self, row: dict) -> Path:
        return self.dest / row["file"]

    def run_once(self) -> BackupResult:
        result = BackupResult()
        for row in self.index.copy_todo():
            if row.get("status") not in ("complete", "interrupted"):
                continue
            rid = row["id"]
            attempts = int(row.get("copy_attempts") or 0) + 1
            try:
                self._copy(row)
            except (OSError, ValueError) as exc:
                err = getattr(exc, "strerror", None) or str(exc)
                state = "failed" if attempts >= self.max_attempts else "retry"
                log.warning("recorder: backup of %s failed (%s), attempt %d: %s", rid, state, attempts, err)
                self.index.update(rid, copy=state, copy_attempts=attempts, copy_error=err)
                (result.failed if state == "failed" else result.retry).append(rid)
                continue
            self.index.update(rid, copy="verified", copy_attempts=attempts, copy_error="", copy_checked=self.clock())
            result.verified.append(rid)
        return result

    def _copy(self, row: dict) -> None:
        src = self.root / row["file"]
        dst = self.copy_path(row)
        if not self.dest.is_dir():
            raise FileNotFoundError(f"backup directory {self.dest} is not there")
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(dst.name + ".part")
        try:
            with open(src, "rb") as fin, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
                fout.flush()
                os.fsync(fout.fileno())
            os.replace(tmp, dst)
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(dst.parent)
        got = sha256_file(dst)
        if got != row["sha256"]:
            raise ValueError(f"checksum of the copy {got[:12]}… differs from {row['sha256'][:12]}…")

    def verify(self, rows: list[dict] | None = None, now: float | None = None) -> tuple[int, list[str]]:
        """Re-read verified copies; mark those that differ (or vanished) ``mismatch``. Returns how many
        copies were read back and the ids of the bad ones.

        Every copy read back gets ``copy_checked = now`` (one index transaction for all of them), so
        each file's row says when its copy was last known good, or found bad.
        """
        now = self.clock() if now is None else now
        changes: list[tuple[str, dict]] = []
        bad: list[str] = []
        for row in rows if rows is not None else self.index.query(limit=1 << 30):
            if row.get("copy") != "verified" or row.get("status") == "purged":
                continue
            try:
                ok = sha256_file(self.copy_path(row)) == row["sha256"]
            except OSError:
                ok = False
            if ok:
                changes.append((row["id"], {"copy_checked": now}))
            else:
                changes.append((row["id"], {"copy": "mismatch", "copy_error": "copy does not match its checksum",
                                            "copy_checked": now}))
                bad.append(row["id"])
        self.index.update_many(changes)
        return len(changes), bad
