"""Retention: delete recordings oldest first, by age and by total disk use.

``enforce`` walks the index in start-time order (oldest first) over the rows that still have a file
(``complete`` or ``interrupted``, size > 0; rows still ``recording`` are never touched). A row is
purged when it is older than ``max_age`` seconds, or while the total size of the remaining files
is over ``max_bytes``. Purging deletes the file (and its second copy, if a backup directory is
given), fsyncs the directory, and marks the row ``purged`` (the row stays: the index remembers that
a recording existed and when it was deleted). Runs off the tick (housekeeping thread).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from recorder.index import RecordingIndex
from recorder.writer import fsync_dir

log = logging.getLogger(__name__)

_LIVE = ("complete", "interrupted")


def enforce(root: str | Path, index: RecordingIndex, *, now: float, max_age: float | None = None,
            max_bytes: int | None = None, backup_root: str | Path | None = None) -> list[dict]:
    """Purge what is over the limits, oldest first. Returns the purged rows (oldest first)."""
    root = Path(root)
    live = [r for r in index.rows() if r.get("status") in _LIVE and r.get("size")]
    total = sum(int(r["size"]) for r in live)
    purged = []
    for row in live:
        too_old = max_age is not None and row["start"] < now - max_age
        too_big = max_bytes is not None and total > max_bytes
        if not (too_old or too_big):
            break  # oldest first: nothing later is older, and the total only went down
        _delete(root / row["file"])
        if backup_root is not None:
            _delete(Path(backup_root) / row["file"])
        total -= int(row["size"])
        why = "age" if too_old else "disk quota"
        purged.append(index.update(row["id"], status="purged", purged_at=now, purge_reason=why) or row)
        log.info("recorder: purged %s (%s)", row["id"], why)
    return purged


def live_bytes(index: RecordingIndex) -> int:
    return sum(int(r["size"]) for r in index.rows() if r.get("status") in _LIVE and r.get("size"))


def _delete(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        return
    with contextlib.suppress(OSError):
        fsync_dir(path.parent)
    with contextlib.suppress(OSError):
        path.parent.rmdir()  # the day directory, once empty
