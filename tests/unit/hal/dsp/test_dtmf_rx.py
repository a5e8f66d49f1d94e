"""The project's DTMF bank as the tick uses it: channels independent, only the listened-to ones
reported, a reset channel starting clean, the single-channel receiver. Q.24 itself: test_dtmf_q24.py."""

import numpy as np
import pytest

from hal.dsp.dtmf_rx import DtmfBank, DtmfReceiver
from tests.support.dtmf_signals import KEYS, frames, run_bank, silence, to_int16, tone_pair


def _keyed(digits: str, ms: float = 60, gap_ms: float = 60) -> np.ndarray:
    return to_int16(np.concatenate([silence(50)] + [np.concatenate([tone_pair(d, ms), silence(gap_ms)]) for d in digits]))


def _run(bank: DtmfBank, lin: np.ndarray, channels: list[int]) -> dict[int, str]:
    got: dict[int, str] = {}
    for i in range(0, lin.shape[1], 160):
        for ch, d in bank.process(lin[:, i:i + 160], channels):
            got[ch] = got.get(ch, "") + d
    return got


def test_channels_are_independent_and_only_listened_ones_report() -> None:
    a, b = _keyed("42"), _keyed("9D#")
    n = max(len(a), len(b))
    lin = np.zeros((5, n), np.int16)
    lin[1, :len(a)], lin[3, :len(b)], lin[4, :len(a)] = a, b, a
    assert _run(DtmfBank(5), lin, [0, 1, 3]) == {1: "42", 3: "9D#"}  # channel 4 not listened to


def test_reset_forgets_a_digit_in_progress() -> None:
    """A key still held when the channel is reset (a new call) is that call's digit; without the reset
    it would be the old digit going on."""
    x = _keyed("7", ms=200)
    lin = np.zeros((2, len(x)), np.int16)
    lin[0] = x
    bank = DtmfBank(2)
    cut = 160 * 6  # 70 ms into the tone: reported, still sounding
    first = _run(bank, lin[:, :cut], [0])
    bank.reset(0)
    assert first == {0: "7"} and _run(bank, lin[:, cut:], [0]) == {0: "7"}


def test_receiver_is_one_channel_of_the_bank() -> None:
    rx = DtmfReceiver()
    assert "".join(rx.process(f) for f in frames(_keyed("0123456789*#ABCD"))) == "0123456789*#ABCD"


def test_a_pair_far_outside_the_twist_limits_is_no_digit() -> None:
    """Q.24 must accept 8 dB normal and 4 dB reverse twist; a column 16 dB under its row, or 10 dB
    over it, is a tone and some leakage, not a key (every key, on the tick's bank)."""
    for low, high in ((-8.0, -24.0), (-18.0, -8.0)):
        x = to_int16(np.concatenate([silence(50)] + [np.concatenate([tone_pair(d, 80, low, high), silence(80)])
                                                     for d in KEYS]))
        assert run_bank(DtmfBank, x) == "", (low, high)
    ok = to_int16(np.concatenate([silence(50)] + [np.concatenate([tone_pair(d, 80, -10.0, -17.0), silence(80)])
                                                  for d in KEYS]))
    assert run_bank(DtmfBank, ok) == "".join(KEYS)  # 7 dB: a key


@pytest.mark.parametrize("shape", [(3, 150), (2, 160), (160,)])
def test_a_block_of_the_wrong_shape_is_refused_by_name(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="DTMF bank of 3 channels"):
        DtmfBank(3).process(np.zeros(shape, np.int16))
