"""End to end: a call through the simulator is recorded — caller left, agent right, each measured
in the file —, indexed under the CDR's call id, fetched through the API byte for byte, read by sox.

The recording events reach a subscriber of the socket API with their documented fields
(docs/recorder.md "Events"): ``recording.started`` / ``finished``, ``recording.demand`` (the API ops
and ``*1`` keyed mid-call), ``recording.recovered`` after a kill -9, ``recording.playback`` /
``playback_refused`` (a supervisor's ``*35``, the recording heard at the supervisor's phone), the
second copy (``recordings.verify``, ``recording.copy_mismatch`` / ``copies_verified``) and retention
(``recording.purged``)."""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hal.dsp.measure import dominant_frequency, level_dbm0
from recorder.wav import read
from tests.support.processes import SUPERVISOR_PIN, DaemonProcess, fetch_recording, wait_for
from tests.support.tone_levels import heard_tones, level_at
from tests.support.world import Phone, World

pytestmark = pytest.mark.e2e


def _of(call_id: str) -> Callable[[dict], bool]:
    """``where=`` for ``next_event``: the events of one call (the recorder's carry ``call_id`` and ``call``)."""
    return lambda ev: call_id in (ev.get("call_id"), ev.get("call"))


def _inbound_call(d: DaemonProcess, w: World) -> tuple[Phone, dict]:
    """A caller on PSTN-1 (1000 Hz) answered at 8001 (400 Hz): the phone and the call."""
    return w.answered_call("1/1", "8001", d.api)


def test_an_inbound_call_is_recorded_both_ways(daemon: DaemonProcess, tmp_path: Path) -> None:
    events = daemon.subscriber("recording.")
    w = World(daemon.sim)
    phone, _ = _inbound_call(daemon, w)
    time.sleep(2.0)
    phone.on_hook()
    (cdr,) = wait_for(lambda: daemon.api.call("cdr.list"), 10, "the CDR")
    rows = wait_for(lambda: [r for r in daemon.api.call("recordings.query", call_id=cdr["id"])
                             if r.get("status") == "complete"], 10, "the finished recording")
    row = rows[0]
    assert row["caller"] == "13800138000" and row["agent"] == "8001" and row["trunk"] == "PSTN-1"
    started = events.next_event("recording.started", where=_of(cdr["id"]))
    assert (started["id"], started["call_id"], started["call"], started["file"]) == (row["id"], cdr["id"],
                                                                                     cdr["id"], row["file"])
    finished = events.next_event("recording.finished", where=_of(cdr["id"]))
    assert {k: v for k, v in finished.items() if k not in ("type", "kind", "call")} == row  # the whole row
    assert finished["call"] == cdr["id"] and finished["status"] == "complete"
    assert not [e for e in events.events if e["kind"] == "recording.started"]  # one event per segment
    events.close()

    data = fetch_recording(daemon.api, cdr["id"])
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


