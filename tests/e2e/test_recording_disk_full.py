"""End to end, real processes: the daemon's recordings directory on a small tmpfs. Filled up, recording
stops with an alarm (API event and status) while calls carry audio both ways and leave CDRs; freed,
the alarm clears and the call in progress is recorded again from that moment (both voices measured
in the file fetched through the API). The events on the way: ``recorder.alarm`` raised and cleared,
``recording.suspended`` for each call that starts while the disk is full, ``recording.started`` for
the segment opened on resume, then ``recording.finished``."""

from __future__ import annotations

import errno
import time
from pathlib import Path

import numpy as np
import pytest

from hal.dsp.measure import dominant_frequency
from recorder.wav import read
from tests.support.processes import DaemonProcess, fetch_recording, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e


@pytest.fixture
def small_fs(tmpfs) -> Path:
    return tmpfs("4m")


@pytest.fixture
def daemon_on_small_fs(small_fs: Path, daemon_with) -> DaemonProcess:
    """The daemon recording every call into ``small_fs``; stopped before the tmpfs is unmounted."""
    return daemon_with(recording={"mode": "all", "directory": str(small_fs / "rec"), "min_free_mb": 1})


def _fill(path: Path) -> None:
    """Write until the filesystem says it is full."""
    chunk = b"\xa5" * (64 << 10)
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def _alarms(d: DaemonProcess) -> list[tuple[str, bool]]:
    d.api.call("status")  # events are read while waiting for a reply
    alarms = [e for e in d.api.events if e.get("kind") == "recorder.alarm"]
    assert all(isinstance(e["detail"], str) for e in alarms)
    return [(e["name"], e["active"]) for e in alarms]


def _suspended(d: DaemonProcess, call: str) -> dict:
    """The ``recording.suspended`` event of ``call`` (a recording that waits for space)."""
    ev = d.api.next_event("recording.suspended", timeout=5, where=lambda e: e.get("call_id") == call)
    assert (ev["call"], ev["note"]) == (call, "disk full")
    return ev


def test_full_disk_alarm_calls_and_cdrs_go_on_recording_resumes(daemon_on_small_fs: DaemonProcess,
                                                                 small_fs: Path) -> None:
    d, w = daemon_on_small_fs, World(daemon_on_small_fs.sim)
    d.api.call("subscribe", kinds=["recorder.", "recording."])
    filler = small_fs / "filler"
    _fill(filler)
    wait_for(lambda: ("recorder.disk_full", True) in _alarms(d), 5, "the disk-full alarm event")
    assert "recorder.disk_full" in d.api.call("status")["recorder_alarms"]
    assert d.api.call("recordings.status")["disk_full"] is True
    wait_for(lambda: any("rec: disk_full" in n for n in d.read_notices()), 5, "STATUS= naming the alarm")

    # a call while the disk is full: audio both ways, a CDR, no recording (and no error)
    phone, call = w.answered_call("1/3", "8003", d.api, tones=None)
    call1 = call["id"]
    _suspended(d, call1)
    time.sleep(0.6)
    assert w.tones_both_ways(phone, "1/3", phone_hz=400.0, line_hz=1000.0) == (
        pytest.approx(1000.0, rel=0.02), pytest.approx(400.0, rel=0.02))
    phone.on_hook()
    cdr1 = wait_for(lambda: [c for c in d.api.call("cdr.list") if c["id"] == call1], 10, "the first CDR")[0]
    assert cdr1["disposition"] == "ANSWERED" and cdr1["billsec"] > 1.5
    assert d.api.call("recordings.query", call_id=call1) == []

    # a second call; space comes back while it is connected: recorded from then on
    phone, call = w.answered_call("1/3", "8004", d.api)
    call2 = call["id"]
    _suspended(d, call2)
    time.sleep(1.0)
    assert d.api.call("recordings.query", call_id=call2) == []
    assert not [e for e in d.api.events if e.get("kind") == "recording.started"]  # nothing recorded while full
    freed = time.time()
    filler.unlink()
    resumed = d.api.next_event("recording.started", timeout=5)
    started = time.time()
    assert (resumed["call_id"], resumed["call"], resumed["id"]) == (call2, call2, f"{call2}-1")
    assert ("recorder.disk_full", False) in _alarms(d)
    assert d.api.call("status")["recorder_alarms"] == {}
    time.sleep(2.5)
    phone.on_hook()
    hung_up = time.time()
    wait_for(lambda: [c for c in d.api.call("cdr.list") if c["id"] == call2], 10, "the second CDR")
    rows = wait_for(lambda: [r for r in d.api.call("recordings.query", call_id=call2) if r["status"] == "complete"],
                    10, "the resumed recording")
    [row] = rows
    # from the resume (the segment opened once space was back, before its recording.started came) to the
    # hang-up (on hook longer than a hook flash, 0.6 s), audio all along
    assert freed <= row["start"] <= started
    assert hung_up + 0.5 <= row["end"] <= hung_up + 1.0
    assert abs(row["duration"] - (row["end"] - row["start"])) <= 0.1
    finished = d.api.next_event("recording.finished", where=lambda e: e.get("call_id") == call2)
    assert (finished["id"], finished["status"], finished["sha256"]) == (row["id"], "complete", row["sha256"])
    path = small_fs / "fetched.wav"
    path.write_bytes(fetch_recording(d.api, call2))
    _, audio = read(path)
    mid = slice(len(audio) // 4, 3 * len(audio) // 4)
    assert dominant_frequency(audio[mid, 0].astype(np.float64)) == pytest.approx(1000.0, rel=0.02)  # caller
    assert dominant_frequency(audio[mid, 1].astype(np.float64)) == pytest.approx(400.0, rel=0.02)  # agent
    assert len(d.api.call("cdr.list")) == 2
