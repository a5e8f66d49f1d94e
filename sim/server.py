"""The ``callbox-sim`` process: the simulated board as the clock master, on Unix sockets.

In ``rundir`` it serves:

* ``board.sock`` - the board link (``hal.boardlink``) to one host at a time: HELLO on connect, the
  host answers OPEN, then a TICK every 20 ms and the host's TX frames back. A new host after a
  disconnect gets the state of every line in its first tick (``SimWorld.resync_events``).
* ``control.sock`` - msgpack requests scripting the world (``sim.ops``).
* ``spanN.peer`` - per E1 span, where a real peer stack can take the far end over (docs/sim.md).

Ticks follow an absolute monotonic schedule (tick n at t0 + n * 20 ms): no drift; if the process
falls behind by more than a tick it skips tick numbers and counts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path

import msgpack
import numpy as np

from hal.boardlink import (
    MAGIC,
    VERSION,
    FrameDecoder,
    LinkError,
    MsgType,
    decode_audio,
    decode_map,
    encode_audio,
    encode_map,
)
from hal.clock import FRAME_SECONDS
from hal.events import Command, SendHdlc, SetCas
from sim.ops import Ops
from sim.world import SimWorld

log = logging.getLogger(__name__)

WRITE_LIMIT = 1 << 20  # a reader this far behind loses TICK frames (counted)
CONTROL_MAX_BUFFER = 8 << 20


class _Link:
    """One connected board-link client (the host or a peer)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.open = False
        self.resync = False
        self.sent = 0
        self.dropped = 0

    def write(self, frame: bytes) -> bool:
        w = self.writer
        if w.is_closing():
            return False
        if w.transport.get_write_buffer_size() > WRITE_LIMIT:
            self.dropped += 1
            return False
        w.write(frame)
        self.sent += 1
        return True


