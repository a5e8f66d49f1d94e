"""End to end, real processes: the daemon's recordings directory on a small tmpfs. Filled up, recording
stops with an alarm (API event and status) while calls carry audio both ways and leave CDRs; freed,
the alarm clears and the call in progress is recorded again from that moment (both voices measured
in the file fetched through the API). The events on the way: ``recorder.alarm`` raised and cleared,
``recording.suspended`` for each call that starts while the disk is full, ``recording.started`` for
the segment opened on resume, then ``recording.finished``."""

from __future__ import annotations

import errno
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hal.dsp.measure import dominant_frequency
from recorder.wav import read
from tests.conftest import e2e_config
from tests.support.audio import tone_frequency
from tests.support.processes import DaemonProcess, SimProcess, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "recfs"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture
def daemon_on_small_fs(tmp_path: Path, sim: SimProcess, small_fs: Path) -> Iterator[DaemonProcess]:
    cfg = e2e_config(tmp_path)
    text = cfg.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^\[recording\]\n(.*\n)*?\n",
                  f'[recording]\nmode = "all"\ndirectory = "{small_fs / "rec"}"\nmin_free_mb = 1\n\n', text, count=1)
    cfg.write_text(text, encoding="utf-8")
    d = DaemonProcess(tmp_path, sim, cfg)
    d.start()
    yield d
    d.stop()


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


def _answered_call(d: DaemonProcess, w: World, line: str, ext: str) -> str:
    w.co_call(line, "13800138000")
    phone = w.phone(ext)
    wait_for(lambda: phone.state()["ringing"], 10, f"{ext} ringing")
    phone.off_hook()
    calls = wait_for(lambda: [c for c in d.api.call("calls") if c.get("answer") and c["src_port"] == line], 5,
                     "answer")
    w.co_send_tone(line, 1000.0)
    phone.send_tone(400.0)
    return calls[0]["id"]


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
    call1 = _answered_call(d, w, "1/3", "8003")
    _suspended(d, call1)
    time.sleep(1.0)
    since = w.tick()
    time.sleep(1.0)
    assert tone_frequency(w.phone("8003").heard(since)) == pytest.approx(1000.0, rel=0.02)
    assert tone_frequency(w.co_heard("1/3", since)) == pytest.approx(400.0, rel=0.02)
    w.phone("8003").on_hook()
    cdr1 = wait_for(lambda: [c for c in d.api.call("cdr.list") if c["id"] == call1], 10, "the first CDR")[0]
    assert cdr1["disposition"] == "ANSWERED" and cdr1["billsec"] > 1.5
    assert d.api.call("recordings.query", call_id=call1) == []

    # a second call; space comes back while it is connected: recorded from then on
    call2 = _answered_call(d, w, "1/3", "8004")
    _suspended(d, call2)
    time.sleep(1.0)
    assert d.api.call("recordings.query", call_id=call2) == []
    assert not [e for e in d.api.events if e.get("kind") == "recording.started"]  # nothing recorded while full
    filler.unlink()
    wait_for(lambda: ("recorder.disk_full", False) in _alarms(d), 5, "the alarm to clear")
    freed = time.monotonic()
    resumed = d.api.next_event("recording.started", timeout=5)
    assert (resumed["call_id"], resumed["call"], resumed["id"]) == (call2, call2, f"{call2}-1")
    assert d.api.call("status")["recorder_alarms"] == {}
    time.sleep(2.5)
    w.phone("8004").on_hook()
    ended = time.monotonic()
    wait_for(lambda: [c for c in d.api.call("cdr.list") if c["id"] == call2], 10, "the second CDR")
    rows = wait_for(lambda: [r for r in d.api.call("recordings.query", call_id=call2) if r["status"] == "complete"],
                    10, "the resumed recording")
    [row] = rows
    assert ended - freed - 1.5 < row["duration"] <= ended - freed + 1.5  # from the resume to the hang-up
    finished = d.api.next_event("recording.finished", where=lambda e: e.get("call_id") == call2)
    assert (finished["id"], finished["status"], finished["sha256"]) == (row["id"], "complete", row["sha256"])
    data, offset = b"", 0
    while True:
        chunk = d.api.call("recordings.fetch", call=call2, offset=offset)
        data += chunk["data"]
        offset += len(chunk["data"])
        if not chunk["more"]:
            break
    path = small_fs / "fetched.wav"
    path.write_bytes(data)
    _, audio = read(path)
    mid = slice(len(audio) // 4, 3 * len(audio) // 4)
    assert dominant_frequency(audio[mid, 0].astype(np.float64)) == pytest.approx(1000.0, rel=0.02)  # caller
    assert dominant_frequency(audio[mid, 1].astype(np.float64)) == pytest.approx(400.0, rel=0.02)  # agent
    assert len(d.api.call("cdr.list")) == 2
