"""End to end: a call through the simulator is recorded — caller left, agent right, each measured
in the file —, indexed under the CDR's call id, fetched through the API byte for byte, read by sox."""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

import pytest

from hal.dsp.measure import dominant_frequency, level_dbm0
from recorder.wav import read
from tests.support.processes import DaemonProcess, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e


def test_an_inbound_call_is_recorded_both_ways(daemon: DaemonProcess, tmp_path: Path) -> None:
    w = World(daemon.sim)
    w.co_call("1/1", "13800138000")
    phone = w.phone("8001")
    wait_for(lambda: phone.state()["ringing"], 8, "8001 ringing")
    phone.off_hook()
    wait_for(lambda: any(c.get("answer") for c in daemon.api.call("calls")), 5, "answer")
    w.co_send_tone("1/1", 1000.0)
    phone.send_tone(400.0)
    time.sleep(2.0)
    phone.on_hook()
    (cdr,) = wait_for(lambda: daemon.api.call("cdr.list"), 10, "the CDR")
    rows = wait_for(lambda: [r for r in daemon.api.call("recordings.query", call_id=cdr["id"])
                             if r.get("status") == "complete"], 10, "the finished recording")
    row = rows[0]
    assert row["caller"] == "13800138000" and row["agent"] == "8001" and row["trunk"] == "PSTN-1"

    data = fetch_all(daemon, cdr["id"])
    assert len(data) == row["size"] and hashlib.sha256(data).hexdigest() == row["sha256"]
    path = tmp_path / "call.wav"
    path.write_bytes(data)
    soxi = subprocess.run(["soxi", str(path)], capture_output=True, text=True, check=True).stdout
    assert "Channels       : 2" in soxi and "8000" in soxi and "A-law" in soxi
    info, audio = read(path)
    left, right = audio[:, 0].astype(float), audio[:, 1].astype(float)
    mid = slice(len(left) // 4, 3 * len(left) // 4)  # the middle of the call: both tones on
    assert dominant_frequency(left[mid]) == pytest.approx(1000.0, rel=0.02)  # the caller
    assert dominant_frequency(right[mid]) == pytest.approx(400.0, rel=0.02)  # the agent
    assert level_dbm0(left[mid]) > -20 and level_dbm0(right[mid]) > -20
    assert 1.5 < len(left) / 8000 < 4.0  # the answered part of the call


def test_recording_api_checks_its_arguments(daemon: DaemonProcess) -> None:
    from daemon.api.protocol import ApiError

    with pytest.raises(ApiError) as err:
        daemon.api.call("recordings.fetch", call="no-such-call")
    assert err.value.code == "not_found"
    with pytest.raises(ApiError) as err:
        daemon.api.call("recordings.query", limit="lots")
    assert err.value.code == "bad_argument"
    assert "alarms" in daemon.api.call("recordings.status")


def test_on_demand_start_and_stop_through_the_api_are_audited(sim, tmp_path: Path) -> None:
    import re

    from tests.conftest import e2e_config

    cfg = e2e_config(tmp_path)
    cfg.write_text(re.sub(r'(?m)^mode = "all".*$', 'mode = "on_demand"', cfg.read_text(encoding="utf-8"), count=1),
                   encoding="utf-8")
    d = DaemonProcess(tmp_path, sim, cfg)
    d.start()
    try:
        w = World(sim)
        w.co_call("1/3", "13800138000")
        phone = w.phone("8003")
        wait_for(lambda: phone.state()["ringing"], 10, "8003 ringing")
        phone.off_hook()
        [call] = wait_for(lambda: [c for c in d.api.call("calls") if c.get("answer")], 5, "answer")
        w.co_send_tone("1/3", 1000.0)
        phone.send_tone(400.0)
        time.sleep(1.0)
        assert d.api.call("recordings.query", call_id=call["id"]) == []  # on_demand: not yet
        assert d.api.call("recordings.start", call=call["id"]) == {"call": call["id"], "recording": True}
        started = time.monotonic()
        time.sleep(2.0)
        assert d.api.call("recordings.stop", call=call["id"]) == {"call": call["id"], "recording": False}
        stopped = time.monotonic()
        time.sleep(1.0)
        phone.on_hook()
        [row] = wait_for(lambda: [r for r in d.api.call("recordings.query", call_id=call["id"])
                                  if r["status"] == "complete"], 10, "the recording")
        assert row["reason"] == "demand" and abs(row["duration"] - (stopped - started)) < 0.3
        data = d.api.call("recordings.fetch", call=call["id"])["data"]
        path = tmp_path / "demand.wav"
        path.write_bytes(data)
        _, audio = read(path)
        assert dominant_frequency(audio[:, 0].astype(float)) == pytest.approx(1000.0, rel=0.02)
        assert dominant_frequency(audio[:, 1].astype(float)) == pytest.approx(400.0, rel=0.02)
        audit = [a["op"] for a in d.api.call("audit.list")]
        assert "recordings.start" in audit and "recordings.stop" in audit
    finally:
        d.stop()


def test_kill_9_mid_recording_leaves_a_valid_partial_file_after_restart(daemon: DaemonProcess,
                                                                        tmp_path: Path) -> None:
    """The daemon dies (SIGKILL) during a recorded call; on restart the partial file is repaired,
    indexed as interrupted, read by soxi and holds the caller's tone up to the crash."""
    w = World(daemon.sim)
    w.co_call("1/1", "13800138000")
    phone = w.phone("8001")
    wait_for(lambda: phone.state()["ringing"], 8, "8001 ringing")
    phone.off_hook()
    call = wait_for(lambda: next((c for c in daemon.api.call("calls") if c.get("answer")), None), 5, "answer")
    w.co_send_tone("1/1", 1000.0)
    phone.send_tone(400.0)
    time.sleep(3.0)  # the writer has flushed some of it
    daemon.kill9()
    phone.on_hook()
    daemon.start()
    rows = wait_for(lambda: daemon.api.call("recordings.query", call_id=call["id"]), 10, "the index entry")
    assert rows[0]["status"] == "interrupted"
    data = fetch_all(daemon, call["id"])
    path = tmp_path / "partial.wav"
    path.write_bytes(data)
    soxi = subprocess.run(["soxi", str(path)], capture_output=True, text=True, check=True).stdout
    assert "Channels       : 2" in soxi and "A-law" in soxi
    _info, audio = read(path)
    assert len(audio) > 8000  # at least a second survived
    left = audio[:, 0].astype(float)
    assert dominant_frequency(left[len(left) // 2:]) == pytest.approx(1000.0, rel=0.02)


def fetch_all(daemon: DaemonProcess, call_id: str) -> bytes:
    """A recording's bytes through ``recordings.fetch``, chunk by chunk."""
    data = b""
    while True:
        chunk = daemon.api.call("recordings.fetch", call=call_id, offset=len(data))
        data += chunk["data"]
        if not chunk["more"]:
            return data
