"""The simulated board and the world behind its ports, steppable in-process.

``SimWorld`` is the board core: ``step()`` advances one 20 ms tick and returns the host-bound audio
(channels x 160 A-law, row = ``Port.channel``) and the events since the previous tick;
``apply_tx(tick, tx, commands)`` takes the host's answer (the audio each far end hears, and
commands). Like a real card's transmit buffers (DAHDI's buffer policy), the host's audio for tick n
is played to the far ends at tick n + ``tx_buffer_frames``: a host that is a frame or two late
costs latency, not audio. A frame that has not arrived by its playout is silence to the far ends
(an underrun); one arriving after it is late (dropped).

Unit tests drive it directly on a virtual clock (no sleeps); ``sim.server`` drives it from the real
20 ms clock and the board link.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from hal.clock import FRAME_SAMPLES
from hal.dsp.g711 import alaw_to_linear, linear_to_alaw
from hal.events import Command, Event, SendHdlc
from hal.ports import PortKind, SpanKind, build_spans, channel_count
from sim.audio import ALAW_SILENCE_BYTE
from sim.central_office import CentralOffice
from sim.config import SimConfig, load_config
from sim.e1 import E1FarEnd
from sim.hybrid import HybridBank, HybridSettings
from sim.phone import Phone

log = logging.getLogger(__name__)


class SimWorld:
    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or load_config()
        self.name = self.config.name
        self.layout = self.config.layout
        self.spans = build_spans(self.layout)
        self.channels = channel_count(self.spans)
        self.tick = -1
        self._events: list[Event] = []
        self.tx_buffer_frames = self.config.tx_buffer_frames
        self._tx_buffer: dict[int, np.ndarray] = {}  # host audio by tick, waiting for its playout
        self._count_from = 0  # the first tick whose missing audio counts as an underrun
        self._counting_underruns = True
        self.co = CentralOffice(self._emit, self.now)
        self.co.default_scenario = self.config.default_scenario
        self.co.scenarios.update(self.config.scenarios)
        self.phones: dict[str, Phone] = {}
        self.e1: dict[int, E1FarEnd] = {}
        self._fxo: list[tuple[int, object]] = []
        self._fxs: list[tuple[int, Phone]] = []
        self._port_owner: dict[str, object] = {}
        for span in self.spans:
            if span.kind is SpanKind.E1:
                fe = self.e1[span.id] = E1FarEnd(span, self._emit, self.config.e1_record_s)
                for p in span.ports:
                    self._port_owner[p.id] = fe
                continue
            for p in span.ports:
                if p.kind is PortKind.FXO:
                    settings = self.config.co_lines.get(p.id, self.config.co_defaults)
                    line = self.co.add_line(p, settings, self.config.record_s)
                    self._fxo.append((p.channel, line))
                    self._port_owner[p.id] = line
                else:
                    ps = self.config.phones[p.id]
                    ph = Phone(p, ps.extension, self._emit, self.now, self.config.record_s, ps.callerid)
                    ph.auto_answer_rings = ps.auto_answer_rings
                    ph.auto_hangup_s = ps.auto_hangup_s
                    self.phones[p.id] = ph
                    self._fxs.append((p.channel, ph))
                    self._port_owner[p.id] = ph
        self.by_extension = {ph.extension: ph for ph in self.phones.values()}
        self.hybrid_settings: dict[str, HybridSettings] = {
            p.id: self.config.echo_for(p.id, p.kind.value) for span in self.spans for p in span.ports}
        self._channel_of = {p.id: p.channel for span in self.spans for p in span.ports}
        self._build_hybrids()
        self.step_hooks: list[Callable[[int], None]] = []
        self.ticks = 0
        self.underruns = 0  # ticks whose host audio had not arrived by its playout (silence played)
        self.late_tx = 0  # host answers that arrived after their tick's playout (audio dropped)
        self.bad_tx = 0  # host answers with the wrong shape, a future tick or a second time
        self.bad_commands = 0

    @property
    def counting_underruns(self) -> bool:
        """Whether missing host audio counts (the server turns this off while no host is connected);
        turned on, it counts from the next tick, the first the host is sent."""
        return self._counting_underruns

    @counting_underruns.setter
    def counting_underruns(self, on: bool) -> None:
        if on and not self._counting_underruns:
            self._count_from = self.tick + 1
        self._counting_underruns = on

    # ---- plumbing ----------------------------------------------------------------------------------

    def now(self) -> int:
        return max(self.tick, 0)

    def _emit(self, ev: Event) -> None:
        self._events.append(ev)

    def phone(self, which: str) -> Phone:
        """A phone by extension label ("8001") or port ("2/1")."""
        ph = self.by_extension.get(which) or self.phones.get(which)
        if ph is None:
            raise ValueError(f"no phone {which!r} (extensions {', '.join(self.by_extension)})")
        return ph

    def span(self, sid: int) -> E1FarEnd:
        fe = self.e1.get(sid)
        if fe is None:
            raise ValueError(f"no E1 span {sid!r} (E1 spans: {', '.join(map(str, self.e1))})")
        return fe

    def _build_hybrids(self) -> None:
        ports = list(self.hybrid_settings)
        self.hybrids = HybridBank([self._channel_of[p] for p in ports], [self.hybrid_settings[p] for p in ports])

    def set_echo(self, port: str, settings: HybridSettings) -> None:
        """Change the hybrid of ``port`` (its echo starts afresh); ValueError for an unknown port."""
        if port not in self.hybrid_settings:
            raise ValueError(f"no port {port!r} on this board")
        self.hybrid_settings[port] = settings
        self._build_hybrids()

    def _closed(self) -> np.ndarray:
        """Which channels' lines carry the box's audio back this tick: FXO lines the host holds off hook,
        off-hook phones, E1 timeslots of a span that is up with its built-in far end."""
        closed = np.zeros(self.channels, dtype=bool)
        for ch, line in self._fxo:
            closed[ch] = line.hook_off
        for ch, ph in self._fxs:
            closed[ch] = ph.is_off_hook
        for fe in self.e1.values():
            if not fe.peer_attached and not fe.blind:
                closed[fe.first_channel:fe.first_channel + len(fe.timeslots)] = True
        return closed

    # ---- the tick -------------------------------------------------------------------------------------

    def step(self, tick: int | None = None) -> tuple[np.ndarray, list[Event]]:
        """Advance to ``tick`` (default: the next one): the host-bound audio and the events since the
        previous tick."""
        self.tick = self.tick + 1 if tick is None else int(tick)
        self.ticks += 1
        tick = self.tick
        for hook in self.step_hooks:
            hook(tick)
        rx = np.full((self.channels, FRAME_SAMPLES), ALAW_SILENCE_BYTE, dtype=np.uint8)
        out: list[tuple[int, np.ndarray]] = []
        for ch, line in self._fxo:
            f = line.step(tick)
            if f is not None:
                out.append((ch, f))
        for ch, ph in self._fxs:
            f = ph.step(tick)
            if f is not None:
                out.append((ch, f))
        for fe in self.e1.values():
            fe.produce(tick, out, rx)
        played = self._play_out(tick)
        lin = alaw_to_linear(played)
        rows, echo = self.hybrids.echo(lin, self._closed()) if len(self.hybrids) else ((), None)
        if len(rows):  # what the far ends say plus what the hybrids return of what the box played
            mix = np.zeros((self.channels, FRAME_SAMPLES))
            heard = np.zeros(self.channels, dtype=bool)
            for ch, f in out:
                mix[ch] = f
                heard[ch] = True
            mix[rows] += echo
            heard[rows] = True
            rx[heard] = linear_to_alaw(np.clip(np.rint(mix[heard]), -32768, 32767))
        elif out:
            chans = [c for c, _ in out]
            rx[chans] = linear_to_alaw(np.stack([f for _, f in out]))
        events, self._events = self._events, []
        self._deliver(tick, played, lin)  # after the far ends' own step, as when the host answered at once
        return rx, events

    def apply_tx(self, tick: int, tx: np.ndarray | None, commands: list[Command] = ()) -> None:
        """The host's answer to ``tick``: commands take effect now; the audio waits in the transmit
        buffer for its playout (``tx_buffer_frames`` ticks later), unless that has already passed."""
        for cmd in commands:
            self.command(cmd)
        if tx is None:
            return
        if tick <= self.tick - self.tx_buffer_frames:
            self.late_tx += 1
            return
        if tick > self.tick or tick in self._tx_buffer:
            self.bad_tx += 1
            return
        if tx.shape != (self.channels, FRAME_SAMPLES):
            self.bad_tx += 1
            log.warning("host audio has shape %s, expected (%d, %d): dropped", tx.shape, self.channels,
                        FRAME_SAMPLES)
            return
        self._tx_buffer[tick] = tx

    def _play_out(self, tick: int) -> np.ndarray:
        """What the board plays at ``tick``: the host's audio for ``tick - tx_buffer_frames`` (silence if
        it did not come). The lines' hybrids return it in this tick's receive audio; the far ends hear it
        after their own step."""
        due = tick - self.tx_buffer_frames
        tx = self._tx_buffer.pop(due, None)
        for old in [t for t in self._tx_buffer if t < due]:  # ticks skipped by a clock that fell behind
            del self._tx_buffer[old]
        if tx is None and self._counting_underruns and due >= self._count_from:
            self.underruns += 1
        if tx is None:
            tx = np.full((self.channels, FRAME_SAMPLES), ALAW_SILENCE_BYTE, dtype=np.uint8)
        return tx

    def command(self, cmd: Command) -> None:
        try:
            owner = self.e1.get(cmd.span) if isinstance(cmd, SendHdlc) else self._port_owner.get(cmd.port)
            if owner is None:
                raise ValueError(f"{type(cmd).__name__}: no such port/span on this board")
            owner.command(cmd)  # type: ignore[attr-defined]
        except ValueError as exc:
            self.bad_commands += 1
            log.warning("host command %r rejected: %s", cmd, exc)

    def _deliver(self, tick: int, tx: np.ndarray, lin: np.ndarray) -> None:
        if tick < 0:
            return
        for ch, line in self._fxo:
            line.hear(tick, tx[ch], lin[ch])
        for ch, ph in self._fxs:
            ph.hear(tick, tx[ch], lin[ch])
        for fe in self.e1.values():
            c = fe.first_channel
            fe.hear(tick, tx[c:c + len(fe.timeslots)])

    def resync_events(self) -> list[Event]:
        """Events that tell a newly connected host the state of every line: off-hook phones, ringing CO
        lines, E1 alarms and CAS bits."""
        evs: list[Event] = []
        for ph in self.phones.values():
            evs += ph.resync_events()
        for line in self.co.lines.values():
            evs += line.resync_events()
        for fe in self.e1.values():
            evs += fe.resync_events()
        return evs

    def status(self) -> dict:
        return {"board": self.name, "tick": self.tick, "channels": self.channels, "layout": self.layout,
                "underruns": self.underruns, "late_tx": self.late_tx, "bad_tx": self.bad_tx,
                "bad_commands": self.bad_commands,
                "phones": {ph.extension: ph.id for ph in self.phones.values()},
                "co_lines": {ln.id: ln.state for ln in self.co.lines.values()},
                "e1": {str(s): fe.state() for s, fe in self.e1.items()}}
