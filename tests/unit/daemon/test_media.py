"""The media layer's tick on bare frames: what an unrouted channel hears, what a reset forgets, and a
progress detector turned on afresh for each call."""

from __future__ import annotations

import numpy as np

from daemon.media import Media
from hal.dsp.g711 import ALAW_SILENCE, linear_to_alaw
from hal.dsp.tones import ToneName, sine


def _rx(values: list[int]) -> np.ndarray:
    return linear_to_alaw(np.array([[v] * 160 for v in values], np.int16))


def test_a_channel_no_longer_bridged_hears_silence_not_the_last_frame() -> None:
    media = Media(3)
    media.connect(0, 1)
    rx = _rx([0, 3000, 0])
    assert (media.transmit(rx)[0] == rx[1]).all()
    media.disconnect(0)
    tx = media.transmit(_rx([0, 5000, 0]))
    assert (tx[0] == ALAW_SILENCE).all() and (tx[1] == ALAW_SILENCE).all()


def test_reset_stops_an_overlay_tone() -> None:
    media = Media(2)
    media.connect(0, 1)
    media.overlay(0, ToneName.CALL_WAITING)
    rx = _rx([0, 0])
    assert (media.transmit(rx)[0] != ALAW_SILENCE).any()  # the tone's first 400 ms
    media.reset(0)
    assert all((media.transmit(rx)[0] == ALAW_SILENCE).all() for _ in range(10))


def test_progress_detection_turned_on_again_starts_afresh() -> None:
    """One busy burst and gap on the last call, one burst on the next: never busy (burst, gap, burst of
    one call are needed); the same bursts in one call are busy."""
    media = Media(2)
    burst, gap = sine(450.0, -10.0, 2800), np.zeros(2800, np.int16)

    def feed(x: np.ndarray) -> list:
        got = []
        for i in range(0, len(x), 160):
            rx = np.full((2, 160), ALAW_SILENCE, np.uint8)
            rx[1] = linear_to_alaw(x[i:i + 160])
            got += [ev.tone for _, ev in media.receive(rx).progress if not ev.ended]
        return got

    media.detect(1, "progress", True)
    assert feed(np.concatenate([burst, gap])) == []
    media.detect(1, "progress", False)
    media.detect(1, "progress", True)
    assert feed(np.concatenate([burst, gap, np.zeros(8000, np.int16)])) == []
    media.detect(1, "progress", False)
    media.detect(1, "progress", True)
    assert feed(np.concatenate([burst, gap, burst, gap])) == [ToneName.BUSY]
