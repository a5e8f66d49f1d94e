"""The recordings index refusing writes (its disk is full): rows are held and written again until they
land, ``recorder.index_error`` is raised and then cleared, ``recording.finished`` comes only once the
final row is in the index, and a call that ended normally is indexed ``complete``, never crashed. A
crash while the index refuses: recovery holds its rows for the writer instead of failing the start,
and ends them at the crashed run's last-alive mark; rows held at a crash are kept (``HeldRows``), so a
normal call is still indexed ``complete``. The index reserves its room at start."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import lmdb

from recorder import Recorder, RecorderConfig
from recorder.held_rows import HeldRows
from recorder.index import RecordingIndex
from recorder.writer import file_name
from tests.unit.recorder.conftest import Line
from tests.unit.recorder.signals import noise


class Refusing:
    """Wraps the index's ``put``: refuses (as LMDB does on a full disk) while ``full`` is set."""

    def __init__(self, index: RecordingIndex) -> None:
        self.put_real, self.full, self.refused = index.put, threading.Event(), 0
        index.put = self.put  # type: ignore[method-assign]

    def put(self, row: dict) -> None:
        if self.full.is_set():
            self.refused += 1
            raise lmdb.Error("mdb_txn_commit: No space left on device")
        self.put_real(row)


def _wait(pred, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_index_rows_held_until_they_land_and_finished_only_then(make_recorder) -> None:
    rec = make_recorder()
    events: list[dict] = []
    got = threading.Event()
    rec.writer.on_event = lambda ev: (events.append(ev), got.set())
    index = Refusing(rec.index)
    index.full.set()
    line = Line()
    line.bridges.append((1, 2))
    sends = {1: noise(1, 200), 2: noise(2, 200)}
    assert rec.start("A", {"agent": "8001"}, 1, 2)
    line.run(rec, sends, 100)
    rec.stop("A")
    rec.flush()
    assert index.refused >= 2  # the open row and the final one
    assert rec.alarms.get("recorder.index_error", "").startswith("index writes fail: mdb_txn_commit")
    assert not [e for e in events if e["event"] == "recording.finished"]  # not while the index lacks its row
    assert rec.query(call_id="A") == [] and list(rec.writer.unindexed) == ["A-1"]
    refused = index.refused
    _wait(lambda: index.refused > refused)  # written again, by itself

    index.full.clear()
    _wait(lambda: any(e["event"] == "recording.finished" for e in events))
    [row] = rec.query(call_id="A")
    assert row["status"] == "complete" and row["note"] == "" and row["duration"] == 2.0
    [finished] = [e for e in events if e["event"] == "recording.finished"]
    assert finished["id"] == "A-1" and finished["status"] == "complete"
    _wait(lambda: "recorder.index_error" not in rec.alarms)
    assert [(e["name"], e["active"]) for e in events if e["event"] == "recorder.alarm"] == [
        ("recorder.index_error", True), ("recorder.index_error", False)]
    assert rec.index.unfinished() == []  # nothing left for a restart to mark crashed


def test_recovery_on_a_refusing_index_holds_its_rows_and_ends_them_at_the_mark(tmp_path: Path, monkeypatch) -> None:
    """A row left ``recording`` by a crash, recovered while the index refuses writes: the recorder still
    starts, the writer holds the row and writes it once the index takes it, ended at the crashed run's
    last-alive mark, not at the restart."""
    idx = RecordingIndex(tmp_path / "index")
    start = time.time() - 60
    idx.put(dict(id="X-1", call_id="X", segment=1, start=start, end=None, file=file_name("X-1", start),
                 format="stereo-alaw", size=0, duration=0.0, sha256="", status="recording", note="", copy="none"))
    idx.close()
    full = threading.Event()
    full.set()
    put = RecordingIndex.put

    def refusing_put(self: RecordingIndex, row: dict) -> None:
        if full.is_set():
            raise lmdb.Error("mdb_txn_commit: No space left on device")
        put(self, row)

    monkeypatch.setattr(RecordingIndex, "put", refusing_put)
    rec = Recorder(RecorderConfig(directory=tmp_path / "rec", index_dir=tmp_path / "index", housekeeping_interval=0,
                                  min_free_bytes=0), crashed_at=start + 5.2)
    try:
        assert [r["id"] for r in rec.recovered] == ["X-1"] and "unindexed" not in rec.recovered[0]
        _wait(lambda: "recorder.index_error" in rec.alarms)
        assert rec.index.get("X-1")["status"] == "recording"
        full.clear()
        _wait(lambda: rec.index.get("X-1")["status"] == "interrupted")
        row = rec.index.get("X-1")
        assert (row["end"], row["note"]) == (start + 5.2, "crash") and rec.index.unfinished() == []
        _wait(lambda: "recorder.index_error" not in rec.alarms)
    finally:
        rec.close()


def test_index_reserves_room_sized_to_its_filesystem(tmpfs) -> None:
    """On the state directory's small filesystem: an eighth of it, owned at start (rows land there when
    the disk is full)."""
    fs = tmpfs("4m")
    idx = RecordingIndex(fs / "index")
    assert idx.env.info()["map_size"] == 512 << 10
    assert (fs / "index" / "recordings.lmdb" / "data.mdb").stat().st_blocks * 512 >= 512 << 10
    idx.close()


def test_held_rows_keep_the_last_whole_set(tmp_path: Path) -> None:
    held = HeldRows(tmp_path / "held", slot_size=4096)
    held.save([{"id": "A-1", "status": "complete"}])
    held.save([{"id": "A-1", "status": "complete"}, {"id": "B-1", "status": "recording"}])
    held.close()
    assert [r["id"] for r in HeldRows(tmp_path / "held", slot_size=4096).rows()] == ["A-1", "B-1"]
    again = HeldRows(tmp_path / "held", slot_size=4096)
    again.save([])  # a crash in the middle of the next save: the torn slot is passed over
    os.pwrite(again.fd, b"\xff", again.slot_size * ((again.seq - 1) % 2) + 20)  # its payload (slots alternate)
    again.close()
    assert [r["id"] for r in HeldRows(tmp_path / "held", slot_size=4096).rows()] == ["A-1", "B-1"]


def test_a_crash_while_rows_are_held_does_not_make_a_normal_call_crashed(tmp_path: Path, monkeypatch) -> None:
    """A call recorded to its normal end while the index refused its rows, then the daemon dies: at the
    next start its recording is indexed ``complete`` (with its ``recording.finished``), not repaired
    as crashed nor indexed as an orphan file."""
    full = threading.Event()
    full.set()
    put = RecordingIndex.put

    def refusing_put(self: RecordingIndex, row: dict) -> None:
        if full.is_set():
            raise lmdb.Error("mdb_txn_commit: No space left on device")
        put(self, row)

    monkeypatch.setattr(RecordingIndex, "put", refusing_put)
    cfg = RecorderConfig(directory=tmp_path / "rec", index_dir=tmp_path / "index", housekeeping_interval=0,
                         min_free_bytes=0)
    rec = Recorder(cfg)
    line = Line()
    line.bridges.append((1, 2))
    assert rec.start("A", {"agent": "8001"}, 1, 2)
    line.run(rec, {1: noise(1, 100), 2: noise(2, 100)}, 100)
    rec.stop("A")
    rec.flush()
    assert rec.held_file.rows()[0]["status"] == "complete"
    rec.writer.close()  # the process dies: the index never got the row ...
    rec.held_file.close()
    rec.index.close()

    full.clear()  # ... and the next start finds room
    events: list[dict] = []
    again = Recorder(cfg, on_event=events.append)
    try:
        assert again.recovered == []
        _wait(lambda: any(e["event"] == "recording.finished" for e in events))
        [row] = again.query(call_id="A")
        assert (row["status"], row["note"], row["duration"]) == ("complete", "", 2.0)
        _wait(lambda: again.held_file.rows() == [])  # emptied once they landed
    finally:
        again.close()
