"""After kill -9 mid-recording: the partial file is repaired (valid WAV, sizes = data) and indexed interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from recorder import wav
from recorder.index import RecordingIndex
from recorder.wav import Format
from tests.unit.recorder.signals import corr, linear, noise, sox_samples, soxi

ROOT = Path(__file__).resolve().parents[3]

CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from recorder import Recorder, RecorderConfig
    from tests.unit.recorder.conftest import Line
    from tests.unit.recorder.signals import noise
    rec = Recorder(RecorderConfig(directory={rec!r}, index_dir={idx!r}, housekeeping_interval=0,
                                  min_free_bytes=0))
    caller, agent = noise(1, 5000), noise(2, 5000)
    line = Line()
    line.bridges.append((1, 2))
    rec.start("crash", {{"agent": "8001", "caller": "13800138000"}}, 1, 2)
    for i in range(5000):
        line.step(rec, {{1: caller, 2: agent}})
        if i == 100:
            rec.flush()
            print("recording", flush=True)
        time.sleep(0.001)
    print("not killed", flush=True)
""")


def test_kill_9_mid_recording_leaves_a_valid_partial_file(make_recorder, tmp_path: Path) -> None:
    code = CHILD.format(root=str(ROOT), rec=str(tmp_path / "rec"), idx=str(tmp_path / "index"))
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "recording"
        time.sleep(0.3)  # keep writing for a while, then die without any chance to finish
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    [path] = (tmp_path / "rec").glob("*/crash-1.wav")
    left = path.stat().st_size
    assert left > 58 + 100 * 320
    declared = wav.read_info(path).data_size
    assert declared < left - 58  # the header lags the data on disk (it is patched every 10 s)
    assert int(soxi(path, "-s")) == declared // 2

    rec = make_recorder()
    [row] = rec.recovered
    assert row["id"] == "crash-1" and row["status"] == "interrupted" and row["note"] == "crash"
    assert rec.query(call_id="crash") == [row] and rec.index.unfinished() == []
    frames = (left - 58) // 2
    assert row["size"] == 58 + 2 * frames == path.stat().st_size
    assert row["duration"] == round(frames / 8000, 3)
    assert soxi(path, "-s") == str(frames) and soxi(path, "-c") == "2"
    got = sox_samples(path)
    assert np.array_equal(got, wav.read(path)[1])
    assert corr(linear(noise(1, 5000))[:frames], got[:, 0]) > 0.9
    assert corr(linear(noise(2, 5000))[:frames], got[:, 1]) > 0.9
    assert rec.fetch("crash") == path.read_bytes()
    assert {e["event"] for e in rec.drain_events()} >= {"recording.recovered"}


def test_orphan_files_and_files_cut_in_the_header(tmp_path: Path) -> None:
    """A file with no index row (the index write failed) is indexed; one whose header was cut is
    repaired from its row's format and, holding no audio, removed."""
    root = tmp_path / "rec"
    day = root / "20261123"
    day.mkdir(parents=True)
    sig = noise(4, 20)
    (day / "orphan-1.wav").write_bytes(wav.header(Format.STEREO_ALAW) + sig.tobytes() + b"\x01")
    idx = RecordingIndex(tmp_path / "index")
    idx.put(dict(id="cut-1", call_id="cut", segment=1, start=1763856000.0, file="20261123/cut-1.wav",
                 format="mono-pcm16", status="recording", size=0, copy="none"))
    (day / "cut-1.wav").write_bytes(wav.header(Format.MONO_PCM16)[:30])
    from recorder.recovery import recover
    out = {r["id"]: r for r in recover(root, idx, now=1763856100.0)}
    assert out["orphan-1"]["status"] == "interrupted" and out["orphan-1"]["call_id"] == "orphan"
    assert out["orphan-1"]["size"] == 58 + 3200 and soxi(day / "orphan-1.wav", "-s") == "1600"
    assert out["cut-1"]["size"] == 0 and not (day / "cut-1.wav").exists()
    assert idx.get("cut-1")["status"] == "interrupted" and idx.unfinished() == []
    assert recover(root, idx) == []  # nothing left to recover


def test_close_mid_call_finalizes_as_interrupted_shutdown(make_recorder, tmp_path: Path) -> None:
    from tests.unit.recorder.conftest import Line

    rec = make_recorder()
    line = Line()
    sig = noise(9, 30)
    rec.start("open", {"agent": "8001"}, 1, 2)
    line.run(rec, {1: sig, 2: sig}, 30)
    rec.close()  # the daemon stops while the call is up
    again = make_recorder()
    assert again.recovered == []  # nothing to repair: closing finalized it
    [row] = again.query(call_id="open")
    assert row["status"] == "interrupted" and row["note"] == "shutdown" and row["duration"] == 0.6
    assert corr(linear(sig), wav.read(again.path("open"))[1][:, 0]) > 0.99


def test_recovery_scope_times_and_copies(tmp_path: Path) -> None:
    """Only the newest ``days`` day directories are scanned for orphans; an orphan ends at its file's
    mtime and starts its audio's length before; a row the index had held as finished is not
    recovered; with a backup, only a row with audio is queued for its copy."""
    from recorder.recovery import recover

    root = tmp_path / "rec"
    sig = noise(4, 20).tobytes()  # 20 ticks of stereo A-law: 0.2 s
    for day in ("20261120", "20261122", "20261123"):
        (root / day).mkdir(parents=True)
    (root / "20261120" / "old-1.wav").write_bytes(wav.header(Format.STEREO_ALAW) + sig)
    orphan = root / "20261123" / "orphan-1.wav"
    orphan.write_bytes(wav.header(Format.STEREO_ALAW) + sig)
    os.utime(orphan, (1763856050.0, 1763856050.0))
    done = root / "20261123" / "done-1.wav"
    done.write_bytes(wav.header(Format.STEREO_ALAW, len(sig)) + sig)
    idx = RecordingIndex(tmp_path / "index")
    base = dict(segment=1, start=1763856000.0, format="stereo-alaw", size=0, copy="none")
    idx.put(dict(base, id="done-1", call_id="done", file="20261123/done-1.wav", status="recording"))
    idx.put(dict(base, id="cut-1", call_id="cut", file="20261123/cut-1.wav", status="recording"))
    held = [dict(base, id="done-1", call_id="done", file="20261123/done-1.wav", status="complete",
                 size=58 + len(sig))]
    out = {r["id"]: r for r in recover(root, idx, now=1763856100.0, backup=True, held=held)}
    assert set(out) == {"orphan-1", "cut-1"}  # not old-1 (an older day), not done-1 (held as finished)
    assert out["orphan-1"]["end"] == 1763856050.0 and out["orphan-1"]["start"] == 1763856050.0 - 0.2
    assert out["orphan-1"]["copy"] == "pending" and out["cut-1"]["copy"] == "none"
    assert done.read_bytes()[:58] == wav.header(Format.STEREO_ALAW, len(sig))  # left as it was
