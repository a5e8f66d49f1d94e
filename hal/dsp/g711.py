"""G.711 A-law: whole-array encode and decode by table lookup.

The tables are built once at import from spandsp's own ``g711_encode``/``g711_decode`` (its inline
per-sample helpers are not exported), so a 120 x 160 tick is one numpy gather each way.
"""

from __future__ import annotations

import numpy as np

from hal.clock import FRAME_SAMPLES
from hal.dsp.spandsp import G711_ALAW, ffi, lib

ALAW_SILENCE = 0xD5  # A-law code for 0 (ITU-T G.711, even bits inverted)
SILENT_FRAME = np.full(FRAME_SAMPLES, ALAW_SILENCE, np.uint8)  # one 20 ms frame of silence, shared: read-only
SILENT_FRAME.setflags(write=False)


def _tables() -> tuple[np.ndarray, np.ndarray]:
    state = ffi.gc(lib.g711_init(ffi.NULL, G711_ALAW), lib.g711_free)
    codes = np.arange(256, dtype=np.uint8)
    decoded = np.zeros(256, dtype=np.int16)
    lib.g711_decode(state, ffi.from_buffer("int16_t[]", decoded), ffi.from_buffer("uint8_t[]", codes), 256)
    linear = np.arange(-32768, 32768, dtype=np.int16)
    encoded = np.zeros(65536, dtype=np.uint8)
    lib.g711_encode(state, ffi.from_buffer("uint8_t[]", encoded), ffi.from_buffer("int16_t[]", linear), 65536)
    return decoded, encoded


_DECODE, _ENCODE = _tables()


def alaw_to_linear(alaw: np.ndarray) -> np.ndarray:
    """A-law bytes (any shape, uint8) to 16-bit linear samples of the same shape."""
    return _DECODE[np.asarray(alaw, dtype=np.uint8)]


def linear_to_alaw(linear: np.ndarray) -> np.ndarray:
    """16-bit linear samples (any shape) to A-law bytes of the same shape."""
    idx = np.asarray(linear, dtype=np.int16).astype(np.int32) + 32768
    return _ENCODE[idx]
