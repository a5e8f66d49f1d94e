"""Tone generation: China's plan at the right frequency, level and cadence, phase continuous."""

import numpy as np
import pytest

from hal.dsp.measure import dbm0_to_peak, dominant_frequency, level_dbm0
from hal.dsp.tones import CHINA, ToneGenerator, ToneName, ToneSpec, period_table, sine


def _play(tone: ToneName, seconds: float) -> np.ndarray:
    gen = ToneGenerator(CHINA[tone])
    return np.concatenate([gen.generate(160) for _ in range(int(seconds * 50))])


def _cadence_ms(x: np.ndarray) -> list[int]:
    """Lengths (ms) of the on and off runs, measured in 5 ms blocks."""
    on = (np.abs(x).reshape(-1, 40).max(axis=1) > 0).astype(int)
    edges = np.flatnonzero(np.diff(on)) + 1
    return [int(n) * 5 for n in np.diff(np.concatenate([[0], edges, [len(on)]]))]


@pytest.mark.parametrize(("tone", "freq", "level", "cadence"), [
    (ToneName.BUSY, 450.0, -10.0, [350, 350]), (ToneName.CONGESTION, 450.0, -10.0, [700, 700]),
    (ToneName.RINGBACK, 450.0, -10.0, [1000, 4000]), (ToneName.CALL_WAITING, 450.0, -13.0, [400, 4000]),
    (ToneName.STUTTER_DIAL, 450.0, -10.0, [400, 40]), (ToneName.FAX_CNG, 1100.0, -13.0, [500, 3000]),
])
def test_cadenced_tones(tone: ToneName, freq: float, level: float, cadence: list[int]) -> None:
    """Measured against the plan's figures written out here (not read back from ``CHINA``)."""
    x = _play(tone, 12)
    runs = _cadence_ms(x)
    assert runs[:4] == cadence * 2
    on = x[: cadence[0] * 8]
    assert dominant_frequency(on) == pytest.approx(freq, rel=0.002)
    assert level_dbm0(on) == pytest.approx(level, abs=0.1)


def test_fax_ced_is_continuous_2100_hz_at_minus_13() -> None:
    x = _play(ToneName.FAX_CED, 2)
    assert _cadence_ms(x) == [2000]
    assert dominant_frequency(x) == pytest.approx(2100.0, rel=0.002)
    assert level_dbm0(x) == pytest.approx(-13.0, abs=0.1)


def test_dial_tone_is_continuous_450_hz_and_phase_continuous() -> None:
    x = _play(ToneName.DIAL, 2).astype(np.int32)
    assert dominant_frequency(x) == pytest.approx(450.0, rel=0.002)
    assert level_dbm0(x[:8000]) == pytest.approx(-10.0, abs=0.1) and level_dbm0(x[8000:]) == pytest.approx(-10.0, abs=0.1)
    peak = np.abs(x).max()
    assert np.abs(np.diff(x)).max() <= 2 * np.pi * 450 / 8000 * peak + 2  # no jump at frame edges


def test_sine_level() -> None:
    assert level_dbm0(sine(1000.0, -20.0, 8000)) == pytest.approx(-20.0, abs=0.05)
    assert level_dbm0(np.zeros(160)) == -100.0


def test_dominant_frequency_between_bins_and_under_a_dc_offset() -> None:
    """The measurement the tone tests rest on: a tone between FFT bins read to 0.05 Hz, and a DC
    offset (a line's bias, an unbalanced codec) does not pull it to 0 Hz."""
    x = sine(1000.3, -20.0, 8000)
    assert dominant_frequency(x) == pytest.approx(1000.3, abs=0.05)
    assert dominant_frequency(x.astype(np.int32) + 4000) == pytest.approx(1000.3, abs=0.05)


@pytest.mark.parametrize("spec", [*CHINA.values(), ToneSpec((1004.0,), -10.0), ToneSpec((350.0, 440.0), -13.0, (2000, 4000)),
                                  ToneSpec((1004.5,), -10.0), ToneSpec((451.0,), -10.0, (7000, 9000))])
def test_a_tone_from_its_period_table_is_the_tone_computed_sample_by_sample(spec: ToneSpec) -> None:
    """Tones whose whole period (cadence and waves together) fits ten seconds are read from a table made
    once; the samples are those of the plain computation, across the period's end and at odd frame
    lengths, and the others (a fractional frequency, a period past ten seconds) are computed."""
    gen = ToneGenerator(spec)
    got = np.concatenate([gen.generate(n) for n in [160] * 620 + [37, 1000, 3] * 40])
    t = np.arange(len(got), dtype=np.int64)
    w = 2 * np.pi * np.asarray(spec.freqs)[:, None] / 8000
    want = dbm0_to_peak(spec.level_dbm0) * np.sin(w * t).sum(axis=0)
    if spec.cadence_ms:
        edges = np.cumsum([ms * 8 for ms in spec.cadence_ms])
        want[np.searchsorted(edges, t % edges[-1], side="right") % 2 == 1] = 0
    assert np.abs(got.astype(np.int64) - np.round(want)).max() <= 1
    tabled = spec.freqs != (1004.5,) and spec.cadence_ms != (7000, 9000)
    assert (period_table(spec) is not None) == tabled
