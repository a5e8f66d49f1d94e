"""SimBoardDriver against a scripted board on a Unix socket: HELLO/OPEN, ticks, noise, closing, back-pressure."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgpack
import numpy as np
import pytest

import drivers.sim.board as board_mod
from drivers.sim.board import SimBoardDriver
from hal.board import BoardError
from hal.boardlink import (
    TICK_HEAD,
    FrameDecoder,
    MsgType,
    decode_audio,
    decode_map,
    encode_audio,
    encode_frame,
    encode_map,
)
from hal.events import OffHook, SetHook

LAYOUT = [{"id": 1, "kind": "fxo", "ports": 2}, {"id": 2, "kind": "fxs", "ports": 2}]


def _tick(n: int, events: list | None = None, chans: int = 4) -> bytes:
    return encode_audio(MsgType.TICK, n, np.full((chans, 160), n & 0xFF, np.uint8), events or [])


async def _serve(tmp: Path, script) -> tuple[str, asyncio.AbstractServer, list]:  # noqa: ANN001
    path = str(tmp / "board.sock")
    received: list = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await script(reader, writer, received)

    server = await asyncio.start_unix_server(handler, path=path)
    return path, server, received


async def _read_frames(reader: asyncio.StreamReader, received: list, n: int) -> None:
    dec = FrameDecoder()
    while len(received) < n:
        data = await reader.read(65536)
        if not data:
            return
        received.extend(dec.feed(data))


def test_open_ticks_noise_and_close(tmp_path: Path) -> None:
    async def script(reader, writer, received) -> None:  # noqa: ANN001
        writer.write(encode_map(MsgType.HELLO, {"board": "fake", "version": 1, "layout": LAYOUT}))
        await _read_frames(reader, received, 1)
        writer.write(_tick(0, [OffHook("2/1")]))
        writer.write(b"\x00garbage\xcb\x01\x02junk" * 10)  # garbage, a false magic
        bad = bytearray(_tick(1))
        bad[-5] ^= 0xFF  # CRC mismatch
        writer.write(bytes(bad))
        writer.write(encode_frame(MsgType.TICK, b"\x01\x02"))  # passes the CRC, too short to decode
        writer.write(_tick(2, chans=3))  # wrong channel count
        payload = TICK_HEAD.pack(3, 4) + bytes(4 * 160) + msgpack.packb([[99, "x"], OffHook("2/2").to_wire()])
        writer.write(encode_frame(MsgType.TICK, payload))  # one bad record, one good
        writer.write(_tick(4))
        await writer.drain()
        await _read_frames(reader, received, 3)
        writer.close()

    async def run() -> None:
        path, server, received = await _serve(tmp_path, script)
        d = SimBoardDriver(path)
        await d.open()
        assert d.name == "fake" and [s.id for s in d.spans] == [1, 2] and d.channels == 4
        t0 = await d.next_tick()
        assert t0.tick == 0 and t0.events == [OffHook("2/1")] and t0.rx.shape == (4, 160)
        d.send(0, np.full((4, 160), 0xD5, np.uint8), [SetHook("1/1", True)])
        t3 = await d.next_tick()
        assert t3.tick == 3 and t3.events == [OffHook("2/2")]
        t4 = await d.next_tick()
        assert t4.tick == 4
        assert d.dropped_bytes > 0 and d.bad_frames >= 3 and d.bad_records == 1
        d.send(4, np.full((4, 160), 0xD5, np.uint8), [])
        with pytest.raises(BoardError):
            await d.next_tick()
        mtypes = [m for m, _ in received]
        assert mtypes[0] is MsgType.OPEN and decode_map(received[0][1])["host"] == "callboxd"
        tx = decode_audio(received[1][1])
        assert tx.tick == 0 and tx.records == [SetHook("1/1", True)]
        await d.close()
        server.close()

    asyncio.run(run())


def test_no_board_and_no_hello(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(board_mod, "HELLO_TIMEOUT_S", 0.2)

    async def silent(reader, writer, received) -> None:  # noqa: ANN001
        await asyncio.sleep(1)
        writer.close()

    async def run() -> None:
        with pytest.raises(BoardError):
            await SimBoardDriver(str(tmp_path / "absent.sock")).open()
        path, server, _ = await _serve(tmp_path, silent)
        with pytest.raises(BoardError, match="HELLO"):
            await SimBoardDriver(path).open()
        server.close()

    asyncio.run(run())


def test_send_never_blocks_and_drops_when_the_board_does_not_read(tmp_path: Path) -> None:
    async def deaf(reader, writer, received) -> None:  # noqa: ANN001
        writer.write(encode_map(MsgType.HELLO, {"board": "deaf", "version": 1, "layout": LAYOUT}))
        await asyncio.sleep(2)
        writer.close()

    async def run() -> None:
        path, server, _ = await _serve(tmp_path, deaf)
        d = SimBoardDriver(path)
        await d.open()
        tx = np.zeros((4, 160), np.uint8)
        for i in range(3000):
            d.send(i, tx, [])
        assert d.tx_dropped > 0 and d.tx_sent > 0
        await d.close()
        d.send(1, tx, [])  # after close: dropped, no exception
        server.close()

    asyncio.run(run())
