"""Benchmark: the engine's whole 20 ms tick with 60 two-party bridged calls on 120 channels (4 E1
spans), without and with all 60 recorded — the real ``Engine`` + ``Media`` + the recorder's tap, the
writer thread really writing in the background — and the throughput from the tick to indexed files.

* ``test_tick_60_calls[off|on]``: ``Engine.on_tick`` hot (back to back); the writer catches up between
  rounds when its queue is over 100 ticks (not timed), so nothing is dropped.
* ``test_tick_60_calls_paced``: 250 real 20 ms ticks each way; p50/p99/max of the tick in ``extra_info``
  (GIL hand-overs to the writer included).
* ``test_engine_to_files_throughput``: 60 calls x 10 s through the engine as fast as it goes, then every
  recording stopped, written, fsync'd, checksummed and indexed: MB/s of WAV data.

Run: ``.venv/bin/pytest tests/bench/test_recording_tick_bench.py --benchmark-enable``
(the writer alone: tests/bench/test_recorder_bench.py)
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from daemon.config.model import Config
from daemon.runtime.engine import Engine
from hal.board import Tick
from hal.clock import FRAME_SAMPLES
from recorder import Format, Recorder
from tests.bench.test_recorder_bench import CALLS, CHANNELS, speech_frames, started_recorder
from tests.bench.test_tick_bench import MemoryBoard


def _engine(tmp: Path, record: bool) -> tuple[Engine, np.ndarray, Recorder | None]:
    eng = Engine(Config(path="bench"), MemoryBoard([{"id": i + 1, "kind": "e1", "signalling": "cas"}
                                                    for i in range(4)]), lambda *a: None)
    eng.attach()
    media = eng.media
    assert len(eng.by_channel) == CHANNELS == 2 * CALLS
    for i in range(CALLS):  # caller on channel 2i, agent on 2i+1; the agent's keys are listened for
        media.connect(2 * i, 2 * i + 1)
        media.detect(2 * i + 1, "dtmf", True)
    rec = started_recorder(tmp, CALLS) if record else None
    eng.recorder = rec
    return eng, speech_frames(), rec


@pytest.mark.parametrize("recording", [False, True], ids=["off", "on"])
def test_tick_60_calls(benchmark, tmp_path: Path, recording: bool) -> None:
    eng, rx, rec = _engine(tmp_path, recording)
    n = iter(range(10**9))

    def catch_up() -> None:  # not timed
        if rec is not None and rec.writer.pending() > 100:
            rec.flush()

    try:
        benchmark.pedantic(lambda: eng.on_tick(Tick(next(n), rx, [])), setup=catch_up, rounds=3000, iterations=1,
                           warmup_rounds=50)
        if rec is not None:
            rec.flush()
            assert rec.stats()["dropped_ticks"] == 0 and rec.stats()["active"] == CALLS
            benchmark.extra_info["bytes_written"] = rec.stats()["bytes_written"]
    finally:
        if rec is not None:
            rec.close()


def test_tick_60_calls_paced(benchmark, tmp_path_factory: pytest.TempPathFactory) -> None:
    result: dict[str, float] = {}

    def run() -> None:
        for recording in (False, True):
            eng, rx, rec = _engine(tmp_path_factory.mktemp("paced"), recording)
            costs = []
            nxt = time.monotonic()
            for i in range(250):
                t0 = time.perf_counter()
                eng.on_tick(Tick(i, rx, []))
                costs.append(time.perf_counter() - t0)
                nxt += 0.020
                time.sleep(max(0.0, nxt - time.monotonic()))
            us = np.array(costs[10:]) * 1e6
            key = "on" if recording else "off"
            result.update({f"{key}_p50_us": round(float(np.percentile(us, 50)), 1),
                           f"{key}_p99_us": round(float(np.percentile(us, 99)), 1),
                           f"{key}_max_us": round(float(us.max()), 1)})
            if rec is not None:
                rec.flush()
                result["dropped_ticks"] = rec.stats()["dropped_ticks"]
                rec.close()

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    assert result["dropped_ticks"] == 0


def test_engine_to_files_throughput(benchmark, tmp_path_factory: pytest.TempPathFactory) -> None:
    ticks = 500  # 10 s of every call
    results: list[float] = []

    def setup() -> tuple[tuple, dict]:
        return _engine(tmp_path_factory.mktemp("tp"), True), {}

    def run(eng: Engine, rx: np.ndarray, rec: Recorder) -> None:
        t0 = time.perf_counter()
        for i in range(ticks):
            eng.on_tick(Tick(i, rx, []))
            if rec.writer.pending() > 200:  # a tick faster than real time must not overrun the queue
                time.sleep(0.001)
        for i in range(CALLS):
            rec.stop(f"c{i}")
        rec.flush(120)
        elapsed = time.perf_counter() - t0
        rows = rec.query(limit=1000)
        assert {r["status"] for r in rows} == {"complete"} and rec.stats()["dropped_ticks"] == 0
        written = sum(r["size"] for r in rows)
        fmt = Format.STEREO_ALAW
        assert written == CALLS * (fmt.header_size + ticks * FRAME_SAMPLES * fmt.block_align)
        results.append(written / elapsed / 1e6)
        rec.close()

    benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)
    benchmark.extra_info.update(mb_per_s=round(max(results), 1), realtime_factor=round(
        max(results) * 1e6 / (CALLS * 16000), 1))
