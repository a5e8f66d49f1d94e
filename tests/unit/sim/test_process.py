"""``callbox-sim`` as a process: the board link with SimBoardDriver, the control socket, garbage on the
link, host reconnects that keep the lines' state, malformed control requests, a peer on an E1 span."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import msgpack
import numpy as np
import pytest

from drivers.sim.board import SimBoardDriver
from hal.board import BoardError
from hal.boardlink import FrameDecoder, MsgType, decode_audio, decode_map, encode_audio
from hal.events import CasChange, OffHook, SetCas
from sim.control import SimControl, SimControlError

pytestmark = pytest.mark.serial  # the board's 50 ticks a second, measured

BIN = Path(sys.executable).parent


class Sim:
    def __init__(self, rundir: Path) -> None:
        self.rundir = rundir
        self.log = open(rundir.parent / "sim.log", "w")  # noqa: SIM115
        exe = BIN / "callbox-sim"
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "sim.main"]
        self.proc = subprocess.Popen([*cmd, "--rundir", str(rundir)], stdout=self.log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 15
        while not (rundir / "board.sock").exists():
            assert self.proc.poll() is None, (rundir.parent / "sim.log").read_text()
            assert time.monotonic() < end, "callbox-sim did not create its sockets"
            time.sleep(0.02)
        self.control = SimControl(str(rundir / "control.sock"))

    def stop(self) -> None:
        self.control.close()
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    s = Sim(tmp_path / "run")
    yield s
    s.stop()


async def _ticks(driver: SimBoardDriver, n: int, tx: np.ndarray | None = None) -> list:
    out = []
    for _ in range(n):
        t = await driver.next_tick()
        out.append(t)
        driver.send(t.tick, tx if tx is not None else np.full_like(t.rx, 0xD5), [])
    return out


def test_board_link_ticks_control_garbage_and_reconnect(sim: Sim) -> None:
    c = sim.control
    assert {p.name for p in sim.rundir.iterdir()} >= {"board.sock", "control.sock", "span3.peer", "span4.peer"}

    async def first_host() -> None:
        d = SimBoardDriver(str(sim.rundir / "board.sock"))
        await d.open()
        assert [s.id for s in d.spans] == [1, 2, 3, 4] and d.channels == 72
        t0 = time.monotonic()
        ticks = await _ticks(d, 50)
        rate = 49 / (time.monotonic() - t0)
        assert 40 < rate < 60, rate
        nums = [t.tick for t in ticks]
        assert nums == list(range(nums[0], nums[0] + 50))
        # a phone tone reaches the host; the host's audio reaches the phone
        await asyncio.to_thread(c.phone_off_hook, "8001")
        await asyncio.to_thread(c.phone_send_tone, "8001", 1000.0)
        tx = np.full((72, 160), 0xD5, np.uint8)
        from hal.dsp.g711 import alaw_to_linear, linear_to_alaw
        from hal.dsp.measure import dominant_frequency
        from hal.dsp.tones import ToneGenerator, ToneSpec

        gen = ToneGenerator(ToneSpec((600.0,), -10.0))
        ch = next(p.channel for s in d.spans for p in s.ports if p.id == "2/1")
        got = []
        mark = None
        for _ in range(40):
            t = await d.next_tick()
            mark = mark if mark is not None else t.tick
            tx[ch] = linear_to_alaw(gen.generate(160))
            d.send(t.tick, tx, [])
            got.append(t.rx[ch])
        heard = await asyncio.to_thread(c.phone_heard, "8001", mark + 5)
        assert dominant_frequency(alaw_to_linear(np.concatenate(got[10:]))) == pytest.approx(1000.0, rel=0.02)
        assert dominant_frequency(alaw_to_linear(np.frombuffer(heard, np.uint8))) == pytest.approx(600.0, rel=0.02)
        # garbage on the link is dropped; ticks keep coming
        assert await asyncio.to_thread(c.inject_garbage, 3000) == 3000
        more = await _ticks(d, 25)
        assert d.dropped_bytes >= 3000 and len(more) == 25
        assert more[-1].tick - more[0].tick == 24
        await d.close()

    asyncio.run(first_host())
    assert c.phone_state("8001")["hook"] == "off"  # the host went away; the phone did not

    async def second_host() -> None:
        d = SimBoardDriver(str(sim.rundir / "board.sock"))
        await d.open()
        (first,) = await _ticks(d, 1)
        assert OffHook("2/1") in first.events  # re-reported to the new host
        assert sum(isinstance(e, CasChange) for e in first.events) == 30
        await d.close()

    asyncio.run(second_host())
    st = c.status()
    assert st["host_connects"] == 2 and st["tick"] > 100
    with pytest.raises(BoardError):
        asyncio.run(SimBoardDriver(str(sim.rundir / "nope.sock")).open())


def test_control_ops_and_malformed_requests(sim: Sim) -> None:
    c = sim.control
    t = c.tick()
    time.sleep(0.1)
    assert c.tick() > t
    c.co_scenario("12301", "busy", after_s=1.0)
    c.co_call("1/2", "13912345678", name="WANG")
    st = c.co_state("1/2")
    assert st["state"] == "ringing" and st["call"]["caller_id"]["number"] == "13912345678"
    c.co_hangup("1/2")
    assert c.co_state("1/2")["state"] == "idle"
    c.e1_set_cas(3, 17, 0b1111)
    assert c.e1_get_cas(3, 1) == 0b1111 and c.call("e1.get_cas", span=3, ts=17)["far_bits"] == 0b1111
    assert c.e1_send_hdlc(4, b"\x01\x02\x03") is True
    c.e1_alarm(3, "LOS", True)
    assert c.call("e1.state", span=3)["alarms"] == ["LOS"]
    c.e1_alarm(3, "LOS", False)
    with pytest.raises(SimControlError, match="unknown op"):
        c.call("no.such.op")
    with pytest.raises(SimControlError, match="line"):
        c.call("co.call")
    with pytest.raises(SimControlError, match="must be"):
        c.call("phone.flash", phone="8001", ms="long")
    with pytest.raises(SimControlError, match="no phone"):
        c.phone_off_hook("9999")
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.connect(str(sim.rundir / "control.sock"))
    raw.settimeout(5)
    unpacker = msgpack.Unpacker(raw=False)
    for bad in (msgpack.packb([1, 2, 3]), msgpack.packb({"id": 7}), b"\xc1\xc1\xc1",
                msgpack.packb({"id": 8, "op": 5})):
        raw.sendall(bad)
        reply = None
        while reply is None:
            unpacker.feed(raw.recv(65536))
            reply = next(iter(unpacker), None)
        assert reply["ok"] is False and reply["error"]
    raw.sendall(msgpack.packb({"id": 9, "op": "tick"}))
    while (reply := next(iter(unpacker), None)) is None:
        unpacker.feed(raw.recv(65536))
    assert reply["id"] == 9 and reply["ok"] and reply["tick"] > 0
    raw.close()
    assert c.status()["board"] == "callbox-sim"  # still alive


def test_peer_socket_takes_over_an_e1_span(sim: Sim) -> None:
    async def peer(seen: asyncio.Event) -> None:
        reader, writer = await asyncio.open_unix_connection(str(sim.rundir / "span3.peer"))
        dec = FrameDecoder()
        hello = None
        try:
            while data := await reader.read(65536):
                for mtype, payload in dec.feed(data):
                    if mtype is MsgType.HELLO:
                        hello = decode_map(payload)
                        assert hello["span"] == 3 and len(hello["timeslots"]) == 30
                        continue
                    msg = decode_audio(payload)
                    assert msg.audio.shape == (30, 160)
                    if CasChange("3/9", 0b0011) in msg.records:
                        seen.set()
                    cmds = [SetCas("3/9", 0b0111)] if seen.is_set() else []
                    writer.write(encode_audio(MsgType.TX, msg.tick, np.full((30, 160), 0xD5, np.uint8), cmds))
        finally:
            writer.close()

    async def run() -> None:
        host = SimBoardDriver(str(sim.rundir / "board.sock"))
        await host.open()
        seen = asyncio.Event()
        task = asyncio.create_task(peer(seen))
        await _ticks(host, 5)
        got = False
        for i in range(100):
            t = await host.next_tick()
            got = got or CasChange("3/9", 0b0111) in t.events
            host.send(t.tick, np.full_like(t.rx, 0xD5), [SetCas("3/9", 0b0011)] if i == 0 else [])
            if got:
                break
        assert seen.is_set() and got
        task.cancel()
        await host.close()

    asyncio.run(run())
    time.sleep(0.1)
    assert sim.control.call("e1.state", span=3)["peer"] is False  # the built-in far end is back


def test_env_rundir_and_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[span]]\nid = 1\nkind = "fxq"\n', encoding="utf-8")
    exe = BIN / "callbox-sim"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "sim.main"]
    r = subprocess.run([*cmd, "--config", str(bad)], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, CALLBOX_SIM_RUNDIR=str(tmp_path / "r")))
    assert r.returncode == 2 and "span[0].kind" in r.stderr
