"""The board link: how a board reached over a byte stream (the simulated board) talks to its driver.

Every message is one frame::

    magic   2 bytes  0xCB 0x01
    type    1 byte   HELLO=1 (board->host), TICK=2 (board->host), TX=3 (host->board), OPEN=4 (host->board)
    flags   1 byte   0
    length  4 bytes  little-endian payload length (at most MAX_PAYLOAD)
    crc32   4 bytes  little-endian zlib.crc32 of the payload
    payload

Payloads:

* HELLO: msgpack map ``{"board": name, "version": 1, "layout": [span, ...]}`` (``hal.ports.build_spans``).
* OPEN: msgpack map ``{"host": name, "version": 1}``.
* TICK / TX: ``<QH`` tick number and channel count, then ``channels * 160`` A-law bytes (row order =
  ``Port.channel``), then a msgpack list of event (TICK) or command (TX) records (``hal.events``).

A link with noise on it loses frames, never its footing: the decoder skips to the next magic,
checks length and CRC, and counts what it dropped. The header is ``struct`` (it is read every tick).
"""

from __future__ import annotations

import enum
import logging
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import msgpack
import numpy as np

from hal.clock import FRAME_SAMPLES
from hal.events import Command, Event, WireError, from_wire

log = logging.getLogger(__name__)

MAGIC = b"\xcb\x01"
HEADER = struct.Struct("<2sBBII")
TICK_HEAD = struct.Struct("<QH")
MAX_PAYLOAD = 1 << 20
VERSION = 1


class MsgType(enum.IntEnum):
    HELLO = 1
    TICK = 2
    TX = 3
    OPEN = 4


MSG_TYPES = frozenset(int(t) for t in MsgType)  # the type numbers a frame may carry


class LinkError(ValueError):
    """A frame that passed the CRC but whose payload does not make sense."""


def encode_frame(msg_type: MsgType, payload: bytes) -> bytes:
    return HEADER.pack(MAGIC, int(msg_type), 0, len(payload), zlib.crc32(payload)) + payload


def encode_map(msg_type: MsgType, body: dict) -> bytes:
    return encode_frame(msg_type, msgpack.packb(body, use_bin_type=True))


def encode_audio(msg_type: MsgType, tick: int, audio: np.ndarray, records: list[Event] | list[Command]) -> bytes:
    """A TICK or TX frame. ``audio`` is (channels, 160) uint8."""
    nchan = audio.shape[0]
    tail = msgpack.packb([r.to_wire() for r in records], use_bin_type=True)
    payload = b"".join((TICK_HEAD.pack(tick, nchan), np.ascontiguousarray(audio, dtype=np.uint8).tobytes(), tail))
    return encode_frame(msg_type, payload)


@dataclass
class AudioMessage:
    tick: int
    audio: np.ndarray  # (channels, 160) uint8
    records: list = field(default_factory=list)  # events or commands
    bad_records: int = 0  # records that did not decode (logged and dropped)


def decode_audio(payload: bytes) -> AudioMessage:
    if len(payload) < TICK_HEAD.size:
        raise LinkError("audio frame shorter than its header")
    tick, nchan = TICK_HEAD.unpack_from(payload)
    end = TICK_HEAD.size + nchan * FRAME_SAMPLES
    if len(payload) < end:
        raise LinkError(f"audio frame says {nchan} channels but carries {len(payload) - TICK_HEAD.size} bytes")
    audio = np.frombuffer(payload, dtype=np.uint8, count=nchan * FRAME_SAMPLES, offset=TICK_HEAD.size)
    audio = audio.reshape(nchan, FRAME_SAMPLES)
    msg = AudioMessage(tick, audio)
    if end < len(payload):
        try:
            raw = msgpack.unpackb(payload[end:], raw=False)
        except Exception as exc:  # msgpack raises several types for bad input
            raise LinkError(f"bad record list: {exc}") from exc
        if not isinstance(raw, list):
            raise LinkError("record list is not a list")
        for rec in raw:
            try:
                msg.records.append(from_wire(rec))
            except WireError as exc:
                msg.bad_records += 1
                log.warning("board link: dropped bad record: %s", exc)
    return msg


def decode_map(payload: bytes) -> dict:
    try:
        body = msgpack.unpackb(payload, raw=False)
    except Exception as exc:
        raise LinkError(f"bad map: {exc}") from exc
    if not isinstance(body, dict):
        raise LinkError("payload is not a map")
    return body


class FrameDecoder:
    """Turns a byte stream into (type, payload) frames, resynchronising after garbage."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.dropped_bytes = 0
        self.bad_frames = 0

    def feed(self, data: bytes) -> Iterator[tuple[MsgType, bytes]]:
        self._buf += data
        buf = self._buf
        while True:
            start = buf.find(MAGIC)
            if start < 0:
                keep = 1 if buf.endswith(MAGIC[:1]) else 0
                self._drop(len(buf) - keep)
                return
            if start:
                self._drop(start)
            if len(buf) < HEADER.size:
                return
            _, mtype, _flags, length, crc = HEADER.unpack_from(buf)
            if length > MAX_PAYLOAD or mtype not in MSG_TYPES:
                self.bad_frames += 1
                self._drop(1)
                continue
            if len(buf) < HEADER.size + length:
                return
            payload = bytes(buf[HEADER.size:HEADER.size + length])
            if zlib.crc32(payload) != crc:
                self.bad_frames += 1
                self._drop(1)
                continue
            del buf[:HEADER.size + length]
            yield MsgType(mtype), payload

    def _drop(self, n: int) -> None:
        if n > 0:
            del self._buf[:n]
            self.dropped_bytes += n
