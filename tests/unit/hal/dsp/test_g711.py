"""G.711 A-law tables: known codes, shape, and quantisation error within the law's bounds."""

import numpy as np

from hal.dsp.g711 import ALAW_SILENCE, alaw_to_linear, linear_to_alaw
from hal.dsp.tones import sine


def test_known_codes() -> None:
    assert linear_to_alaw(np.array([0]))[0] == ALAW_SILENCE == 0xD5
    assert alaw_to_linear(np.array([0xD5], np.uint8))[0] == 8  # A-law has no zero: the smallest step
    assert alaw_to_linear(np.array([0x2A], np.uint8))[0] == -32256  # negative full scale
    assert alaw_to_linear(np.array([0xAA], np.uint8))[0] == 32256


def test_round_trip_keeps_shape_and_is_within_quantisation_error() -> None:
    x = np.stack([sine(1000.0, -10.0, 160), sine(300.0, -30.0, 160)])
    y = alaw_to_linear(linear_to_alaw(x))
    assert y.shape == x.shape and y.dtype == np.int16
    big = np.abs(x.astype(np.int32)) > 256
    rel = np.abs(y.astype(np.int32) - x)[big] / np.abs(x.astype(np.int32))[big]
    assert rel.max() < 0.035  # A-law steps are 1/32 of each segment: at most ~3 %
    assert np.abs(y.astype(np.int32) - x)[~big].max() <= 8


def test_every_code_decodes_and_reencodes_to_itself() -> None:
    codes = np.arange(256, dtype=np.uint8)
    assert np.array_equal(linear_to_alaw(alaw_to_linear(codes)), codes)
