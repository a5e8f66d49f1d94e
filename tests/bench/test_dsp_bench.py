"""Benchmark: the per-tick DSP alone — A-law decode, DTMF (the tick's receiver, hal.dsp.dtmf_rx) and call-progress detection over
every channel — against the number of channels (8, 30, 60, 120); and line echo cancellation
(hal.dsp.echo, 32 ms tail) for 1, 8, 40 and 120 channels, with its cost per channel (``extra_info``,
printed with ``-s``), beside speexdsp's canceller called per channel (cffi, 256 taps).

Run: ``.venv/bin/pytest tests/bench --benchmark-enable``
"""

from __future__ import annotations

import numpy as np
import pytest

from hal.dsp.dtmf_rx import DtmfBank
from hal.dsp.echo import EchoBank
from hal.dsp.g711 import alaw_to_linear, linear_to_alaw
from hal.dsp.progress import ProgressBank

CHANNELS = [8, 30, 60, 120]


def _rx(channels: int) -> np.ndarray:
    rng = np.random.default_rng(2)
    t = np.arange(160) / 8000
    return linear_to_alaw((3000 * np.sin(2 * np.pi * 450 * t) + rng.normal(0, 800, (channels, 160))).astype(np.int16))


@pytest.mark.parametrize("channels", CHANNELS)
def test_dtmf_and_progress(benchmark, channels: int) -> None:
    rx, dtmf, progress = _rx(channels), DtmfBank(channels), ProgressBank(channels)
    chans = list(range(channels))

    def tick() -> int:
        lin = alaw_to_linear(rx)
        return len(dtmf.process(lin, chans)) + len(progress.process(lin, chans))

    assert benchmark(tick) >= 0


@pytest.mark.parametrize("channels", CHANNELS)
def test_progress_only(benchmark, channels: int) -> None:
    lin, progress = alaw_to_linear(_rx(channels)), ProgressBank(channels)
    chans = list(range(channels))
    benchmark(lambda: progress.process(lin, chans))
    assert progress.run[0] > 0


def _echo_signals(channels: int, ticks: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """(transmitted, received) linear ticks: noise and its echo, 12 dB down and a few ms late."""
    rng = np.random.default_rng(3)
    tx = rng.normal(0, 2000, (ticks, channels, 160))
    flat = tx.transpose(1, 0, 2).reshape(channels, -1)
    rx = 0.25 * np.concatenate([np.zeros((channels, 24)), flat[:, :-24]], axis=1)
    return tx, rx.reshape(channels, ticks, 160).transpose(1, 0, 2)


@pytest.mark.parametrize("channels", [1, 8, 40, 120])
def test_echo(benchmark, channels: int) -> None:
    tx, rx = _echo_signals(channels)
    bank = EchoBank(channels, 32.0, 1)
    at = [0]

    def tick() -> None:
        i = at[0] % len(tx)
        at[0] += 1
        bank.cancel(rx[i])
        bank.remember(tx[i])

    for _ in range(len(tx)):  # converged first, as on a call
        tick()
    benchmark(tick)
    if benchmark.stats:
        per = benchmark.stats.stats.median * 1e6 / channels
        benchmark.extra_info["us_per_channel"] = round(per, 1)
        print(f"\necho cancelling, {channels} channels: {per:.1f} us per channel (median)")


def test_speexdsp_echo_per_channel_40(benchmark) -> None:
    """speexdsp's canceller (libspeexdsp.so.1, cffi ABI mode) called per channel, for comparison."""
    from cffi import FFI

    ffi = FFI()
    ffi.cdef("""typedef struct SpeexEchoState_ SpeexEchoState;
        SpeexEchoState *speex_echo_state_init(int frame_size, int filter_length);
        void speex_echo_state_destroy(SpeexEchoState *st);
        void speex_echo_cancellation(SpeexEchoState *st, const short *rec, const short *play, short *out);""")
    lib = ffi.dlopen("libspeexdsp.so.1")
    tx, rx = _echo_signals(40)
    tx, rx = tx.astype(np.int16), rx.astype(np.int16)
    states = [ffi.gc(lib.speex_echo_state_init(160, 256), lib.speex_echo_state_destroy) for _ in range(40)]
    out = np.zeros((40, 160), np.int16)
    at = [0]

    def tick() -> None:
        i = at[0] % len(tx)
        at[0] += 1
        for ch, st in enumerate(states):
            lib.speex_echo_cancellation(st, ffi.from_buffer("short[]", rx[i, ch]), ffi.from_buffer("short[]", tx[i, ch]),
                                        ffi.from_buffer("short[]", out[ch]))

    benchmark(tick)
    if benchmark.stats:
        per = benchmark.stats.stats.median * 1e6 / 40
        benchmark.extra_info["us_per_channel"] = round(per, 1)
        print(f"\nspeexdsp echo cancelling, 40 channels one by one: {per:.1f} us per channel (median)")
