"""The far end of a simulated E1 span: CAS bits or an HDLC link on TS16, alarms, and a party per
bearer timeslot that can send a tone and records what it hears.

A real peer stack (OpenR2, libss7) can take the far end over through the span's peer socket
(``sim.server``); while it is attached the built-in far end is quiet and this object only relays:
the host's audio, CAS bits and HDLC frames go to the peer, the peer's come back to the host.

Alarm rules: while LOS or AIS is raised the host receives no CAS changes and no HDLC frames (they
are counted as suppressed) and silence on every timeslot; when the alarm clears, the host gets a
CasChange for every timeslot whose far-end bits differ from what it last saw.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

import numpy as np

from hal.clock import FRAME_SAMPLES
from hal.events import AlarmCleared, AlarmRaised, CasChange, Command, Event, HdlcFrame, SendHdlc, SetCas
from hal.ports import Alarm, E1Signalling, Span, port_id
from sim.audio import ALAW_SILENCE_BYTE, Mouth, Recorder
from sim.hdlc import add_fcs, check_fcs

log = logging.getLogger(__name__)

CAS_IDLE = 0b1011  # China No.1 idle / clear-forward
HOST_CAS_DEFAULT = 0b1111  # what the far end sees before the host sets any bits


class E1FarEnd:
    def __init__(self, span: Span, emit: Callable[[Event], None], record_s: float = 30.0) -> None:
        self.span = span
        self.id = span.id
        self.signalling = span.signalling or E1Signalling.CAS
        self._emit = emit
        self.record_s = record_s
        self.timeslots = [p.index for p in span.ports]
        self.row_of = {p.index: i for i, p in enumerate(span.ports)}  # timeslot -> row within the span
        self.first_channel = span.ports[0].channel
        self.far_bits = dict.fromkeys(self.timeslots, CAS_IDLE)
        self.host_bits = dict.fromkeys(self.timeslots, HOST_CAS_DEFAULT)
        self._host_seen = dict(self.far_bits)  # the far-end bits the host was last told
        self.alarms: set[str] = set()
        self.hdlc_received: deque[bytes] = deque(maxlen=1000)  # frames from the host, FCS checked
        self.hdlc_sent = 0
        self.hdlc_bad_fcs = 0  # frames dropped because their FCS did not check
        self.suppressed = 0  # CAS changes / frames not delivered because of LOS/AIS
        self.mouths: dict[int, Mouth] = {}
        self.recorders: dict[int, Recorder] = {}
        # peer attachment (sim.server owns the socket)
        self.peer_attached = False
        self._peer_events: list[Event] = []
        self._peer_audio: np.ndarray | None = None
        self._peer_audio_tick = -1
        self._peer_host_audio = np.full((len(self.timeslots), FRAME_SAMPLES), ALAW_SILENCE_BYTE, dtype=np.uint8)
        self.peer_late = 0

    # ---- helpers -------------------------------------------------------------------------------

    def port(self, ts: int) -> str:
        return port_id(self.id, ts)

    def check_ts(self, ts: int) -> int:
        if ts not in self.row_of:
            raise ValueError(f"span {self.id} has no bearer timeslot {ts} (1-15, 17-31)")
        return ts

    @property
    def blind(self) -> bool:
        """LOS or AIS: the host receives nothing from the far end."""
        return bool(self.alarms & {Alarm.LOS.value, Alarm.AIS.value})

    # ---- far-end actions (tests, control socket, peer) ------------------------------------------

    def set_cas(self, ts: int, bits: int) -> None:
        """The far end transmits ``bits`` on timeslot ``ts``; the host sees a CasChange if they changed."""
        self.check_ts(ts)
        if self.signalling is not E1Signalling.CAS:
            raise ValueError(f"span {self.id} carries HDLC, not CAS")
        self.far_bits[ts] = int(bits) & 0xF
        self._deliver_cas(ts)

    def _deliver_cas(self, ts: int) -> None:
        bits = self.far_bits[ts]
        if self.blind:
            if bits != self._host_seen[ts]:
                self.suppressed += 1
            return
        if bits != self._host_seen[ts]:
            self._host_seen[ts] = bits
            self._emit(CasChange(self.port(ts), bits))

    def send_hdlc(self, data: bytes, bad_fcs: bool = False) -> bool:
        """The far end sends one frame; the span adds the FCS (corrupted if ``bad_fcs``) and the host's
        side checks it. Returns whether the host got it."""
        if self.signalling is not E1Signalling.HDLC:
            raise ValueError(f"span {self.id} carries CAS, not HDLC")
        wire = add_fcs(bytes(data))
        if bad_fcs:
            wire = wire[:-1] + bytes((wire[-1] ^ 0x5A,))
        return self._hdlc_to_host(wire)

    def _hdlc_to_host(self, wire: bytes) -> bool:
        body = check_fcs(wire)
        if body is None:
            self.hdlc_bad_fcs += 1
            log.info("span %d: HDLC frame with a bad FCS dropped", self.id)
            return False
        if self.blind:
            self.suppressed += 1
            return False
        self.hdlc_sent += 1
        self._emit(HdlcFrame(self.id, body))
        return True

    def set_alarm(self, alarm: str, on: bool) -> None:
        alarm = Alarm(alarm).value
        if on and alarm not in self.alarms:
            self.alarms.add(alarm)
            self._emit(AlarmRaised(self.id, alarm))
        elif not on and alarm in self.alarms:
            self.alarms.discard(alarm)
            self._emit(AlarmCleared(self.id, alarm))
            if not self.blind and self.signalling is E1Signalling.CAS:
                for ts in self.timeslots:
                    self._deliver_cas(ts)

    def mouth(self, ts: int) -> Mouth:
        self.check_ts(ts)
        m = self.mouths.get(ts)
        if m is None:
            m = self.mouths[ts] = Mouth()
            self.recorder(ts)
        return m

    def recorder(self, ts: int) -> Recorder:
        self.check_ts(ts)
        r = self.recorders.get(ts)
        if r is None:
            r = self.recorders[ts] = Recorder(self.record_s)
        return r

    # ---- the host's side --------------------------------------------------------------------------

    def command(self, cmd: Command) -> None:
        if isinstance(cmd, SetCas):
            ts = int(cmd.port.split("/")[1])
            self.check_ts(ts)
            bits = cmd.bits & 0xF
            self.host_bits[ts] = bits
            if self.peer_attached:
                self._peer_events.append(CasChange(cmd.port, bits))
        elif isinstance(cmd, SendHdlc):
            if self.signalling is not E1Signalling.HDLC:
                raise ValueError(f"span {self.id} carries CAS, not HDLC")
            body = check_fcs(add_fcs(cmd.data))  # the board adds the FCS; the far end checks it
            if body is None:
                self.hdlc_bad_fcs += 1
                return
            self.hdlc_received.append(body)
            if self.peer_attached:
                self._peer_events.append(HdlcFrame(self.id, body))
        else:
            raise ValueError(f"{type(cmd).__name__} does not apply to an E1 timeslot")

    def produce(self, tick: int, out: list[tuple[int, np.ndarray]], rx: np.ndarray) -> None:
        """Add this span's rows for ``tick``: linear frames to ``out`` as (channel, int16), or A-law
        rows written straight into ``rx`` (the peer's audio)."""
        if self.peer_attached:
            if self._peer_audio is not None and self._peer_audio_tick == tick - 1 and not self.blind:
                c = self.first_channel
                rx[c:c + len(self.timeslots)] = self._peer_audio
            elif self._peer_audio_tick != tick - 1:
                self.peer_late += 1
            return
        blind = self.blind
        for ts, m in list(self.mouths.items()):
            f = m.frame()
            if f is not None and not blind:
                out.append((self.first_channel + self.row_of[ts], f))

    def hear(self, tick: int, rows: np.ndarray) -> None:
        """The host's A-law audio for this span's timeslots (rows in timeslot order)."""
        if self.peer_attached:
            self._peer_host_audio = rows.copy()
            return
        for ts, rec in self.recorders.items():
            rec.record(tick, rows[self.row_of[ts]])

    # ---- peer attachment --------------------------------------------------------------------------

    def attach_peer(self) -> list[Event]:
        """A peer takes the far end over; the events that tell it the host's current CAS bits are queued
        for its first tick (and returned)."""
        self.peer_attached = True
        self._peer_audio = None
        self._peer_events = []
        if self.signalling is E1Signalling.CAS:
            self._peer_events = [CasChange(self.port(ts), self.host_bits[ts]) for ts in self.timeslots]
        return list(self._peer_events)

    def detach_peer(self) -> None:
        self.peer_attached = False
        self._peer_audio = None
        self._peer_events = []

    def peer_outbound(self) -> tuple[np.ndarray, list[Event]]:
        """What the peer gets with the next tick: the host's audio of the previous tick and the host's
        CAS changes / HDLC frames since."""
        events, self._peer_events = self._peer_events, []
        audio = self._peer_host_audio
        self._peer_host_audio = np.full_like(audio, ALAW_SILENCE_BYTE)
        return audio, events

    def peer_tx(self, tick: int, audio: np.ndarray | None, commands: list) -> list[str]:
        """Apply a peer's TX frame; returns a list of problems (logged by the caller)."""
        problems = []
        if audio is not None:
            if audio.shape == (len(self.timeslots), FRAME_SAMPLES):
                self._peer_audio = audio.copy()
                self._peer_audio_tick = tick
            else:
                problems.append(f"audio has {audio.shape[0]} rows, expected {len(self.timeslots)}")
        for cmd in commands:
            try:
                if isinstance(cmd, SetCas):
                    sid, ts = (int(x) for x in cmd.port.split("/"))
                    if sid != self.id:
                        raise ValueError(f"port {cmd.port} is not on span {self.id}")
                    self.set_cas(ts, cmd.bits)
                elif isinstance(cmd, SendHdlc):
                    self.send_hdlc(cmd.data)
                else:
                    raise ValueError(f"{type(cmd).__name__} is not a peer command")
            except ValueError as exc:
                problems.append(str(exc))
        return problems

    # ---- state ------------------------------------------------------------------------------------

    def resync_events(self) -> list[Event]:
        """Events that tell a newly connected host the span's state: alarms and (unless blind) every
        timeslot's far-end CAS bits."""
        evs: list[Event] = [AlarmRaised(self.id, a) for a in sorted(self.alarms)]
        if self.signalling is E1Signalling.CAS and not self.blind:
            for ts in self.timeslots:
                self._host_seen[ts] = self.far_bits[ts]
                evs.append(CasChange(self.port(ts), self.far_bits[ts]))
        return evs

    def state(self) -> dict:
        return {"span": self.id, "signalling": self.signalling.value, "alarms": sorted(self.alarms),
                "peer": self.peer_attached, "hdlc_received": len(self.hdlc_received),
                "hdlc_sent": self.hdlc_sent, "hdlc_bad_fcs": self.hdlc_bad_fcs, "suppressed": self.suppressed,
                "far_cas": {str(ts): b for ts, b in self.far_bits.items()} if self.signalling is E1Signalling.CAS
                else {},
                "host_cas": {str(ts): b for ts, b in self.host_bits.items()}
                if self.signalling is E1Signalling.CAS else {}}
