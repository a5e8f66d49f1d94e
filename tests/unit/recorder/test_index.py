"""The LMDB index: time-ordered rows, queries by time, agent, number and call id; fetch by the facade."""

from __future__ import annotations

import hashlib
from pathlib import Path

from recorder.index import RecordingIndex, rec_key
from tests.unit.recorder.conftest import Line
from tests.unit.recorder.signals import noise


def _row(i: int, start: float, **kw) -> dict:
    row = dict(id=f"call{i}-1", call_id=f"call{i}", segment=1, start=start, end=start + 60,
               caller=f"1380000000{i}", called="4008001234", trunk="span1", agent="8001", queue="sales",
               direction="inbound", file=f"x/call{i}-1.wav", format="stereo-alaw", size=1000 + i,
               duration=60.0, sha256="", status="complete", note="", copy="none")
    row.update(kw)
    return row


def test_queries(tmp_path: Path) -> None:
    idx = RecordingIndex(tmp_path)
    starts = [1000.0, 3000.0, 2000.0, 4000.0]
    for i, t in enumerate(starts):
        idx.put(_row(i, t, agent="8002" if i % 2 else "8001"))
    assert [r["id"] for r in idx.rows()] == ["call0-1", "call2-1", "call1-1", "call3-1"]  # by start time
    assert [r["start"] for r in idx.query(since=1500, until=3000)] == [2000.0, 3000.0]
    assert [r["id"] for r in idx.query(agent="8002")] == ["call1-1", "call3-1"]
    assert [r["id"] for r in idx.query(agent="8001", newest_first=True)] == ["call2-1", "call0-1"]
    assert [r["id"] for r in idx.query(number="13800000003")] == ["call3-1"]
    assert [r["id"] for r in idx.query(number="4008001234", since=2500)] == ["call1-1", "call3-1"]
    assert [r["id"] for r in idx.query(call_id="call2")] == ["call2-1"]
    assert idx.query(call_id="call2x") == [] and idx.query(agent="9999") == []
    assert [r["id"] for r in idx.query(limit=2, newest_first=True)] == ["call3-1", "call1-1"]
    assert idx.get("call1-1")["size"] == 1001


def test_update_moves_secondary_keys_and_survives_reopen(tmp_path: Path) -> None:
    idx = RecordingIndex(tmp_path)
    idx.put(_row(1, 100.0, status="recording"))
    assert [r["id"] for r in idx.unfinished()] == ["call1-1"]
    idx.update("call1-1", agent="8009", status="complete", copy="pending")
    assert idx.query(agent="8001") == [] and idx.query(agent="8009")[0]["status"] == "complete"
    assert idx.unfinished() == [] and [r["id"] for r in idx.copy_todo()] == ["call1-1"]
    idx.put(_row(1, 100.0, agent="8010"))  # replacing a row by id keeps one row
    assert idx.count() == 1 and idx.query(agent="8009") == []
    idx.close()
    again = RecordingIndex(tmp_path)
    assert again.get("call1-1")["agent"] == "8010" and again.copy_todo() == []


def test_recorder_query_and_fetch_same_bytes(make_recorder) -> None:
    rec = make_recorder()
    line = Line()
    sig = noise(5, 50)
    for i, agent in enumerate(["8001", "8002", "8001"]):
        rec.start(f"c{i}", {"agent": agent, "caller": f"1390000000{i}", "called": "4008001234"}, 1, 2)
        line.run(rec, {1: sig, 2: sig}, 50)
        rec.stop(f"c{i}")
        line.tick = 0
    rec.flush()
    assert [r["call_id"] for r in rec.query(agent="8001")] == ["c0", "c2"]
    assert [r["call_id"] for r in rec.query(number="13900000001")] == ["c1"]
    for row in rec.query():
        data = rec.fetch(row["call_id"])
        assert data == (rec.directory / row["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"] and len(data) == row["size"]
        chunks = [rec.fetch(row["id"], off, 4096) for off in range(0, row["size"] + 4096, 4096)]
        assert b"".join(chunks) == data and chunks[-1] == b""  # as the API fetches: in chunks


def test_pages_after_a_row_key_visit_every_row_once(tmp_path: Path) -> None:
    """``after`` (a row's ``rec_key``: the API's cursor) continues a query where the last page ended, on
    the time scan and on each secondary index, oldest or newest first; rows sharing a start time too."""
    idx = RecordingIndex(tmp_path)
    for i in range(23):
        idx.put(_row(i, 1000.0 + (i // 2) * 10, agent="8002" if i % 3 else "8001"))
    for criteria in ({}, {"agent": "8002"}, {"number": "4008001234"}, {"since": 1030.0}, {"call_id": "call7"}):
        for newest_first in (False, True):
            expected = [r["id"] for r in idx.query(**criteria, newest_first=newest_first, limit=100)]
            got, after = [], None
            while True:
                page = idx.query(**criteria, newest_first=newest_first, limit=4, after=after)
                got += [r["id"] for r in page]
                if len(page) < 4:
                    break
                after = rec_key(page[-1]["start"], page[-1]["id"])
            assert got == expected and len(set(got)) == len(got), (criteria, newest_first)
    assert len(idx.query(limit=100)) == 23


def test_index_is_opened_durable(tmp_path: Path) -> None:
    """A row acknowledged is on disk: LMDB syncs data and metadata at every commit (kill -9 cannot
    show a missing fsync, so the settings are asserted)."""
    idx = RecordingIndex(tmp_path)
    flags = idx.env.flags()
    assert flags["sync"] and flags["metasync"] and not flags["writemap"]


def test_updates_leave_one_secondary_entry_per_value(tmp_path: Path) -> None:
    """Rewriting a row (put by id, or update) replaces its secondary keys: the agent index does not grow."""
    idx = RecordingIndex(tmp_path)
    idx.put(_row(1, 100.0, agent="8001"))
    for i in range(5):
        idx.put(_row(1, 100.0, agent=f"80{i:02d}", note=str(i)))
        idx.update("call1-1", agent=f"81{i:02d}")
    with idx.env.begin() as txn:
        assert txn.stat(idx.sec["agent"])["entries"] == 1
        assert txn.stat(idx.sec["number"])["entries"] == 2  # caller and called
    assert [r["id"] for r in idx.query(agent="8104")] == ["call1-1"]


def test_a_purged_row_leaves_the_copy_queue(tmp_path: Path) -> None:
    idx = RecordingIndex(tmp_path)
    idx.put(_row(1, 100.0, copy="retry"))
    assert [r["id"] for r in idx.copy_todo()] == ["call1-1"]
    idx.update("call1-1", status="purged")
    assert idx.copy_todo() == []
