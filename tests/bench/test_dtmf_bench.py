"""Benchmark: one tick of DTMF reception for 8-120 channels — the project's receiver
(``hal.dsp.dtmf_rx.DtmfBank``, the tick's) against spandsp's ``dtmf_rx`` called per channel (bare,
and as ``hal.dsp.dtmf.DtmfBank`` runs it), on the same A-law-decoded audio (450 Hz plus noise, every
channel listening), and A-law decode with each.

Run: ``.venv/bin/pytest tests/bench/test_dtmf_bench.py --benchmark-enable -p no:cacheprovider``
"""

from __future__ import annotations

import numpy as np
import pytest

from hal.dsp import dtmf as spandsp_dtmf
from hal.dsp import dtmf_rx
from hal.dsp.g711 import alaw_to_linear
from hal.dsp.spandsp import ffi, lib
from tests.bench.test_dsp_bench import CHANNELS, _rx  # the same tick of dial tone and noise
from tests.support.dtmf_signals import silence, to_int16, tone_pair


@pytest.mark.parametrize("channels", CHANNELS)
def test_ours(benchmark, channels: int) -> None:
    lin, bank = alaw_to_linear(_rx(channels)), dtmf_rx.DtmfBank(channels)
    chans = list(range(channels))
    assert benchmark(lambda: bank.process(lin, chans)) == []


@pytest.mark.parametrize("channels", CHANNELS)
def test_spandsp_dtmf_rx_per_channel(benchmark, channels: int) -> None:
    lin = np.ascontiguousarray(alaw_to_linear(_rx(channels)))
    states = [ffi.gc(lib.dtmf_rx_init(ffi.NULL, ffi.NULL, ffi.NULL), lib.dtmf_rx_free) for _ in range(channels)]
    for s in states:
        lib.dtmf_rx_parms(s, 1, spandsp_dtmf.NORMAL_TWIST_DB, spandsp_dtmf.REVERSE_TWIST_DB, spandsp_dtmf.THRESHOLD_DBM0)
    digits = ffi.new("char[]", 129)

    def tick() -> int:
        base = ffi.cast("int16_t *", ffi.from_buffer(lin))
        got = 0
        for ch, s in enumerate(states):
            lib.dtmf_rx(s, base + ch * 160, 160)
            got += lib.dtmf_rx_get(s, digits, 128)
        return got

    assert benchmark(tick) == 0


@pytest.mark.parametrize("channels", CHANNELS)
def test_spandsp_bank(benchmark, channels: int) -> None:
    lin, bank = alaw_to_linear(_rx(channels)), spandsp_dtmf.DtmfBank(channels)
    chans = list(range(channels))
    assert benchmark(lambda: bank.process(lin, chans)) == []


@pytest.mark.parametrize("engine", ["ours", "spandsp"])
def test_decode_and_dtmf_120(benchmark, engine: str) -> None:
    rx = _rx(120)
    bank = dtmf_rx.DtmfBank(120) if engine == "ours" else spandsp_dtmf.DtmfBank(120)
    chans = list(range(120))
    assert benchmark(lambda: bank.process(alaw_to_linear(rx), chans)) == []


@pytest.mark.parametrize("engine", ["ours", "spandsp"])
def test_every_channel_keying_120(benchmark, engine: str) -> None:
    """The worst case: all 120 channels keying digits at once (60 ms on, 60 ms off, A-law), a tick at a time."""
    x = to_int16(np.concatenate([np.concatenate([tone_pair(d, 60), silence(60)]) for d in "1234567890"]), alaw=True)
    ticks = [np.tile(x[i:i + 160], (120, 1)) for i in range(0, len(x), 160)]
    bank = dtmf_rx.DtmfBank(120) if engine == "ours" else spandsp_dtmf.DtmfBank(120)
    chans = list(range(120))
    at = [0]

    def tick() -> int:
        lin = ticks[at[0] % len(ticks)]
        at[0] += 1
        return len(bank.process(lin, chans))

    assert sum(tick() for _ in ticks) == 120 * 10  # a whole cycle first: every channel's ten digits heard
    benchmark(tick)