def test_on_demand_start_and_stop_through_the_api_are_audited(daemon_with, tmp_path: Path) -> None:
    d = daemon_with(recording={"mode": "on_demand"})
    events = d.subscriber("recording.")
    w = World(d.sim)
    phone, call = w.answered_call("1/3", "8003", d.api)
    time.sleep(1.0)
    assert d.api.call("recordings.query", call_id=call["id"]) == []  # on_demand: not yet
    assert d.api.call("recordings.start", call=call["id"]) == {"call": call["id"], "recording": True}
    started = time.monotonic()
    demand = events.next_event("recording.demand")
    assert (demand["call"], demand["action"], demand["by"], demand["ok"]) == (call["id"], "start", "api", True)
    time.sleep(2.0)
    assert d.api.call("recordings.stop", call=call["id"]) == {"call": call["id"], "recording": False}
    stopped = time.monotonic()
    demand = events.next_event("recording.demand")
    assert (demand["call"], demand["action"], demand["by"], demand["ok"]) == (call["id"], "stop", "api", True)

    # the agent keys *1 mid-call: recording on (one 1400 Hz beep at the agent's phone), *1 again: off
    phone.silence()
    time.sleep(0.3)
    mark = w.tick()
    phone.dial("*1")
    demand = events.next_event("recording.demand", timeout=5)
    assert (demand["call"], demand["action"], demand["by"], demand["ok"]) == (call["id"], "start", "8003", True)
    time.sleep(0.4)
    assert level_at(phone.heard(since=mark), 1400.0) > -35  # the beep (0.15 s of the window)
    time.sleep(0.6)
    phone.dial("*1")
    demand = events.next_event("recording.demand", timeout=5)
    assert (demand["call"], demand["action"], demand["by"], demand["ok"]) == (call["id"], "stop", "8003", True)
    time.sleep(0.3)
    phone.on_hook()

    def complete() -> list[dict]:
        return [r for r in d.api.call("recordings.query", call_id=call["id"]) if r["status"] == "complete"]

    wait_for(lambda: len(complete()) == 2, 10, "both segments")
    row, keyed = sorted(complete(), key=lambda r: r["segment"])
    assert row["reason"] == "demand" and abs(row["duration"] - (stopped - started)) < 0.3
    assert keyed["reason"] == "demand" and keyed["segment"] == 2 and 0.5 < keyed["duration"] < 2.5
    for rec, agent_hz in ((row, 400.0), (keyed, None)):
        path = tmp_path / f"{rec['id']}.wav"
        path.write_bytes(fetch_recording(d.api, rec["id"]))
        _, audio = read(path)
        assert len(audio) == round(rec["duration"] * 8000)
        left, right = audio[:, 0].astype(float), audio[:, 1].astype(float)
        assert dominant_frequency(left) == pytest.approx(1000.0, rel=0.02) and level_dbm0(left) > -20  # the caller
        if agent_hz is not None:  # the agent talking
            assert dominant_frequency(right) == pytest.approx(agent_hz, rel=0.02)
        else:  # after the tail of the agent's "1": quiet, the 0.15 s beep (to the phone only) not recorded
            assert level_dbm0(right[800: len(right) // 2]) < -40
    audit = [a["op"] for a in d.api.call("audit.list")]
    assert "recordings.start" in audit and "recordings.stop" in audit
    events.close()


def test_kill_9_mid_recording_leaves_a_valid_partial_file_after_restart(daemon: DaemonProcess,
                                                                        tmp_path: Path) -> None:
    """The daemon dies (SIGKILL) during a recorded call; on restart the partial file is repaired,
    indexed as interrupted, read by soxi and holds the caller's tone up to the crash."""
    w = World(daemon.sim)
    phone, call = _inbound_call(daemon, w)
    time.sleep(3.0)  # the writer has flushed some of it
    daemon.kill9()
    phone.on_hook()
    daemon.start()
    rows = wait_for(lambda: daemon.api.call("recordings.query", call_id=call["id"]), 10, "the index entry")
    assert rows[0]["status"] == "interrupted"
    # start-up recovery ran before anyone could connect: the daemon keeps its events for new subscribers
    with daemon.subscriber("recording.") as events:
        recovered = events.next_event("recording.recovered", timeout=5, where=_of(call["id"]))
    assert (recovered["id"], recovered["call"], recovered["status"], recovered["note"]) == (
        rows[0]["id"], call["id"], "interrupted", "crash")
    data = fetch_recording(daemon.api, call["id"])
    path = tmp_path / "partial.wav"
    path.write_bytes(data)
    soxi = subprocess.run(["soxi", str(path)], capture_output=True, text=True, check=True).stdout
    assert "Channels       : 2" in soxi and "A-law" in soxi
    _info, audio = read(path)
    assert len(audio) > 8000  # at least a second survived
    left = audio[:, 0].astype(float)
    assert dominant_frequency(left[len(left) // 2:]) == pytest.approx(1000.0, rel=0.02)


def test_a_supervisor_plays_back_the_agents_recording(daemon: DaemonProcess) -> None:
    """``*35 8001 # PIN #``: a wrong PIN is refused (busy tone, event); the supervisor's PIN plays
    8001's newest recording, both parties mixed, at the supervisor's phone."""
    events = daemon.subscriber("recording.")
    w = World(daemon.sim)
    agent, _ = _inbound_call(daemon, w)
    time.sleep(2.0)
    agent.on_hook()
    finished = events.next_event("recording.finished", where=lambda e: e["status"] == "complete")

    sup = w.phone("8008")
    sup.lift()
    sup.dial("*358001#1234#")  # not a supervisor's PIN
    refused = events.next_event("recording.playback_refused", timeout=5)
    assert (refused["extension"], refused["agent"]) == ("8008", "8001") and refused["call"]
    heard = w.listen(sup.heard, 1.5, after=0.3)
    assert w.cadence_ms(heard) == (pytest.approx(350, abs=40), pytest.approx(350, abs=40))  # busy
    assert not [e for e in events.events if e["kind"] == "recording.playback"]
    sup.on_hook()
    time.sleep(1.0)  # on hook longer than a hook flash

    sup.lift()
    sup.dial(f"*358001#{SUPERVISOR_PIN}#")  # supervisor 1008's PIN
    played = events.next_event("recording.playback", timeout=5)
    assert (played["supervisor"], played["agent"], played["id"], played["start"]) == (
        "1008", "8001", finished["id"], finished["start"])
    assert played["call"] != refused["call"]
    time.sleep(0.2)
    mark = w.tick()
    time.sleep(1.0)
    assert heard_tones(sup.heard(since=mark), {"caller": 1000.0, "agent": 400.0}) == {"caller", "agent"}
    sup.on_hook()

    def playback_cdrs() -> list[dict]:
        return [c for c in daemon.api.call("cdr.list") if c["called"] == "*35##"]

    wait_for(lambda: len(playback_cdrs()) == 2, 5, "both *35 CDRs")
    assert [c["src"] for c in playback_cdrs()] == ["8008", "8008"]  # who listened, and who tried
    events.close()


def test_second_copy_verified_corrupted_recopied_then_purged(daemon_with, tmp_path: Path) -> None:
    """The housekeeping copies a finished recording; ``recordings.verify`` reads it back (event
    ``recording.copies_verified``); a corrupted copy is found (``recording.copy_mismatch``) and copied
    again; past ``max_age_days`` retention purges the file and its copy (``recording.purged``)."""
    (tmp_path / "backup").mkdir()  # a second copy there, housekeeping every second, recordings kept 10 s
    d = daemon_with(recording={"backup_dir": str(tmp_path / "backup"), "housekeeping_interval_s": 1,
                               "max_age_days": 0.00012})
    events = d.subscriber("recording.")
    w = World(d.sim)
    agent, call = _inbound_call(d, w)
    time.sleep(1.0)
    agent.on_hook()
    finished = events.next_event("recording.finished", where=_of(call["id"]))
    rid = finished["id"]
    wait_for(lambda: d.api.call("recordings.status", call=call["id"])["files"][0]["copy"] == "verified", 5,
             "the second copy")
    original = fetch_recording(d.api, call["id"])
    copy = tmp_path / "backup" / finished["file"]
    assert copy.read_bytes() == original

    verify = d.api.call("recordings.verify")
    assert (verify["checked"], verify["mismatch"], verify["recopied"]) == (1, [], [])
    ev = events.next_event("recording.copies_verified")
    assert (ev["at"], ev["checked"], ev["mismatch"], ev["recopied"]) == (verify["at"], 1, [], [])
    assert not [e for e in events.events if e["kind"] == "recording.copy_mismatch"]

    corrupt = bytearray(original)
    corrupt[len(corrupt) // 2] ^= 0xFF
    copy.write_bytes(bytes(corrupt))
    verify = d.api.call("recordings.verify")
    assert (verify["checked"], verify["mismatch"], verify["recopied"]) == (1, [rid], [rid])
    assert events.next_event("recording.copy_mismatch")["id"] == rid
    ev = events.next_event("recording.copies_verified")
    assert (ev["at"], ev["mismatch"], ev["recopied"]) == (verify["at"], [rid], [rid])
    assert copy.read_bytes() == original  # copied again
    assert d.api.call("recordings.status", call=call["id"])["files"][0]["copy"] == "verified"
    assert d.api.call("recordings.status")["last_verify"] == verify
    wait_for(lambda: [a["op"] for a in d.api.call("audit.list")].count("recordings.verify") == 2, 3,
             "both verifications in the audit log")  # written off the loop

    purged = events.next_event("recording.purged", timeout=15)  # 10.4 s after the recording started
    assert (purged["id"], purged["file"], purged["reason"]) == (rid, finished["file"], "age")
    [row] = d.api.call("recordings.query", call_id=call["id"])
    assert row["status"] == "purged" and row["purge_reason"] == "age"
    assert not copy.exists() and not (d.state_dir / "recordings" / finished["file"]).exists()
    events.close()
