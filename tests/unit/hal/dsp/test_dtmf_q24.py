"""ITU-T Q.24 (China's limits, shared/reference/china-telephony.md) as an acceptance table, row by row,
for the project's receiver (``hal.dsp.dtmf_rx``, on the tick's bank) and spandsp's ``dtmf_rx`` (with
its judge, ``hal.dsp.dtmf``) side by side, on linear audio and through A-law.

Every row is run for all 16 digits at three alignments against the 20 ms frame (48 trials); a row
passes only if every trial gives exactly the expected digits (a must-accept row: the digit once; a
must-reject row: nothing; a gap row: the digit once or twice). Ours must pass every row. spandsp's
column is the reference: the rows it misses stay strict xfails, so the day it stops missing one the
table says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from hal.dsp import dtmf as spandsp_dtmf
from hal.dsp import dtmf_rx
from hal.dsp.tones import CHINA, ToneGenerator, ToneName, sine
from tests.support.dtmf_signals import KEYS, run_bank, run_receiver, silence, to_int16, tone_pair

LEADS = (400, 453, 501)  # samples of silence before the digit: three alignments against the frame


@dataclass(frozen=True)
class Row:
    name: str
    make: Callable[[str], np.ndarray]  # the digit's signal after the lead-in (float64)
    expect: Callable[[str], str]

    def __str__(self) -> str:
        return self.name


def once(d: str) -> str:
    return d


def never(d: str) -> str:
    return ""


def twice(d: str) -> str:
    return d + d


def _digit(**kw: float) -> Callable[[str], np.ndarray]:
    ms = kw.pop("ms", 60)
    return lambda d: np.concatenate([tone_pair(d, ms, **kw), silence(100)])


def _split(gap_ms: float, on_ms: float = 40) -> Callable[[str], np.ndarray]:
    """The digit, a gap of ``gap_ms``, the digit again (phase continuous, as a key held through a drop-out)."""
    def make(d: str) -> np.ndarray:
        t = tone_pair(d, 2 * on_ms + gap_ms)
        a, g = int(on_ms * 8), int(gap_ms * 8)
        t[a:a + g] = 0
        return np.concatenate([t, silence(100)])
    return make


def _under(sound: Callable[[int], np.ndarray], level: float = -13.0) -> Callable[[str], np.ndarray]:
    """The digit (``level`` per tone) with ``sound`` running under it and its gaps (and the lead-in)."""
    def make(d: str) -> np.ndarray:
        x = np.concatenate([tone_pair(d, 60, level, level), silence(100)])
        return x + sound(len(x))[-len(x):]
    return make


def _tone(name: ToneName) -> Callable[[int], np.ndarray]:
    return lambda n: ToneGenerator(CHINA[name]).generate(n + 600)[600:].astype(np.float64)


def _noise(snr_db: float, digit_dbm0: float) -> Callable[[int], np.ndarray]:
    from hal.dsp.measure import dbm0_to_peak
    rng = np.random.default_rng(7)
    return lambda n: rng.normal(0, dbm0_to_peak(digit_dbm0 + 3 - snr_db) / np.sqrt(2), n)


def _music(n: int) -> np.ndarray:
    """Chords (C, F, G major, with octaves) changing every 250 ms, about -25 dBm0 in all."""
    chords = ((261.6, 329.6, 392.0, 523.3), (349.2, 440.0, 523.3, 698.5), (392.0, 493.9, 587.3, 784.0))
    out = np.zeros(n)
    for i, start in enumerate(range(0, n, 2000)):
        m = min(2000, n - start)
        out[start:start + m] = sum(sine(f, -31.0, m, start).astype(np.float64) for f in chords[i % 3])
    return out


ROWS = [
    Row("both tones +1.5 %", _digit(low_dev=0.015, high_dev=0.015), once),
    Row("both tones -1.5 %", _digit(low_dev=-0.015, high_dev=-0.015), once),
    Row("low +1.5 %, high -1.5 %", _digit(low_dev=0.015, high_dev=-0.015), once),
    Row("low -1.5 %, high +1.5 %", _digit(low_dev=-0.015, high_dev=0.015), once),
    Row("low tone +3.5 % rejected", _digit(low_dev=0.035), never),
    Row("low tone -3.5 % rejected", _digit(low_dev=-0.035), never),
    Row("high tone +3.5 % rejected", _digit(high_dev=0.035), never),
    Row("high tone -3.5 % rejected", _digit(high_dev=-0.035), never),
    Row("both tones +3.5 % rejected", _digit(low_dev=0.035, high_dev=0.035), never),
    Row("both tones -3.5 % rejected", _digit(low_dev=-0.035, high_dev=-0.035), never),
    Row("normal twist 8 dB", _digit(low_dbm0=-10, high_dbm0=-18), once),
    Row("reverse twist 4 dB", _digit(low_dbm0=-14, high_dbm0=-10), once),
    Row("-3 dBm0 per tone", _digit(low_dbm0=-3, high_dbm0=-3), once),
    Row("-25 dBm0 per tone", _digit(low_dbm0=-25, high_dbm0=-25), once),
    Row("-25 dBm0, 8 dB normal twist", _digit(low_dbm0=-25, high_dbm0=-33), once),
    Row("-56 dBm0 per tone rejected", _digit(low_dbm0=-56, high_dbm0=-56), never),
    Row("40 ms tone", _digit(ms=40), once),
    Row("23 ms tone rejected", _digit(ms=23), never),
    Row("40 ms gap: two digits", _split(40), twice),
    Row("20 ms gap: one digit", _split(20), once),
    Row("10 ms drop-out: one digit", _split(10, on_ms=60), once),
    Row("noise at 15 dB SNR", _under(_noise(15, -13.0)), once),
    Row("dial tone (-10 dBm0) under -20 dBm0 digits", _under(_tone(ToneName.DIAL), -20.0), once),
    Row("ringback under -20 dBm0 digits", _under(_tone(ToneName.RINGBACK), -20.0), once),
    Row("music under the digits", _under(_music), once),
]

# rows spandsp 0.0.6 (with the judge) misses, measured: (row, codec)
SPANDSP_MISSES = {
    *((name, codec) for codec in ("linear", "alaw") for name in (
        "both tones +1.5 %", "both tones -1.5 %", "low +1.5 %, high -1.5 %", "low -1.5 %, high +1.5 %",
        "40 ms gap: two digits", "dial tone (-10 dBm0) under -20 dBm0 digits", "ringback under -20 dBm0 digits")),
    ("normal twist 8 dB", "alaw"), ("-25 dBm0, 8 dB normal twist", "alaw"),
}


def score(row: Row, engine: str, codec: str) -> tuple[int, int, list[tuple[str, int, str]]]:
    """(trials right, trials, the wrong ones as (digit, lead, what was heard))."""
    wrong = []
    for d in KEYS:
        for lead in LEADS:
            x = to_int16(np.concatenate([np.zeros(lead), row.make(d)]), alaw=codec == "alaw")
            if engine == "ours":
                got = run_bank(dtmf_rx.DtmfBank, x)
            else:
                got = run_receiver(spandsp_dtmf.DtmfReceiver, x)
            if got != row.expect(d):
                wrong.append((d, lead, got))
    n = len(KEYS) * len(LEADS)
    return n - len(wrong), n, wrong


@pytest.mark.parametrize("codec", ["linear", "alaw"])
@pytest.mark.parametrize("row", ROWS, ids=str)
def test_ours(row: Row, codec: str) -> None:
    right, n, wrong = score(row, "ours", codec)
    assert right == n, wrong


@pytest.mark.parametrize("codec", ["linear", "alaw"])
@pytest.mark.parametrize("row", [pytest.param(r, id=str(r)) for r in ROWS])
def test_spandsp(row: Row, codec: str, request: pytest.FixtureRequest) -> None:
    if (row.name, codec) in SPANDSP_MISSES:
        request.applymarker(pytest.mark.xfail(strict=True, reason="spandsp 0.0.6 misses this Q.24 row"))
    right, n, wrong = score(row, "spandsp", codec)
    assert right == n, wrong


def test_all_16_digits_at_minus_25_dbm0_through_alaw_in_one_call() -> None:
    """A caller keying all 16 digits, 50 ms each with 50 ms gaps, at -25 dBm0 per tone, through A-law."""
    x = np.concatenate([np.concatenate([tone_pair(d, 50, -25.0, -25.0), silence(50)]) for d in KEYS])
    assert run_bank(dtmf_rx.DtmfBank, to_int16(x, alaw=True)) == KEYS
