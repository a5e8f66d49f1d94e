"""A full filesystem (a real 256 KiB tmpfs): recording stops with an alarm, the tick and the index
carry on, and recording resumes in a new segment once space is freed."""

from __future__ import annotations

import time

import numpy as np

from recorder import wav
from tests.unit.recorder.conftest import Line
from tests.unit.recorder.signals import corr, linear, noise, sox_samples, soxi

TICKS = 4000


def test_full_disk_alarm_then_resume(make_recorder, tmpfs) -> None:
    small_fs = tmpfs("256k")
    filler = small_fs / "filler"
    filler.write_bytes(b"\0" * (128 << 10))
    events: list[dict] = []
    rec = make_recorder(directory=small_fs / "rec", resume_free_bytes=96 << 10, check_interval=0.02)
    rec.writer.on_event = events.append
    a_caller, a_agent, b_caller = noise(1, TICKS), noise(2, TICKS), noise(3, TICKS)
    sends = {1: a_caller, 2: a_agent, 3: b_caller, 4: a_caller}
    line = Line()
    line.bridges += [(1, 2), (3, 4)]
    assert rec.start("A", {"agent": "8001"}, 1, 2)
    while "recorder.disk_full" not in rec.alarms and line.tick < 1500:
        line.run(rec, sends, 25)
        rec.flush()
    assert "recorder.disk_full" in rec.alarms, "128 KiB free should fill in about 400 ticks"
    full_at = line.tick

    # the first segment was closed cleanly at the point the disk filled: valid and indexed
    [a1] = rec.query(call_id="A")
    assert a1["status"] == "interrupted" and a1["note"] == "disk full"
    path = rec.path("A-1")
    frames = int(soxi(path, "-s"))
    assert frames > 300 * 160 and a1["size"] == path.stat().st_size == 58 + 2 * frames
    assert corr(linear(a_caller)[:frames], sox_samples(path)[:, 0]) > 0.9
    assert np.array_equal(sox_samples(path), wav.read(path)[1])

    # while full: the tick keeps going (nothing queued up, nothing dropped), new calls are
    # accepted but wait for space, the index (another disk) still commits
    assert rec.start("B", {"agent": "8002"}, 3, 4)
    line.run(rec, sends, 100)
    rec.flush()
    assert rec.stats()["disk_full"] and rec.stats()["dropped_ticks"] == 0
    assert rec.query(call_id="B") == [] and any(e["event"] == "recording.suspended" for e in events)

    # space comes back: the alarm clears and both calls get a new segment
    filler.unlink()
    deadline = time.monotonic() + 5
    while not (rec.query(call_id="B") and len(rec.query(call_id="A")) == 2) and time.monotonic() < deadline:
        line.run(rec, sends, 5)
        time.sleep(0.02)
    assert "recorder.disk_full" not in rec.alarms
    assert [e["active"] for e in events if e["event"] == "recorder.alarm"
            and e["name"] == "recorder.disk_full"] == [True, False]
    line.run(rec, sends, 100)
    rec.stop("A")
    rec.stop("B")
    rec.flush()
    a2, b1 = rec.query(call_id="A")[1], rec.query(call_id="B")[0]
    assert (a2["id"], a2["status"], b1["id"], b1["status"]) == ("A-2", "complete", "B-1", "complete")
    end = line.tick * 160
    for row, sent in ((a2, linear(a_caller)), (b1, linear(b_caller))):
        got = sox_samples(rec.path(row["id"]))[:, 0]
        assert 100 * 160 <= len(got) <= end - full_at * 160
        assert corr(sent[end - len(got):end], got) > 0.9  # the tail: what was said after the resume
