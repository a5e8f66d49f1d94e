"""Recovery on start: recordings a crash left open are repaired and indexed as interrupted.

Two sources, both cheap: the index's ``open`` table (rows committed as ``recording`` whose file was
never finalized), and recording files in the newest ``days`` day directories that have no index row
at all (the index write failed, e.g. its disk was full). Each such file is repaired
(``wav.repair``: sizes matching the data on disk, cut to whole sample frames, fsync'd), checksummed
and indexed ``interrupted`` with note ``crash``; a row whose file is missing or holds no audio is
indexed ``interrupted`` with size 0 and its empty file removed. Runs before the writer starts.

A recovered row ends at ``crashed_at`` (when the crashed run was last known alive: the daemon's
last-alive mark) or where its audio ends, whichever is later, never at the restart: the time the
box was down is no part of the recording. An orphan file (no row) ends at its last write, its file's
modification time as the crash left it (read before the repair touches the file).
"""

from __future__ import annotations

import calendar
import logging
import time
from pathlib import Path

from recorder import wav
from recorder.index import RecordingIndex
from recorder.writer import fsync_dir, sha256_file

log = logging.getLogger(__name__)


def recover(root: str | Path, index: RecordingIndex, *, now: float | None = None, days: int = 2,
            backup: bool = False, crashed_at: float | None = None, held: list[dict] | tuple[dict, ...] = ()) -> list[dict]:
    """Repair and index what a crash left. Returns the rows (all ``interrupted``); one the index refused
    (its disk is full) has ``unindexed`` set: the caller holds it for the writer to write later.

    ``held``: the rows the index had refused before the crash (``HeldRows``), newer than its own: one
    still ``recording`` is repaired like the index's; a finished one is not touched here (the caller
    has the writer index it as it is) and its file is no orphan."""
    root = Path(root)
    now = time.time() if now is None else now
    crashed = min(crashed_at, now) if crashed_at else now
    open_rows = {row["id"]: row for row in index.unfinished()}
    for row in held:
        if row.get("status") == "recording":
            open_rows[row["id"]] = row
        else:
            open_rows.pop(row["id"], None)
    out = [_recover_row(root, index, row, crashed, now, backup) for row in open_rows.values()]
    day_dirs = sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit())[-days:] if root.is_dir() else []
    if day_dirs:
        since = calendar.timegm(time.strptime(day_dirs[0].name, "%Y%m%d")) - 86400 * 2
        known = {r["file"] for r in index.rows(since=since)} | {r["file"] for r in held}
        for d in day_dirs:
            for path in sorted(d.glob("*.wav")):
                rel = f"{d.name}/{path.name}"
                if rel not in known:
                    out.append(_recover_orphan(root, index, rel, now, backup))
    return out


def _repair(path: Path, fmt: wav.Format | None) -> tuple[int, float, str]:
    info = wav.repair(path, fmt)
    fsync_dir(path.parent)
    return info.data_offset + info.data_size, round(info.duration, 3), sha256_file(path)


def _recover_row(root: Path, index: RecordingIndex, row: dict, crashed: float, now: float, backup: bool) -> dict:
    path = root / row["file"]
    size, duration, sha = 0, 0.0, ""
    try:
        size, duration, sha = _repair(path, wav.Format.parse(row["format"]))
    except FileNotFoundError:
        pass
    except (OSError, wav.WavError) as exc:
        log.error("recorder: cannot repair %s: %s", path, exc)
    if duration == 0.0:
        path.unlink(missing_ok=True)
        size, sha = 0, ""
    row = dict(row, status="interrupted", note="crash", size=size, duration=duration, sha256=sha,
               end=row.get("end") or min(now, max(crashed, row["start"] + duration)),
               copy="pending" if backup and size else "none")
    _put(index, row)
    log.warning("recorder: recovered %s after a crash: %.1f s of audio", row["id"], duration)
    return row


def _recover_orphan(root: Path, index: RecordingIndex, rel: str, now: float, backup: bool) -> dict:
    path = root / rel
    rec_id = path.stem
    last_write = path.stat().st_mtime  # before the repair rewrites the header (and the mtime with it)
    try:
        size, duration, sha = _repair(path, None)
        info = wav.read_info(path)
        fmt = info.format.value if info.format else ""
    except (OSError, wav.WavError) as exc:
        log.error("recorder: cannot repair %s: %s", path, exc)
        size, duration, sha, fmt = path.stat().st_size, 0.0, "", ""
    call_id, _, seg = rec_id.rpartition("-")
    start = last_write - duration
    row = dict(id=rec_id, call_id=call_id or rec_id, segment=int(seg) if seg.isdigit() else 1, start=start,
               end=start + duration, file=rel, format=fmt, size=size, duration=duration, sha256=sha,
               status="interrupted", note="crash (not indexed)", reason="", copy="pending" if backup and sha else "none",
               copy_attempts=0, copy_error="")
    _put(index, row)
    log.warning("recorder: indexed orphan file %s after a crash", rel)
    return row


def _put(index: RecordingIndex, row: dict) -> None:
    try:
        index.put(row)
    except Exception as exc:  # a full disk must not stop the daemon starting
        log.error("recorder: cannot index recovered %s now (%s): written when the index takes it", row["id"], exc)
        row["unindexed"] = True
