"""Agent policy by agent ID or extension; scheduled re-verification of second copies with a status per
file; streaming playback of a recording as the A-law a phone hears (measured against the file)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from hal.dsp.g711 import alaw_to_linear
from recorder import playback, wav
from recorder.policy import CallInfo, RecordingPolicy, decide
from tests.support.processes import wait_for
from tests.unit.recorder.conftest import Line
from tests.unit.recorder.signals import corr, linear, noise


def _record(rec, call_id: str, parties: dict, ticks: int = 50, seed: int = 1) -> None:
    line = Line()
    rec.start(call_id, parties, 1, 2)
    sends = {1: noise(seed, ticks), 2: noise(seed + 100, ticks)}
    for _ in range(0, ticks, 100):  # the writer keeps up (its queue holds 250 ticks)
        line.run(rec, sends, min(100, ticks - line.tick))
        rec.flush()
    rec.stop(call_id)
    assert rec.stats()["dropped_ticks"] == 0


def test_agents_match_agent_id_or_extension() -> None:
    policy = RecordingPolicy("selected", agents=frozenset({"1023", "8005"}))
    assert decide(CallInfo("a", agent="1023", extension="8001"), policy).reason == "agent:1023"
    assert decide(CallInfo("b", agent="1099", extension="8005"), policy).reason == "agent:8005"
    assert not decide(CallInfo("c", agent="1099", extension="8001"), policy).record


def test_query_by_agent_finds_agent_id_and_extension(make_recorder) -> None:
    rec = make_recorder()
    _record(rec, "a", {"agent": "1023", "extension": "8001", "queue": "sales"})
    _record(rec, "b", {"agent": "8002", "extension": "8002"})
    rec.flush()
    assert [r["call_id"] for r in rec.query(agent="1023")] == ["a"]
    assert [r["call_id"] for r in rec.query(agent="8001")] == ["a"]
    assert [r["call_id"] for r in rec.query(agent="8002")] == ["b"]
    row = rec.query(call_id="a")[0]
    assert (row["agent"], row["extension"], row["queue"]) == ("1023", "8001", "sales")


def test_copies_are_reverified_on_a_schedule_with_a_status_per_file(make_recorder, tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    backup.mkdir()
    events: list[dict] = []
    rec = make_recorder(backup_dir=backup)
    rec.writer.on_event = events.append
    _record(rec, "a", {"agent": "8001"}, seed=1)
    _record(rec, "b", {"agent": "8002"}, seed=2)
    rec.flush()
    rec.housekeep(now=1000.0)
    assert rec.stats()["copies"] == {"verified": 2}
    assert [(s["copy"], s["copy_checked"]) for s in rec.copy_status("a")] == [("verified", rec.query(
        call_id="a")[0]["copy_checked"])]

    copy = backup / rec.query(call_id="b")[0]["file"]
    data = bytearray(copy.read_bytes())
    data[2000] ^= 0x10  # a bit rots on the backup disk
    copy.write_bytes(bytes(data))
    summary = rec.verify_copies(now=2000.0)
    assert summary["checked"] == 2 and summary["mismatch"] == ["b-1"] and summary["recopied"] == ["b-1"]
    assert copy.read_bytes() == rec.fetch("b-1")  # copied again and verified
    assert rec.copy_status("a")[0]["copy_checked"] == 2000.0
    assert rec.copy_status("b-1")[0]["copy"] == "verified"
    assert any(e["event"] == "recording.copy_mismatch" and e["id"] == "b-1" for e in events)
    assert rec.stats()["last_verify"]["mismatch"] == ["b-1"]

    # the housekeeping thread does the same by itself, every verify_interval
    rec2 = make_recorder(directory=tmp_path / "rec2", index_dir=tmp_path / "index2", backup_dir=backup,
                         verify_interval=0.1)
    _record(rec2, "c", {"agent": "8003"}, seed=3)
    rec2.flush()
    rec2.housekeep()
    copy = backup / rec2.query(call_id="c")[0]["file"]
    copy.unlink()  # the copy vanished
    wait_for(lambda: rec2.last_verify and rec2.last_verify["mismatch"], 30, "the scheduled verification", 0.02)
    assert rec2.last_verify["mismatch"] == ["c-1"] and copy.exists()
    assert rec2.copy_status("c")[0]["copy"] == "verified"


def test_player_streams_what_frames_gives(make_recorder) -> None:
    rec = make_recorder()
    ticks = 700
    _record(rec, "long", {"agent": "8001"}, ticks=ticks, seed=5)
    rec.flush()
    path = rec.path("long")
    whole = playback.frames(path)
    assert whole.shape == (ticks, 160)
    mix = wav.read(path)[1].astype(float).sum(axis=1)
    assert corr(alaw_to_linear(whole).reshape(-1), mix) > 0.99
    assert corr(linear(whole), linear(noise(5, ticks)) + linear(noise(105, ticks))) > 0.9

    with ThreadPoolExecutor(1) as pool:
        player = pool.submit(playback.Player(path, pool.submit, play_id=7, chunk_ticks=100, low_ticks=40).prime).result()
        got, done = [], None
        while done is None:
            frame, done = player.frame()
            if done is None:
                got.append(frame)
            pool.submit(lambda: None).result()  # reads keep up (real time would give 20 ms per tick)
        assert done == 7 and player.late_ticks == 0
        assert np.array_equal(np.stack(got), whole)
        assert player.frame()[1] is None  # ended once
