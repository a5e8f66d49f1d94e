"""The simulated board's driver: ``hal.board.Board`` over the board link (a Unix stream socket).

``open()`` connects, reads the board's HELLO, builds the spans from its layout and sends OPEN;
``next_tick()`` returns each TICK as a ``hal.board.Tick``; ``send()`` queues a TX frame without
blocking. Noise on the link (garbage bytes, bad CRCs, undecodable payloads or records) is logged
and dropped and counted, never fatal; only a closed link raises ``BoardError``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time

import numpy as np

from hal.board import DEFAULT_TX_DELAY_FRAMES, BoardError, Tick
from hal.boardlink import (
    VERSION,
    FrameDecoder,
    LinkError,
    MsgType,
    decode_audio,
    decode_map,
    encode_audio,
    encode_map,
)
from hal.events import Command
from hal.ports import Span, build_spans

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 5.0
WRITE_BUFFER_LIMIT = 256 * 1024  # TX frames are dropped (and counted) above this much unsent data
READ_CHUNK = 65536


class SimBoardDriver:
    """The host's side of the simulated board's link."""

    def __init__(self, socket: str, host_name: str = "callboxd") -> None:
        self.path = socket
        self.host_name = host_name
        self.name = "sim"
        self.spans: list[Span] = []
        self.layout: list[dict] = []
        self.channels = 0
        self.tx_delay_frames = DEFAULT_TX_DELAY_FRAMES
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._decoder = FrameDecoder()
        self._frames: collections.deque[tuple[MsgType, bytes]] = collections.deque()
        self.ticks = 0
        self.bad_payloads = 0  # frames that passed the CRC but did not decode
        self.bad_records = 0  # event records that did not decode
        self.unexpected_frames = 0
        self.tx_sent = 0
        self.tx_dropped = 0  # TX frames dropped because the link's send buffer was full
        self._dropped_logged = 0
        self._last_noise_log = 0.0

    # ---- counters the daemon reports ---------------------------------------------------------------

    @property
    def dropped_bytes(self) -> int:
        return self._decoder.dropped_bytes

    @property
    def bad_frames(self) -> int:
        return self._decoder.bad_frames + self.bad_payloads

    def stats(self) -> dict:
        return {"ticks": self.ticks, "dropped_bytes": self.dropped_bytes, "bad_frames": self.bad_frames,
                "bad_records": self.bad_records, "unexpected_frames": self.unexpected_frames,
                "tx_sent": self.tx_sent, "tx_dropped": self.tx_dropped}

    # ---- Board ----------------------------------------------------------------------------------------

    async def open(self) -> None:
        await self.close()
        self._decoder = FrameDecoder()
        self._frames.clear()
        try:
            self._reader, self._writer = await asyncio.open_unix_connection(self.path)
        except OSError as exc:
            raise BoardError(f"cannot connect to the simulated board at {self.path}: {exc}") from exc
        try:
            hello = await asyncio.wait_for(self._next_of(MsgType.HELLO), HELLO_TIMEOUT_S)
        except TimeoutError:
            await self.close()
            raise BoardError(f"no HELLO from the simulated board at {self.path}") from None
        except BoardError:
            await self.close()
            raise
        try:
            body = decode_map(hello)
            self.layout = body["layout"]
            self.spans = build_spans(self.layout)
            self.name = str(body.get("board", "sim"))
            delay = body.get("tx_buffer_frames", DEFAULT_TX_DELAY_FRAMES)
            if not isinstance(delay, int) or isinstance(delay, bool) or not 1 <= delay <= 16:
                raise ValueError(f"tx_buffer_frames {delay!r} is not 1..16")
            self.tx_delay_frames = delay
        except (LinkError, KeyError, TypeError, ValueError) as exc:
            await self.close()
            raise BoardError(f"bad HELLO from the simulated board: {exc}") from exc
        self.channels = sum(len(s.ports) for s in self.spans)
        self._writer.write(encode_map(MsgType.OPEN, {"host": self.host_name, "version": VERSION}))
        log.info("simulated board %s open: %d spans, %d channels", self.name, len(self.spans), self.channels)

    async def next_tick(self) -> Tick:
        while True:
            payload = await self._next_of(MsgType.TICK)
            try:
                msg = decode_audio(payload)
            except LinkError as exc:
                self.bad_payloads += 1
                log.warning("board link: dropped undecodable TICK frame: %s", exc)
                continue
            if msg.bad_records:
                self.bad_records += msg.bad_records
            if msg.audio.shape[0] != self.channels:
                self.bad_payloads += 1
                log.warning("board link: dropped TICK %d with %d channels (expected %d)", msg.tick,
                            msg.audio.shape[0], self.channels)
                continue
            self.ticks += 1
            return Tick(msg.tick, np.array(msg.audio), list(msg.records))

    def send(self, tick: int, tx: np.ndarray, commands: list[Command]) -> None:
        w = self._writer
        if w is None or w.is_closing():
            self.tx_dropped += 1
            return
        if w.transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT:
            self.tx_dropped += 1
            if self.tx_dropped in (1, 10, 100) or self.tx_dropped % 1000 == 0:
                log.warning("board link: send buffer full, %d TX frames dropped", self.tx_dropped)
            return
        w.write(encode_audio(MsgType.TX, tick, tx, commands))
        self.tx_sent += 1

    async def close(self) -> None:
        w, self._writer, self._reader = self._writer, None, None
        if w is not None:
            w.close()
            with contextlib.suppress(Exception):
                await w.wait_closed()

    # ---- reading ----------------------------------------------------------------------------------------

    async def _next_of(self, wanted: MsgType) -> bytes:
        while True:
            while self._frames:
                mtype, payload = self._frames.popleft()
                if mtype is wanted:
                    return payload
                self.unexpected_frames += 1
                log.warning("board link: unexpected %s frame dropped", mtype.name)
            reader = self._reader
            if reader is None:
                raise BoardError("the board link is closed")
            try:
                data = await reader.read(READ_CHUNK)
            except (ConnectionError, OSError) as exc:
                raise BoardError(f"board link error: {exc}") from exc
            if not data:
                raise BoardError("the simulated board closed the link")
            before = (self._decoder.dropped_bytes, self._decoder.bad_frames)
            self._frames.extend(self._decoder.feed(data))
            self._log_noise(before)

    def _log_noise(self, before: tuple[int, int]) -> None:
        d = self._decoder
        if (d.dropped_bytes, d.bad_frames) == before:
            return
        now = time.monotonic()
        if now - self._last_noise_log >= 1.0:
            self._last_noise_log = now
            log.warning("board link: dropped garbage: %d bytes, %d bad frames so far", d.dropped_bytes,
                        d.bad_frames)
