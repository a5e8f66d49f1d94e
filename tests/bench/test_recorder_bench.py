"""Benchmark: the recorder's cost on the tick and the writer's throughput, 60 two-party recordings.

* ``test_tap_cost``: one ``Recorder.tap`` (the tick side: one gather + one queue append) with 0 and
  60 two-party recordings on 120 channels; the writer is drained between rounds (not timed), so this
  is the tap alone.
* ``test_tap_cost_paced``: 100 real 20 ms ticks with 60 recordings while the writer thread really
  writes (GIL contention included); p50/p99/max of the tap in ``extra_info``. After a 20 ms sleep
  everything runs cold (on the 2-vCPU dev VM even ``rx.copy()`` takes ~30 µs paced vs 0.3 µs hot),
  so read this next to the hot figure, not instead of it.
* ``test_writer_throughput``: 60 recordings x 10 s of audio offered at once; time until every file is
  written, finalized (header, fsync of file and directory, sha256) and indexed. MB/s of WAV data
  in ``extra_info``.

Run: ``.venv/bin/pytest tests/bench/test_recorder_bench.py --benchmark-enable``
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from hal.clock import FRAME_SAMPLES
from hal.dsp.g711 import linear_to_alaw
from recorder import Format, Recorder, RecorderConfig
from recorder.tap import TapBlock

CHANNELS = 120
CALLS = 60


def started_recorder(path: Path, calls: int, fmt: Format = Format.STEREO_ALAW, queue_ticks: int = 250) -> Recorder:
    """A recorder in ``path`` recording ``calls`` two-party calls ``c<i>``: caller on channel 2i, agent 2i+1."""
    rec = Recorder(RecorderConfig(directory=path / "rec", index_dir=path / "index", housekeeping_interval=0,
                                  min_free_bytes=0, queue_ticks=queue_ticks))
    for i in range(calls):
        assert rec.start(f"c{i}", {"agent": str(8000 + i)}, 2 * i, 2 * i + 1, fmt)
    rec.flush()
    return rec


def speech_frames() -> np.ndarray:
    """One tick of speech-like noise on every channel, A-law (CHANNELS, 160)."""
    rng = np.random.default_rng(1)
    return linear_to_alaw(rng.normal(0, 3000, (CHANNELS, FRAME_SAMPLES)).astype(np.int16))


@pytest.mark.parametrize("calls", [0, CALLS])
def test_tap_cost(benchmark, tmp_path: Path, calls: int) -> None:
    rec = started_recorder(tmp_path, calls)
    rx, tx = speech_frames(), speech_frames()

    def drain() -> None:  # not timed: the writer catches up between rounds
        rec.flush()

    try:
        benchmark.pedantic(rec.tap, args=(rx, tx), setup=drain, rounds=2000, iterations=1)
        rec.flush()
        assert rec.stats()["dropped_ticks"] == 0
    finally:
        rec.close()


def test_tap_cost_paced(benchmark, tmp_path: Path) -> None:
    rec = started_recorder(tmp_path, CALLS)
    rx, tx = speech_frames(), speech_frames()
    costs: list[float] = []

    def run() -> None:
        nxt = time.monotonic()
        for _ in range(100):
            t0 = time.perf_counter()
            rec.tap(rx, tx)
            costs.append(time.perf_counter() - t0)
            nxt += 0.020
            time.sleep(max(0.0, nxt - time.monotonic()))

    try:
        benchmark.pedantic(run, rounds=1, iterations=1)
        rec.flush()
        us = np.array(costs) * 1e6
        benchmark.extra_info.update(tap_us_p50=round(float(np.percentile(us, 50)), 1),
                                    tap_us_p99=round(float(np.percentile(us, 99)), 1),
                                    tap_us_max=round(float(us.max()), 1))
        assert rec.stats()["dropped_ticks"] == 0
    finally:
        rec.close()


@pytest.mark.parametrize("fmt", [Format.STEREO_ALAW, Format.STEREO_PCM16, Format.MONO_ALAW])
def test_writer_throughput(benchmark, tmp_path_factory: pytest.TempPathFactory, fmt: Format) -> None:
    ticks = 500  # 10 s of audio per recording
    frames = speech_frames()
    rows = np.arange(2 * CALLS)
    keys = tuple(f"c{i}" for i in range(CALLS))
    results: list[float] = []

    def setup() -> tuple[tuple[Recorder], dict]:
        return (started_recorder(tmp_path_factory.mktemp("w"), CALLS, fmt, queue_ticks=ticks + 10),), {}

    def run(rec: Recorder) -> None:
        t0 = time.perf_counter()
        for seq in range(1, ticks + 1):
            rec.writer.offer(TapBlock(seq, keys, frames[rows]))
        for key in keys:
            rec.stop(key)
        rec.flush(120)
        elapsed = time.perf_counter() - t0
        written = sum(r["size"] for r in rec.query(limit=1000))
        assert written == CALLS * (fmt.header_size + ticks * FRAME_SAMPLES * fmt.block_align)
        assert {r["status"] for r in rec.query(limit=1000)} == {"complete"}
        results.append(written / elapsed / 1e6)
        rec.close()

    benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)
    benchmark.extra_info.update(mb_per_s=round(max(results), 1), audio_seconds=CALLS * ticks * 0.02)
