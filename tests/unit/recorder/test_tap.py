"""Tapping a two-party call: the stereo file's channels are what each party sent (measured)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from hal.dsp.g711 import alaw_to_linear
from recorder import Format, Recorder, wav
from recorder.tap import RecordingTaps, Tap, TapBlock
from tests.unit.recorder.conftest import Line
from tests.unit.recorder.signals import best_corr, corr, linear, noise, sox_samples, soxi, tone

TICKS = 250  # 5 s
CALLER, AGENT = 2, 5
PARTIES = {"caller": "13800138000", "called": "4008001234", "trunk": "span1", "agent": "8001",
           "queue": "sales", "direction": "inbound"}


def _call(rec: Recorder, fmt: Format | None = None, ticks: int = TICKS,
          caller_sig: np.ndarray | None = None, agent_sig: np.ndarray | None = None) -> tuple[dict, np.ndarray, np.ndarray]:
    caller_sig = tone(400, ticks) if caller_sig is None else caller_sig
    agent_sig = tone(1000, ticks) if agent_sig is None else agent_sig
    line = Line()
    line.bridges.append((CALLER, AGENT))
    assert rec.start("c1", PARTIES, CALLER, AGENT, fmt)
    line.run(rec, {CALLER: caller_sig, AGENT: agent_sig}, ticks)
    assert rec.stop("c1")
    assert rec.flush()
    [row] = rec.query(call_id="c1")
    return row, linear(caller_sig), linear(agent_sig)


def test_two_tones_stereo_alaw_read_by_sox_and_by_us(make_recorder) -> None:
    rec = make_recorder()
    row, caller, agent = _call(rec)
    path = rec.path("c1")
    assert row["status"] == "complete" and row["format"] == "stereo-alaw"
    assert soxi(path, "-c") == "2" and soxi(path, "-e") == "A-law" and soxi(path, "-s") == str(TICKS * 160)
    assert row["duration"] == pytest.approx(TICKS * 0.02)
    by_sox = sox_samples(path)
    info, ours = wav.read(path)
    assert np.array_equal(by_sox, ours)
    assert best_corr(caller, ours[:, 0]) > 0.9 and best_corr(agent, ours[:, 1]) > 0.9
    # not swapped and not mixed: each channel is one party only
    assert abs(corr(caller, ours[:, 1])) < 0.1 and abs(corr(agent, ours[:, 0])) < 0.1


@pytest.mark.parametrize("fmt", list(Format))
def test_noise_parties_every_format(make_recorder, fmt: Format) -> None:
    rec = make_recorder()
    row, caller, agent = _call(rec, fmt, caller_sig=noise(1, TICKS), agent_sig=noise(2, TICKS))
    path = rec.path("c1")
    by_sox = sox_samples(path).astype(float)
    assert by_sox.shape == (TICKS * 160, fmt.channels)
    assert np.array_equal(by_sox, wav.read(path)[1])
    if fmt.channels == 2:
        assert corr(caller, by_sox[:, 0]) > 0.9 and corr(agent, by_sox[:, 1]) > 0.9
        assert abs(corr(caller, by_sox[:, 1])) < 0.1
    else:
        mix = by_sox[:, 0]
        assert corr(caller + agent, mix) > 0.9
        assert 0.5 < corr(caller, mix) < 0.9 and 0.5 < corr(agent, mix) < 0.9  # both parties, equally


def test_one_party_recording_right_is_what_the_box_played(make_recorder) -> None:
    rec = make_recorder()
    caller, prompt = noise(3, 100), tone(600, 100)
    line = Line()
    assert rec.start("ivr", PARTIES, CALLER, None)
    for _ in range(100):  # the caller speaks; the box plays a prompt to the caller's channel
        line.rx[:] = 0xD5
        line.rx[CALLER] = caller[line.tick]
        line.tx[:] = 0xD5
        line.tx[CALLER] = prompt[line.tick]
        rec.tap(line.rx, line.tx)
        line.tick += 1
    rec.stop("ivr")
    rec.flush()
    got = wav.read(rec.path("ivr"))[1]
    assert corr(linear(caller), got[:, 0]) > 0.9 and corr(linear(prompt), got[:, 1]) > 0.9


def test_tap_is_one_gather_of_copies() -> None:
    blocks: list[TapBlock] = []
    taps = RecordingTaps(lambda b: blocks.append(b) is None)
    rx = np.arange(8 * 160, dtype=np.uint32).reshape(8, 160).astype(np.uint8)
    rx[:, 0] = np.arange(8)
    tx = rx[::-1].copy()
    taps.tap(rx, tx)
    assert blocks == []  # nothing recorded: nothing handed on
    taps.add(Tap("a", 1, 6, Format.STEREO_ALAW, "all"))
    taps.add(Tap("b", 3, None, Format.STEREO_ALAW, "all"))
    taps.tap(rx, tx)
    [block] = blocks
    assert block.keys == ("a", "b") and block.seq == 2
    assert list(block.frames[:, 0]) == [1, 6, 3, tx[3, 0]]
    rx[:] = 0
    assert block.frames[0, 0] == 1  # a copy: the engine may reuse its arrays
    taps.remove("a")
    taps.tap(rx, tx)
    assert blocks[-1].keys == ("b",) and blocks[-1].frames.shape == (2, 160)


def test_full_queue_drops_without_blocking_and_keeps_timing(make_recorder) -> None:
    """With the writer stalled, the tick side drops (counted, alarmed) instead of waiting; lost ticks
    become silence so the audio after them stays in time."""
    rec = make_recorder(queue_ticks=10)
    sig = tone(400, 60)
    line = Line()
    rec.start("c1", PARTIES, CALLER, AGENT)
    rec.flush()
    cond = rec.writer._cond
    waits: list[tuple] = []
    real_wait = cond.wait
    with cond:  # the writer thread cannot take anything while we hold its lock
        # and cannot start waiting either: any wait on it now is the tick side's, blocking until the
        # writer drains (what the tick must never do); counted, not timed, so a loaded machine cannot fail it
        cond.wait = lambda *a, **kw: waits.append(a) or real_wait(*a, **kw)
        for _ in range(40):
            line.step(rec, {CALLER: sig, AGENT: sig})
        del cond.wait
    assert waits == []
    assert rec.stats()["dropped_ticks"] == 30
    rec.flush()
    for _ in range(4):  # a writer that keeps up again (flushes: the queue holds only 10 ticks)
        line.run(rec, {CALLER: sig, AGENT: sig}, 5)
        rec.flush()
    rec.stop("c1")
    rec.flush()
    assert "recorder.overrun" in rec.alarms
    assert rec.stats()["gap_ticks"] == 30
    got = wav.read(rec.path("c1"))[1][:, 0].astype(float)
    assert len(got) == 60 * 160
    sent = linear(sig)
    assert corr(sent[:1600], got[:1600]) > 0.99  # before the drop
    assert np.all(np.abs(got[1600:6400]) < 16)  # the dropped ticks: silence
    assert corr(sent[6400:], got[6400:]) > 0.99  # after: the same place in time


def test_event_and_row_only_after_fsync(make_recorder, tmp_path: Path) -> None:
    events: list[dict] = []
    rec = make_recorder()
    rec.writer.on_event = events.append
    row, *_ = _call(rec, ticks=20)
    done = [e for e in events if e["event"] == "recording.finished"]
    assert done and done[0]["id"] == row["id"] == "c1-1"
    assert done[0]["sha256"] == row["sha256"] and row["size"] == rec.path("c1").stat().st_size
    assert alaw_to_linear(np.frombuffer(rec.fetch("c1")[58:], np.uint8)).size == 20 * 160 * 2


def test_ticks_dropped_at_the_end_are_silence_too(make_recorder) -> None:
    rec = make_recorder(queue_ticks=5)
    sig = tone(400, 20)
    line = Line()
    rec.start("c1", PARTIES, CALLER, AGENT)
    rec.flush()
    with rec.writer._cond:
        line.run(rec, {CALLER: sig, AGENT: sig}, 20)
        rec.stop("c1")
    rec.flush()
    got = wav.read(rec.path("c1"))[1][:, 0]
    assert len(got) == 20 * 160 and rec.stats()["dropped_ticks"] == 15
    assert corr(linear(sig)[:800], got[:800]) > 0.99 and np.all(np.abs(got[800:]) < 16)


def test_long_call_continues_in_segments_without_a_gap(make_recorder) -> None:
    rec = make_recorder(max_segment_bytes=100 * 320)
    caller, agent = noise(7, 250), noise(8, 250)
    line = Line()
    rec.start("long", PARTIES, CALLER, AGENT)
    for _ in range(25):  # the writer sees 10 ticks at a time
        line.run(rec, {CALLER: caller, AGENT: agent}, 10)
        rec.flush()
    rec.stop("long")
    rec.flush()
    rows = rec.query(call_id="long")
    assert [r["status"] for r in rows] == ["complete"] * 3 and all(r["size"] <= 58 + 100 * 320 for r in rows)
    audio = np.concatenate([wav.read(rec.path(r["id"]))[1] for r in rows])
    assert np.array_equal(audio[:, 0], alaw_to_linear(caller).reshape(-1))  # every sample, in order
    assert np.array_equal(audio[:, 1], alaw_to_linear(agent).reshape(-1))


def test_playback_frames_are_both_parties_mixed(make_recorder) -> None:
    from recorder import playback

    rec = make_recorder()
    row, caller, agent = _call(rec, ticks=101, caller_sig=noise(1, 101), agent_sig=noise(2, 101))
    out = playback.frames(rec.path("c1"))
    assert out.shape == (101, 160) and out.dtype == np.uint8
    heard = linear(out)
    assert corr(caller + agent, heard) > 0.95
    assert 0.5 < corr(caller, heard) < 0.9 and 0.5 < corr(agent, heard) < 0.9


def test_file_in_progress_is_synced_and_playable(make_recorder) -> None:
    rec = make_recorder(sync_interval=0.05)
    sig = noise(3, 100)
    line = Line()
    rec.start("live", PARTIES, CALLER, AGENT)
    line.run(rec, {CALLER: sig, AGENT: sig}, 100)
    rec.flush()
    time.sleep(0.2)  # a periodic sync
    rec.flush()
    [row] = rec.query(call_id="live")
    path = rec.directory / row["file"]
    assert row["status"] == "recording"
    assert soxi(path, "-s") == str(100 * 160)  # the header already declares what is on disk
    assert corr(linear(sig), sox_samples(path)[:, 0]) > 0.99


def test_a_malformed_block_costs_one_item_not_the_writer(make_recorder) -> None:
    rec = make_recorder()
    sig = noise(4, 50)
    line = Line()
    rec.start("c1", PARTIES, CALLER, AGENT)
    line.run(rec, {CALLER: sig, AGENT: sig}, 25)
    rec.writer.offer(TapBlock(10**6, ("c1",), np.zeros((3, 160), np.uint8)))  # wrong shape
    assert rec.flush(5)  # the barrier behind it is still honoured
    assert "recorder.write_error" in rec.alarms
    line.run(rec, {CALLER: sig, AGENT: sig}, 25)
    rec.stop("c1")
    rec.flush()
    got = wav.read(rec.path("c1"))[1][:, 0]
    assert len(got) == 50 * 160 and corr(linear(sig), got) > 0.99


def test_bad_channels_never_break_the_tick(make_recorder) -> None:
    rec = make_recorder()
    with pytest.raises(ValueError, match="channel"):
        rec.start("neg", PARTIES, -1, AGENT)  # would silently record the last row
    sig = noise(6, 40)
    line = Line()
    assert rec.start("good", PARTIES, CALLER, AGENT)
    assert rec.start("bad", PARTIES, 500, AGENT)
    assert rec.start("bad-agent", PARTIES, CALLER + 2, 500)  # the agent's channel out of range too
    line.run(rec, {CALLER: sig, AGENT: sig}, 40)
    rec.stop("good")
    rec.flush()
    assert "recorder.bad_channel" in rec.alarms and not rec.recording("bad") and not rec.recording("bad-agent")
    assert rec.query(call_id="bad-agent")[0]["note"] == "bad channel"
    assert corr(linear(sig), wav.read(rec.path("good"))[1][:, 0]) > 0.99
    assert len(wav.read(rec.path("good"))[1]) == 40 * 160
    assert rec.query(call_id="bad")[0]["note"] == "bad channel"
    assert rec.query(call_id="neg") == []  # refused before anything was opened
