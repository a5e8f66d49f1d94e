"""The box's own No.1 stack as the far end of a simulated E1 span (the exchange side, for tests).

``No1Peer`` runs one ``No1Trunk`` per timeslot plus a media layer (R2 MF send/receive, tones) and a
talker per timeslot, and is stepped with what a peer gets each tick: the host's audio (30 rows,
timeslot order) and the host's CAS changes; it returns its audio and ``SetCas`` commands. Call
control on this side is a policy: ``on_offered`` decides what an incoming call gets (accept and
answer after ``answer_after_s``, or a refusing cause).

``attach_inprocess(box, peer, span)`` steps a peer together with an in-process ``Box``;
``PeerSocket`` runs one on a simulator process's ``spanN.peer`` socket (real time: the simulator's
TICKs step it).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from daemon.runtime.media import Media
from hal import boardlink
from hal.boardlink import MsgType
from hal.dsp.g711 import linear_to_alaw
from hal.dsp.tones import sine
from hal.events import CasChange, SetCas
from hal.ports import E1_BEARER_TIMESLOTS
from signaling.events import CallAnswered, CallOffered, CallReleased, Cause
from signaling.media import Detect, PlayTone, SendMf
from signaling.no1.trunk import No1Trunk, TrunkConfig

TICK_S = 0.02


class No1Peer:
    def __init__(self, span: int, config: TrunkConfig | None = None, *,
                 on_offered: Callable[[CallOffered], Cause | None] = lambda ev: None,
                 answer_after_s: float | None = 1.0) -> None:
        self.span = span
        self.timeslots = E1_BEARER_TIMESLOTS
        self.ports = [f"{span}/{ts}" for ts in self.timeslots]
        self.row = {p: i for i, p in enumerate(self.ports)}
        self.machines = {p: No1Trunk(p, config or TrunkConfig(dnis_length=5)) for p in self.ports}
        self.media = Media(len(self.ports))
        self.on_offered = on_offered
        self.answer_after_s = answer_after_s
        self.now = 0.0
        self.events: list[tuple[float, Any]] = []
        self.talk: dict[str, float] = {}  # port -> tone frequency this side speaks once answered
        self.heard: dict[str, list[np.ndarray]] = {p: [] for p in self.ports}  # A-law rows while answered
        self.cas_tx = {p: 0b1011 for p in self.ports}
        self._answers: dict[str, float] = {}
        self._phase = {p: 0 for p in self.ports}
        self._lock = threading.Lock()

    # --- what the test does ------------------------------------------------------------------------

    def dial(self, ts: int, number: str, caller: str | None = None) -> None:
        with self._lock:
            self.machines[f"{self.span}/{ts}"].dial(number, self.now, caller)

    def dtmf(self, ts: int, digits: str) -> None:
        """The caller on timeslot ``ts`` presses keys (DTMF in the audio, after answer: an IVR menu)."""
        self.media.send_dtmf(self.row[f"{self.span}/{ts}"], digits)

    def release(self, ts: int, cause: Cause = Cause.NORMAL_CLEARING) -> None:
        with self._lock:
            self.machines[f"{self.span}/{ts}"].release(cause, self.now)

    def state(self, ts: int) -> str:
        return str(self.machines[f"{self.span}/{ts}"].state)

    def events_of(self, ts: int, kind: type | None = None) -> list:
        port = f"{self.span}/{ts}"
        return [e for _, e in self.events if getattr(e, "port", None) == port and (kind is None or isinstance(e, kind))]

    def heard_audio(self, ts: int) -> bytes:
        rows = self.heard[f"{self.span}/{ts}"]
        return b"".join(r.tobytes() for r in rows)

    # --- one tick ----------------------------------------------------------------------------------

    def step(self, host_audio: np.ndarray, events: list) -> tuple[np.ndarray, list]:
        with self._lock:
            return self._step(host_audio, events)

    def _step(self, host_audio: np.ndarray, events: list) -> tuple[np.ndarray, list]:
        now = self.now
        commands: list = []
        for ev in events:
            if isinstance(ev, CasChange) and ev.port in self.machines:
                self.machines[ev.port].handle_board_event(ev, now)
        for ch, signal in self.media.receive(host_audio).mf:
            self.machines[self.ports[ch]].handle_mf(signal, now)
        for port, t in list(self._answers.items()):
            if t <= now:
                del self._answers[port]
                self.machines[port].answer(now)
        for m in self.machines.values():
            if m.deadline is not None and m.deadline <= now:
                m.handle_timer(now)
        for port, m in self.machines.items():
            for out in m.take_outputs():
                self._output(port, out, commands)
        tx = self.media.transmit(host_audio).copy()
        for port, m in self.machines.items():
            answered = str(m.state) in ("in_answered", "out_answered")
            row = self.row[port]
            if answered:
                self.heard[port].append(host_audio[row].copy())
                freq = self.talk.get(port)
                if freq:
                    tx[row] = linear_to_alaw(sine(freq, -12.0, 160, self._phase[port]))
                    self._phase[port] += 160
        self.now = round(now + TICK_S, 6)
        return tx, commands

    def _output(self, port: str, out: Any, commands: list) -> None:
        ch = self.row[port]
        if isinstance(out, SetCas):
            self.cas_tx[port] = out.bits
            commands.append(out)
        elif isinstance(out, SendMf):
            self.media.send_mf(ch, out.signal, out.forward, out.level_dbm0)
        elif isinstance(out, Detect):
            self.media.detect(ch, out.detector, out.on)
        elif isinstance(out, PlayTone):
            self.media.play(ch, out.tone)
        else:
            self.events.append((self.now, out))
            if isinstance(out, CallOffered):
                cause = self.on_offered(out)
                if cause is not None:
                    self.machines[port].release(cause, self.now)
                elif self.answer_after_s is not None:
                    self._answers[port] = self.now + self.answer_after_s
            elif isinstance(out, CallReleased):
                self._answers.pop(port, None)
            elif isinstance(out, CallAnswered):
                pass


def attach_inprocess(box: Any, peer: No1Peer, span: int) -> None:
    """Make ``box.run`` step ``peer`` as the far end of ``span`` every tick (in-process, virtual time)."""
    far = box.world.span(span)
    far.attach_peer()
    run_tick = box.run

    def run(seconds: float) -> None:
        for _ in range(round(seconds * 50)):
            run_tick(0.02)
            audio, events = far.peer_outbound()
            tx, commands = peer.step(audio, events)
            far.peer_tx(box.world.tick, tx, commands)

    box.run = run


class PeerSocket:
    """Run ``peer`` as the far end of a simulator process's span, over ``<rundir>/spanN.peer``."""

    def __init__(self, path: str, peer: No1Peer) -> None:
        self.peer = peer
        self.ticks = 0
        self.error: BaseException | None = None
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self._closing = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        dec = boardlink.FrameDecoder()
        try:
            while not self._closing:
                data = self.sock.recv(1 << 16)
                if not data:
                    return
                for mtype, payload in dec.feed(data):
                    if mtype is MsgType.TICK:
                        msg = boardlink.decode_audio(payload)
                        tx, commands = self.peer.step(msg.audio, msg.records)
                        self.sock.sendall(boardlink.encode_audio(MsgType.TX, msg.tick, tx, commands))
                        self.ticks += 1
        except OSError:
            if not self._closing:
                raise
        except BaseException as exc:  # surfaced to the test through .error
            self.error = exc
            raise

    def close(self) -> None:
        self._closing = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(2)