class SimServer:
    def __init__(self, world: SimWorld, rundir: str | Path) -> None:
        self.world = world
        self.rundir = Path(rundir)
        self.ops = Ops(world, self)
        self.host: _Link | None = None
        self.peers: dict[int, _Link] = {}
        self.skipped_ticks = 0
        self.host_connects = 0
        self.refused_hosts = 0
        self.host_bad_frames = 0
        self.events_without_host = 0
        self.tick_cost_max = 0.0
        self.tick_errors = 0
        self.scheduling = "normal"  # the clock loop's standing (hal.realtime), set by callbox-sim
        self._servers: list[asyncio.base_events.Server] = []
        self._stop = asyncio.Event()
        world.counting_underruns = False

    # ---- life cycle ----------------------------------------------------------------------------------

    @property
    def board_path(self) -> Path:
        return self.rundir / "board.sock"

    @property
    def control_path(self) -> Path:
        return self.rundir / "control.sock"

    def peer_path(self, span: int) -> Path:
        return self.rundir / f"span{span}.peer"

    async def start(self) -> None:
        self.rundir.mkdir(parents=True, exist_ok=True)
        paths = [(self.peer_path(s), self._peer_conn_factory(s)) for s in self.world.e1]
        # board.sock last: tests wait for it (and control.sock) to know the simulator is up
        paths = [(self.control_path, self._control_conn), *paths, (self.board_path, self._host_conn)]
        for path, handler in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            self._servers.append(await asyncio.start_unix_server(handler, path=str(path)))
        log.info("callbox-sim %s: %d channels, sockets in %s", self.world.name, self.world.channels, self.rundir)

    async def run(self) -> None:
        await self.start()
        try:
            await self.tick_loop()
        finally:
            await self.stop()

    def request_stop(self) -> None:
        self._stop.set()

    async def stop(self) -> None:
        for srv in self._servers:
            srv.close()
        links = ([self.host] if self.host else []) + list(self.peers.values())
        for link in links:
            link.writer.close()
        for path in [self.board_path, self.control_path, *(self.peer_path(s) for s in self.world.e1)]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    async def tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        n = 0
        first = self.world.tick + 1
        while not self._stop.is_set():
            target = t0 + n * FRAME_SECONDS
            delay = target - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
                if self._stop.is_set():
                    break
            elif -delay > FRAME_SECONDS:
                skip = int(-delay / FRAME_SECONDS)
                n += skip
                self.skipped_ticks += skip
                log.warning("tick loop behind by %.0f ms: skipped %d ticks", -delay * 1000, skip)
            t = loop.time()
            try:
                self.do_tick(first + n)
            except Exception:  # a far end's bug must not stop the clock
                self.tick_errors += 1
                log.exception("tick %d failed", first + n)
            self.tick_cost_max = max(self.tick_cost_max, loop.time() - t)
            n += 1

    # ---- the tick ------------------------------------------------------------------------------------

    def do_tick(self, tick: int) -> None:
        host = self.host if self.host is not None and self.host.open else None
        pre = []
        if host is not None and host.resync:
            host.resync = False
            pre = self.world.resync_events()
        rx, events = self.world.step(tick)
        if host is not None:
            host.write(encode_audio(MsgType.TICK, tick, rx, pre + events))
        else:
            self.events_without_host += len(events)
        for sid, link in list(self.peers.items()):
            fe = self.world.e1[sid]
            audio, evs = fe.peer_outbound()
            link.write(encode_audio(MsgType.TICK, tick, audio, evs))

    def inject_garbage(self, n: int, avoid_magic: bool = True) -> int:
        if self.host is None:
            raise ValueError("no host is connected to the board link")
        data = bytearray(os.urandom(n))
        if avoid_magic:
            data = data.replace(MAGIC[:1], b"\x00")
        self.host.writer.write(bytes(data))
        log.info("injected %d garbage bytes into the board link", n)
        return n

    def status(self) -> dict:
        return {"host": self.host is not None and self.host.open, "host_connects": self.host_connects,
                "refused_hosts": self.refused_hosts, "skipped_ticks": self.skipped_ticks,
                "host_bad_frames": self.host_bad_frames, "events_without_host": self.events_without_host,
                "ticks_dropped": self.host.dropped if self.host else 0,
                "tick_cost_max_ms": round(self.tick_cost_max * 1000, 3), "tick_errors": self.tick_errors,
                "peers": sorted(self.peers), "rundir": str(self.rundir), "scheduling": self.scheduling}

    # ---- the host --------------------------------------------------------------------------------------

    async def _host_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.host is not None:
            self.refused_hosts += 1
            log.warning("board link: a second host connected; refused (one host at a time)")
            writer.close()
            return
        link = self.host = _Link(writer)
        self.host_connects += 1
        log.info("board link: host connected")
        link.write(encode_map(MsgType.HELLO, {"board": self.world.name, "version": VERSION,
                                              "layout": self.world.layout,
                                              "tx_buffer_frames": self.world.tx_buffer_frames}))
        decoder = FrameDecoder()
        try:
            while data := await reader.read(1 << 16):
                for mtype, payload in decoder.feed(data):
                    self._host_frame(link, mtype, payload)
        except (ConnectionError, OSError) as exc:
            log.info("board link: %s", exc)
        finally:
            self.host = None
            self.world.counting_underruns = False
            self.host_bad_frames += decoder.bad_frames
            writer.close()
            log.info("board link: host disconnected (lines keep their state)")

    def _host_frame(self, link: _Link, mtype: MsgType, payload: bytes) -> None:
        if mtype is MsgType.OPEN:
            try:
                body = decode_map(payload)
            except LinkError as exc:
                self.host_bad_frames += 1
                log.warning("board link: bad OPEN: %s", exc)
                return
            log.info("board link: opened by %s", body.get("host", "?"))
            link.open = True
            link.resync = True
            self.world.counting_underruns = True
        elif mtype is MsgType.TX and link.open:
            try:
                msg = decode_audio(payload)
            except LinkError as exc:
                self.host_bad_frames += 1
                log.warning("board link: bad TX frame: %s", exc)
                return
            cmds = [r for r in msg.records if isinstance(r, Command)]
            try:
                self.world.apply_tx(msg.tick, np.array(msg.audio), cmds)
            except Exception:  # a far end's bug must not drop the host
                self.tick_errors += 1
                log.exception("applying TX %d failed", msg.tick)
        else:
            self.host_bad_frames += 1

    # ---- peers -----------------------------------------------------------------------------------------

    def _peer_conn_factory(self, sid: int):  # noqa: ANN202
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._peer_conn(sid, reader, writer)
        return handler

    async def _peer_conn(self, sid: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fe = self.world.e1[sid]
        if sid in self.peers:
            log.warning("span %d: a second peer connected; refused", sid)
            writer.close()
            return
        link = self.peers[sid] = _Link(writer)
        link.open = True
        fe.attach_peer()  # the host's current CAS bits go out with the first tick
        log.info("span %d: peer attached; the built-in far end is off", sid)
        link.write(encode_map(MsgType.HELLO, {"board": self.world.name, "version": VERSION, "span": sid,
                                              "signalling": fe.signalling.value, "timeslots": fe.timeslots}))
        decoder = FrameDecoder()
        try:
            while data := await reader.read(1 << 16):
                for mtype, payload in decoder.feed(data):
                    if mtype is not MsgType.TX:
                        continue  # OPEN is optional and carries nothing the sim needs
                    try:
                        msg = decode_audio(payload)
                    except LinkError as exc:
                        log.warning("span %d peer: bad TX frame: %s", sid, exc)
                        continue
                    cmds = [r for r in msg.records if isinstance(r, SetCas | SendHdlc)]
                    audio = np.array(msg.audio) if msg.audio.shape[0] else None
                    try:
                        problems = fe.peer_tx(msg.tick, audio, cmds)
                    except Exception:  # a far end's bug must not drop the peer
                        log.exception("span %d peer: TX %d failed", sid, msg.tick)
                        continue
                    for problem in problems:
                        log.warning("span %d peer: %s", sid, problem)
        except (ConnectionError, OSError) as exc:
            log.info("span %d peer: %s", sid, exc)
        finally:
            self.peers.pop(sid, None)
            fe.detach_peer()
            writer.close()
            log.info("span %d: peer detached; the built-in far end is back", sid)

    # ---- control ---------------------------------------------------------------------------------------

    async def _control_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        unpacker = msgpack.Unpacker(raw=False, max_buffer_size=CONTROL_MAX_BUFFER, strict_map_key=False)
        try:
            while data := await reader.read(1 << 16):
                try:
                    unpacker.feed(data)
                    requests = list(unpacker)
                except Exception as exc:  # msgpack raises several types for bad input
                    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=CONTROL_MAX_BUFFER,
                                                strict_map_key=False)
                    writer.write(msgpack.packb({"id": None, "ok": False, "error": f"malformed request: {exc}"},
                                               use_bin_type=True))
                    continue
                for req in requests:
                    try:
                        reply = await self.ops.handle(req)
                        out = msgpack.packb(reply, use_bin_type=True)
                    except Exception as exc:  # a bug in an op must not take the simulator down
                        log.exception("control op failed")
                        out = msgpack.packb({"id": req.get("id") if isinstance(req, dict) else None, "ok": False,
                                             "error": f"internal error: {exc}"}, use_bin_type=True)
                    writer.write(out)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
