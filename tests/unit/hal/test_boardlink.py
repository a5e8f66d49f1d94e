"""Board link framing: round trip, resynchronisation after garbage, bad records dropped."""

import os

import msgpack
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hal.boardlink import FrameDecoder, MsgType, decode_audio, encode_audio, encode_frame, encode_map
from hal.events import CasChange, HdlcFrame, OffHook, SetCas, SetHook, from_wire


def _tick(n: int = 0) -> bytes:
    audio = np.arange(3 * 160, dtype=np.uint32).reshape(3, 160).astype(np.uint8)
    return encode_audio(MsgType.TICK, n, audio, [OffHook("2/1"), CasChange("3/1", 0b1011), HdlcFrame(4, b"\x01\x02")])


def test_round_trip() -> None:
    (t, payload), = FrameDecoder().feed(_tick(7))
    msg = decode_audio(payload)
    assert t is MsgType.TICK and msg.tick == 7 and msg.audio.shape == (3, 160)
    assert msg.audio[1, 5] == (165 & 0xFF)
    assert msg.records == [OffHook("2/1"), CasChange("3/1", 11), HdlcFrame(4, b"\x01\x02")]


def test_resync_after_garbage_split_anywhere() -> None:
    stream = _tick(1) + os.urandom(333) + b"\xcb\x01\x02" + _tick(2) + _tick(3)
    for cut in (1, 5, 13, 200, len(stream) - 3):
        d = FrameDecoder()
        frames = list(d.feed(stream[:cut])) + list(d.feed(stream[cut:]))
        ticks = [decode_audio(p).tick for t, p in frames if t is MsgType.TICK]
        assert ticks[-2:] == [2, 3] and 1 in ticks
        assert d.dropped_bytes >= 333


def test_bad_records_are_dropped_not_fatal() -> None:
    payload_tail = msgpack.packb([[1, "2/1"], [250, "x"], [64, 5, "no"], "junk"])
    import struct
    payload = struct.pack("<QH", 9, 0) + payload_tail
    (_, p), = FrameDecoder().feed(encode_frame(MsgType.TICK, payload))
    msg = decode_audio(p)
    assert msg.records == [OffHook("2/1")] and msg.bad_records == 3


def test_commands_wire_round_trip() -> None:
    for cmd in (SetHook("1/1", True), SetCas("3/17", 0b0011)):
        assert from_wire(cmd.to_wire()) == cmd


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_never_raise(data: bytes) -> None:
    d = FrameDecoder()
    frames = list(d.feed(data + _tick(5) + encode_map(MsgType.HELLO, {"board": "x"})))
    assert any(t is MsgType.TICK and decode_audio(p).tick == 5 for t, p in frames)
