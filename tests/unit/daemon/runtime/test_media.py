"""The media layer's tick on bare frames: what an unrouted channel hears, what a reset forgets, a
progress detector turned on afresh for each call, and the digits the tick's DTMF bank hears."""

from __future__ import annotations

import numpy as np

from daemon.runtime.media import Media
from hal.dsp.g711 import ALAW_SILENCE, alaw_to_linear, linear_to_alaw
from hal.dsp.tones import ToneName, sine
from tests.support.dtmf_signals import KEYS, silence, tone_pair
from tests.support.line_echo import FXO_LINE, erle_db, line_echo, voice_band_noise


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


def test_early_media_is_one_way_until_connected_both_ways_and_a_disconnect_ends_it() -> None:
    media = Media(3)
    rx = _rx([1000, 3000, 0])
    media.connect(0, 1, one_way=True)  # the caller (0) hears the trunk's ringback (1); the trunk hears nothing
    tx = media.transmit(rx)
    assert (tx[0] == rx[1]).all() and (tx[1] == ALAW_SILENCE).all()
    media.connect(0, 1)  # answered
    tx = media.transmit(rx)
    assert (tx[0] == rx[1]).all() and (tx[1] == rx[0]).all()
    media.connect(2, 1, one_way=True)
    media.disconnect(1)  # the trunk released: nobody hears it any more
    tx = media.transmit(rx)
    assert (tx == ALAW_SILENCE).all()


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


def test_the_tick_hears_q24_digits_spandsp_misses() -> None:
    """The tick's DTMF bank (hal.dsp.dtmf_rx) on A-law frames: all 16 digits with both tones 1.5 % off
    (Q.24 must accept; spandsp's receiver loses about one in six), a digit with a 10 ms drop-out (once),
    and a digit under dial tone, each heard on its own channel only."""
    keyed = np.concatenate([np.concatenate([tone_pair(d, 50, low_dev=dev, high_dev=dev), silence(50)])
                            for dev in (0.015, -0.015) for d in KEYS])
    held = np.concatenate([tone_pair("5", 130), silence(100)])
    held[400:480] = 0  # 10 ms drop-out
    dial = np.concatenate([tone_pair("9", 60, -20.0, -20.0), silence(100)])
    dial += sine(450.0, -10.0, len(dial))
    n = -(-len(keyed) // 160) * 160
    lin = np.zeros((4, n))
    lin[0, :len(keyed)], lin[2, :len(held)], lin[3, :len(dial)] = keyed, held, dial
    rx = linear_to_alaw(np.clip(np.round(lin), -32768, 32767).astype(np.int16))
    media = Media(4)
    for ch in (0, 1, 2, 3):
        media.detect(ch, "dtmf", True)
    heard: dict[int, str] = {}
    for i in range(0, n, 160):
        for ch, d in media.receive(rx[:, i:i + 160]).digits:
            heard[ch] = heard.get(ch, "") + d
    assert heard == {0: KEYS + KEYS, 2: "5", 3: "9"}


def test_echo_is_cancelled_on_the_channels_that_ask_and_a_reset_channel_starts_afresh() -> None:
    media = Media(3)
    media.cancel_echo_on([0], tail_ms=32.0, delay_frames=2)
    sent = linear_to_alaw(np.clip(voice_band_noise(160 * 100), -32768, 32767).astype(np.int16)).reshape(-1, 160)
    echo = np.concatenate([np.zeros(320), line_echo(alaw_to_linear(sent.ravel()).astype(float), FXO_LINE)])
    echo = linear_to_alaw(np.rint(echo[: sent.size]).astype(np.int16)).reshape(-1, 160)
    got = []
    for i in range(len(sent)):
        rx = np.stack([echo[i], echo[i], np.full(160, ALAW_SILENCE, np.uint8)])  # channel 1 does not cancel
        if i == len(sent) - 1:
            media.reset(0)  # a new call on channel 0 just before the last tick
        out = media.cancel_echo(rx)
        assert np.array_equal(out[1:], rx[1:])  # the others untouched, byte for byte
        got.append(out[0])
        tx = np.stack([sent[i], sent[i], np.full(160, ALAW_SILENCE, np.uint8)])
        media.remember_tx(tx)
    heard, came = alaw_to_linear(np.array(got[50:-1]).ravel()), alaw_to_linear(echo[50:-1].ravel())
    assert erle_db(came.astype(float), heard.astype(float)) >= 30.0
    assert np.array_equal(got[-1], echo[-1])  # reset: nothing learnt to subtract yet
