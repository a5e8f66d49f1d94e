"""The mixer and rooms on bare frames: sums in the linear domain with saturation, copies without
transcoding, who hears whom for talk / listen / whisper members."""

from __future__ import annotations

import numpy as np

from daemon.runtime.conference import Mixer, Mode, Rooms
from daemon.runtime.media import Media
from hal.dsp.g711 import ALAW_SILENCE, alaw_to_linear, linear_to_alaw
from hal.dsp.measure import dominant_frequency
from hal.dsp.tones import ToneName


def frames(values: list[int]) -> np.ndarray:
    return linear_to_alaw(np.array([[v] * 160 for v in values], np.int16))


def test_sum_saturates_and_single_source_is_copied() -> None:
    m = Mixer()
    m.set(0, (1, 2))
    m.set(3, (1,))
    m.set(4, ())
    rx = frames([0, 20000, 20000, 0, 1000])
    rx[1, 0] = 0x2A  # an arbitrary code: a copy must keep it bit for bit
    tx = np.full((5, 160), 0x2A, np.uint8)  # what the bridges put there: the mixer overwrites its outputs
    m.apply(rx, tx)
    lin = alaw_to_linear(tx)
    assert lin[0, 5] == 32256  # 20000 + 20000 saturates (the largest A-law value)
    assert (tx[3] == rx[1]).all()
    assert (tx[4] == ALAW_SILENCE).all()
    m.set(0, (1, 4))
    m.apply(rx, tx)
    assert abs(int(alaw_to_linear(tx)[0, 5]) - 21000) < 700


def test_room_modes() -> None:
    r = Rooms(Mixer())
    room = r.create({0: (Mode.TALK, None), 1: (Mode.TALK, None), 2: (Mode.LISTEN, None)})
    assert r.mixer.routes == {0: (1,), 1: (0,), 2: (0, 1)}
    r.join(room, 2, Mode.WHISPER, 0)
    assert r.mixer.routes == {0: (1, 2), 1: (0,), 2: (0, 1)}
    r.join(room, 2, Mode.TALK)
    assert r.mixer.routes == {0: (1, 2), 1: (0, 2), 2: (0, 1)}
    r.leave(1)
    assert r.mixer.routes == {0: (2,), 2: (0,)}
    r.close(room)
    assert r.mixer.routes == {} and not r.room_of


def test_media_mix_overrides_bridge_and_overlay_adds_a_tone() -> None:
    media = Media(4)
    media.connect(0, 1)
    media.rooms.create({0: (Mode.TALK, None), 1: (Mode.TALK, None), 2: (Mode.TALK, None)})
    rx = frames([1000, 2000, 4000, 0])
    tx = media.transmit(rx)
    assert abs(int(alaw_to_linear(tx)[0, 0]) - 6000) < 200
    media.reset(2)
    tx = media.transmit(rx)
    assert abs(int(alaw_to_linear(tx)[0, 0]) - 2000) < 100
    media.overlay(0, ToneName.CALL_WAITING)  # 450 Hz over what channel 0 hears (its bridge partner)
    lin = alaw_to_linear(media.transmit(rx))[0].astype(np.int64) - 2000
    assert np.abs(lin).max() > 3000 and abs(dominant_frequency(lin) - 450) < 5


def test_an_output_never_hears_itself() -> None:
    m = Mixer()
    m.set(0, (0, 1))
    m.set(2, (2,))
    assert m.routes == {0: (1,), 2: ()}


def test_a_whisper_reaches_only_a_talking_target_and_moving_rooms_leaves_the_old_one() -> None:
    r = Rooms(Mixer())
    first = r.create({0: (Mode.TALK, None), 1: (Mode.TALK, None), 2: (Mode.LISTEN, None)})
    r.join(first, 3, Mode.WHISPER, 2)  # whispering to a listener: nobody hears it
    assert r.mixer.routes == {0: (1,), 1: (0,), 2: (0, 1), 3: (0, 1)}
    second = r.create({4: (Mode.TALK, None)})
    r.join(second, 1, Mode.TALK)  # 1 moves to another room
    assert r.room_of[1] == second
    assert r.mixer.routes == {0: (), 1: (4,), 2: (0,), 3: (0,), 4: (1,)}
