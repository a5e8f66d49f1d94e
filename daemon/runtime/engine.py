"""The engine: one board, one state machine per port, the media layer, and call control, per tick.

Each 20 ms tick: advance the frame clock, hand board events to the port machines, run the media
receivers and hand their results (digits, progress tones, caller ID) to the machines, fire due
timers, drain every machine's outputs (board commands, media requests, call events — call events go
to call control, which may ask other ports to act), then build the tx frames and answer the board.
Which machine runs on which port is ``daemon.runtime.line_setup``'s (the one place that knows the
kinds of line). E1 timeslots of a configured No.1 trunk (``[[trunk]]``) run a No.1 trunk machine: their
CAS changes and what the R2 MF receivers hear go to it, span alarms (LOS/AIS/RAI) take them out
of service and back. Other E1 timeslots keep their CAS bits, HDLC frames and alarms visible here.

Every port machine is a ``signaling.machine.PortMachine`` and is driven only through that interface:
the engine never asks what kind of line a port is to decide what to call. A request from call control
that the line's state does not allow raises ``WrongState`` back to call control; where the engine
hands call control an event or runs its timers, such an error fails that call (cause 41, published as
``call.error``) and the tick goes on for every other call.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from daemon.calls.control import CallControl
from daemon.calls.pin_guard import PinGuard
from daemon.calls.timers import Timers
from daemon.config.layout import check_layout
from daemon.config.model import Config
from daemon.runtime.line_setup import cas_idle_bits, line_machines
from daemon.runtime.media import Heard, Media
from daemon.runtime.tick_stats import TickStats
from hal.board import DEFAULT_TX_DELAY_FRAMES, Board, Tick
from hal.clock import FrameClock
from hal.dsp.callerid import CallerId
from hal.dsp.tones import ToneName
from hal.events import (
    AlarmCleared,
    AlarmRaised,
    CasChange,
    Command,
    HdlcFrame,
    SendHdlc,
    SetCas,
    SetHook,
    SetLoopCurrent,
    SetPolarity,
    SetRing,
)
from hal.ports import Alarm, E1Signalling, Port, PortKind, Span, SpanKind
from recorder import Recorder
from signaling.circuit import CircuitAlarm
from signaling.events import CallEvent, CallOffered, CallReleased, Cause
from signaling.machine import PortMachine, WrongState
from signaling.media import Detect, PlayTone, SendCallerId, SendDtmf, SendMf

log = logging.getLogger(__name__)

OUT_OF_SERVICE_ALARMS = (Alarm.LOS.value, Alarm.AIS.value, Alarm.RAI.value)  # no calls on such a span


@dataclass
class PortRuntime:
    port: Port
    machine: PortMachine | None  # None: an E1 timeslot without a stack
    cas_rx: int | None = None
    cas_tx: int | None = None


@dataclass
class SpanRuntime:
    span: Span
    hdlc_rx: deque = field(default_factory=lambda: deque(maxlen=256))
    hdlc_rx_frames: int = 0  # frames on the span's signalling link since the start (an HDLC span)
    hdlc_tx_frames: int = 0
    hdlc_last_rx: float | None = None  # the engine clock's time of the last frame received

    def hdlc_link(self, now: float) -> dict[str, Any] | None:
        """The signalling link of an HDLC (SS7) span: ``down`` while the span has a line alarm, ``up``
        when frames arrive (the last within 5 s), else ``idle``; frame counts and the last frame's age.
        None on other spans."""
        if self.span.signalling is not E1Signalling.HDLC:
            return None
        age = None if self.hdlc_last_rx is None else round(max(0.0, now - self.hdlc_last_rx), 1)
        down = any(a in OUT_OF_SERVICE_ALARMS for a in self.span.alarms)
        state = "down" if down else "up" if age is not None and age <= 5.0 else "idle"
        return {"state": state, "rx_frames": self.hdlc_rx_frames, "tx_frames": self.hdlc_tx_frames,
                "last_rx_s": age}


class Engine:
    def __init__(self, config: Config, board: Board, journal: Callable[[str, str, dict], Any],
                 publish: Callable[..., None] = lambda kind, **data: None) -> None:
        self.config = config
        self.board = board
        self.publish = publish
        self.clock = FrameClock()
        self.timers = Timers()
        self.ports: dict[str, PortRuntime] = {}
        self.spans: dict[int, SpanRuntime] = {}
        self.by_channel: list[PortRuntime] = []
        self.media: Media | None = None
        self.calls = CallControl(config, self, self.timers, journal, publish)
        self.pins = PinGuard(config.pin_limits, self.now, publish)  # wrong PINs: delay, then lockout
        self.recorder: Recorder | None = None  # attached by the service: taps every tick
        self.after_tick: list[Callable[[Any, Any], None]] = []  # (rx, tx) after the frames went out
        # told of each key and caller ID the media layer detects, before the port's line machine gets it
        # (diagnostics): (port, "dtmf", digit) or (port, "callerid", CallerId)
        self.on_detected: list[Callable[[str, str, Any], None]] = []
        self._commands: list[Command] = []
        self._dirty: set[str] = set()
        self._timed: set[str] = set()
        self._back_in_service: set[int] = set()  # spans whose alarms cleared in this tick
        self._restart: list[PortRuntime] = []  # every port's machine restarts at the first tick after attach()
        self.request_errors: deque[WrongState] = deque(maxlen=64)  # call control's wrong-state requests
        self.circuit_alarms: dict[str, str] = {}  # port -> alarm its stack raised (a stuck No.1 timeslot)
        self.ticks = 0
        self.skipped_ticks = 0
        self.last_tick_wall = 0.0
        self.tick_stats = TickStats()

    # --- set-up ---------------------------------------------------------------------------------

    def attach(self) -> None:
        """Check the config against the open board's layout (``ConfigError`` naming file:line: key), then
        build ports and machines from it."""
        check_layout(self.config, self.board.spans)
        self.ports.clear()
        self._restart = []
        self.circuit_alarms.clear()
        self.spans = {s.id: SpanRuntime(s) for s in self.board.spans}
        for span in self.board.spans:
            for p in span.ports:
                self.ports[p.id] = PortRuntime(p, None)
        self.by_channel = sorted(self.ports.values(), key=lambda r: r.port.channel)
        for setup in line_machines(self.config):
            self.ports[setup.port].machine = setup.build()
        self._restart = [rt for rt in self.by_channel if rt.machine is not None]
        self.media = Media(len(self.by_channel))
        self._configure_echo()

    def _configure_echo(self) -> None:
        """Echo cancellers on the channels whose ``[[line]]``, ``[[extension]]`` or ``[[trunk]]`` says
        ``echo_cancel`` (``[echo]``: tail, NLP), aligned to the board's transmit buffer."""
        cfg = self.config
        ports = [ln.port for ln in cfg.lines if ln.echo_cancel]
        ports += [e.port for e in cfg.extensions if e.echo_cancel]
        ports += [p for t in cfg.trunks if t.echo_cancel for p in t.ports()]
        delay = getattr(self.board, "tx_delay_frames", DEFAULT_TX_DELAY_FRAMES)
        assert self.media is not None
        self.media.cancel_echo_on([self.ports[p].port.channel for p in ports if p in self.ports],
                                  cfg.echo.tail_ms, delay, cfg.echo.nlp_db)

    def reset_lines(self) -> list[Command]:
        """Commands that put every port no machine runs in a clean idle state (start-up, after a crash).
        Configured lines restart in their machine at the first tick instead (``PortMachine.restart``): a
        No.1 timeslot sends idle only once the far end's bits (reported with that tick) say what the far
        end still holds."""
        cmds: list[Command] = []
        for rt in self.ports.values():
            p = rt.port
            if rt.machine is not None:
                continue
            if p.kind is PortKind.FXO:
                cmds.append(SetHook(p.id, False))
            elif p.kind is PortKind.FXS:
                cmds += [SetRing(p.id, False), SetPolarity(p.id, False), SetLoopCurrent(p.id, True)]
            elif self.spans[p.span].span.signalling is E1Signalling.CAS:  # a timeslot no trunk uses
                rt.cas_tx = cas_idle_bits(self.config, p.span)
                cmds.append(SetCas(p.id, rt.cas_tx))
        return cmds

    # --- the tick --------------------------------------------------------------------------------

    def on_tick(self, tick: Tick) -> None:
        t0 = time.perf_counter()
        self.skipped_ticks += self.clock.advance(tick.tick)
        now = self.clock.now()
        media = self.media
        assert media is not None
        if self._restart:
            restart, self._restart = self._restart, []
            for rt in restart:
                if rt.machine is not None:
                    self._feed(rt, rt.machine.restart, now)
        for ev in tick.events:
            self._board_event(ev, now)
        if self._back_in_service:
            self._resync_spans(now)
        rx = media.cancel_echo(tick.rx)
        heard = media.receive(rx)
        chan = self.by_channel
        if self.on_detected and (heard.digits or heard.caller_ids):
            self._tell_detected(heard)
        for ch, digit in heard.digits:
            if (m := chan[ch].machine) is not None:
                self._feed(chan[ch], m.handle_digit, digit, now)
        for ch, pev in heard.progress:
            if (m := chan[ch].machine) is not None:
                self._feed(chan[ch], m.handle_progress, pev, now)
        for ch, verdict in heard.answers:
            if (m := chan[ch].machine) is not None:
                self._feed(chan[ch], m.handle_answer, verdict, now)
        for ch, cid in heard.caller_ids:
            if (m := chan[ch].machine) is not None:
                self._feed(chan[ch], m.handle_caller_id, cid, now)
        for ch, signal in heard.mf:
            if (m := chan[ch].machine) is not None:
                self._feed(chan[ch], m.handle_mf, signal, now)
        for pid in list(self._timed):
            rt = self.ports[pid]
            m = rt.machine
            if m is None or m.deadline is None:
                self._timed.discard(pid)
            elif m.deadline <= now:
                self._feed(rt, m.handle_timer, now)
        self._run_call_timers(now)
        self._drain()
        tx = media.transmit(rx)
        if self.recorder is not None:
            self.recorder.tap(rx, tx)
        commands, self._commands = self._commands, []
        self.board.send(tick.tick, tx, commands)
        media.remember_tx(tx)
        for hook in self.after_tick:  # e.g. the IVR: prompts that ended, voicemail audio
            try:
                hook(rx, tx)
            except WrongState as err:  # a request it made of a line: that call fails, the tick goes on
                self._request_failed(err, None)
        if self.after_tick:
            self._drain()
        self.ticks += 1
        self.last_tick_wall = time.monotonic()
        self.tick_stats.add(time.perf_counter() - t0)

    def _tell_detected(self, heard: Heard) -> None:
        chan = self.by_channel
        for ch, digit in heard.digits:
            for fn in self.on_detected:
                fn(chan[ch].port.id, "dtmf", digit)
        for ch, cid in heard.caller_ids:
            for fn in self.on_detected:
                fn(chan[ch].port.id, "callerid", cid)

    @property
    def tick_cost_max(self) -> float:
        """The worst tick so far (seconds)."""
        return self.tick_stats.worst_s

    def queue_commands(self, commands: list[Command]) -> None:
        self._commands.extend(commands)

    def _board_event(self, ev: Any, now: float) -> None:
        if isinstance(ev, CasChange):
            rt = self.ports.get(ev.port)
            if rt is not None:
                rt.cas_rx = ev.bits
                self.publish("e1.cas", port=ev.port, bits=ev.bits)
                if rt.machine is not None:
                    self._feed(rt, rt.machine.handle_board_event, ev, now)
            return
        if isinstance(ev, HdlcFrame):
            srt = self.spans.get(ev.span)
            if srt is not None:
                srt.hdlc_rx.append(ev.data)
                srt.hdlc_rx_frames += 1
                srt.hdlc_last_rx = now
                self.publish("e1.hdlc", span=ev.span, data=ev.data)
            return
        if isinstance(ev, AlarmRaised | AlarmCleared):
            srt = self.spans.get(ev.span)
            if srt is not None:
                raised = isinstance(ev, AlarmRaised)
                (srt.span.alarms.add if raised else srt.span.alarms.discard)(ev.alarm)
                log.warning("span %d: alarm %s %s", ev.span, ev.alarm, "raised" if raised else "cleared")
                self.publish("alarm.raised" if raised else "alarm.cleared", span=ev.span, alarm=ev.alarm)
                self._span_service(srt.span, now)
            return
        rt = self.ports.get(getattr(ev, "port", ""))
        if rt is None or rt.machine is None:
            log.debug("event for a port with no line configured: %s", ev)
            return
        self._feed(rt, rt.machine.handle_board_event, ev, now)

    def _span_service(self, span: Span, now: float) -> None:
        """The span's lines go out of service while it has LOS, AIS or RAI, and back when it clears
        (after the tick's other events: the board reports the bits that changed meanwhile with them)."""
        if any(a in span.alarms for a in OUT_OF_SERVICE_ALARMS):
            self._back_in_service.discard(span.id)
            for p in span.ports:
                rt = self.ports[p.id]
                if rt.machine is not None:
                    self._feed(rt, rt.machine.out_of_service, now)
        else:
            self._back_in_service.add(span.id)

    def _resync_spans(self, now: float) -> None:
        spans, self._back_in_service = self._back_in_service, set()
        for sid in spans:
            for p in self.spans[sid].span.ports:
                rt = self.ports[p.id]
                m = rt.machine
                if m is not None and m.is_out_of_service:
                    self._feed(rt, m.in_service, now)
                    if rt.cas_rx is not None and rt.machine is m:  # the far end's bits as now reported
                        self._feed(rt, m.handle_board_event, CasChange(p.id, rt.cas_rx), now)

    def _feed(self, rt: PortRuntime, method: Callable[..., object], *args: Any) -> None:
        """Hand ``rt``'s machine an input from the line or the engine: ``method`` is one of the machine's
        ``PortMachine`` methods (bound: ``machine.handle_digit``). A machine that raises is reset."""
        try:
            method(*args)
        except Exception:
            log.exception("port %s: %s failed; the port is reset", rt.port.id, method.__name__)
            self._reset_port(rt)
            return
        self._dirty.add(rt.port.id)

    def _machine(self, port: str) -> PortMachine:
        machine = self.ports[port].machine
        if machine is None:
            raise ValueError(f"port {port} has no line configured")
        return machine

    def _request(self, port: str, method: Callable[..., object], *args: Any) -> object:
        """Call control's request to the port's machine: ``method`` is one of its ``PortMachine`` methods
        (bound). ``WrongState`` goes back to the caller, the machine untouched; any other failure resets
        the port, as for a line input."""
        rt = self.ports[port]
        if self._restart and rt in self._restart:  # asked between attach() and the first tick (a call or a
            self._restart.remove(rt)  # test ring right after READY): the line starts clean first, then takes it
            if rt.machine is not None:
                self._feed(rt, rt.machine.restart, self.now())
        try:
            result = method(*args)
        except WrongState:
            raise
        except Exception:
            log.exception("port %s: %s failed; the port is reset", port, method.__name__)
            self._reset_port(rt)
            return None
        self._dirty.add(port)
        return result

    def _reset_port(self, rt: PortRuntime) -> None:
        """A machine that raised is replaced by a fresh one, restarted from the far end's bits as last
        reported; its call, if any, is released."""
        old = rt.machine
        assert old is not None
        machine = rt.machine = type(old)(rt.port.id, old.config)
        assert self.media is not None
        self.media.reset(rt.port.channel)
        now = self.now()
        machine.restart(now)
        if rt.cas_rx is not None:
            machine.handle_board_event(CasChange(rt.port.id, rt.cas_rx), now)
        self._dirty.add(rt.port.id)
        alarm = self.circuit_alarms.pop(rt.port.id, None)
        if alarm is not None:
            self.publish("alarm.cleared", span=rt.port.span, port=rt.port.id, alarm=alarm)
        self._to_calls(CallReleased(rt.port.id, Cause.TEMPORARY_FAILURE))

    def _drain(self) -> None:
        rounds = 0
        while self._dirty and rounds < 50:
            rounds += 1
            dirty, self._dirty = self._dirty, set()
            for pid in dirty:
                rt = self.ports[pid]
                if rt.machine is None:
                    continue
                for out in rt.machine.take_outputs():
                    self._output(rt, out)
                if rt.machine is not None and rt.machine.deadline is not None:
                    self._timed.add(pid)

    def _output(self, rt: PortRuntime, out: Any) -> None:
        media = self.media
        assert media is not None
        ch = rt.port.channel
        match out:
            case PlayTone(tone=tone):
                media.play(ch, tone)
            case SendDtmf(digits=digits):
                media.send_dtmf(ch, digits)
            case SendCallerId(cid=cid, method=method):
                media.send_caller_id(ch, cid, method)
            case Detect(detector=detector, on=on):
                media.detect(ch, detector, on)
            case SendMf(signal=signal, forward=forward, level_dbm0=level):
                media.send_mf(ch, signal, forward, level)
            case SetCas(bits=bits):
                rt.cas_tx = bits
                self._commands.append(out)
            case SetHook() | SetRing() | SetPolarity() | SetLoopCurrent() | SetCas() | SendHdlc():
                self._commands.append(out)
            case CircuitAlarm(port=port, alarm=alarm, raised=raised):
                self._circuit_alarm(rt, port, alarm, raised)
            case CallEvent():
                self._to_calls(out)
                if isinstance(out, CallOffered) and rt.machine is not None:  # call control kept it (no refusal first)
                    self._feed(rt, rt.machine.accept, self.now())
            case _:
                if hasattr(out, "code") and hasattr(out, "to_wire"):
                    self._commands.append(out)
                else:
                    log.debug("port %s: unhandled output %r", rt.port.id, out)

    def _to_calls(self, ev: CallEvent) -> None:
        """Hand call control a line's event; a wrong-state request it makes meanwhile fails that call."""
        try:
            self.calls.handle(ev)
            if isinstance(ev, CallReleased):
                self.calls.released_port_idle(ev.port)
        except WrongState as err:
            self._request_failed(err, ev.port)

    def _run_call_timers(self, now: float) -> None:
        """Call control's due timers; one whose request meets a wrong state fails its call, the rest run
        (``Timers.run_due`` has popped the failed one)."""
        while True:
            try:
                self.timers.run_due(now)
                return
            except WrongState as err:
                self._request_failed(err, None)

    def _request_failed(self, err: WrongState, port: str | None) -> None:
        """Call control asked a line for something its state does not allow (a bug, not the network's
        doing): logged and published as ``call.error``, and the call on the line asked (and on ``port``,
        whose event call control was handling) ends with TEMPORARY_FAILURE. Other calls go on."""
        self.request_errors.append(err)
        log.error("call control: %s", err)
        self.publish("call.error", port=err.port, machine=err.machine, state=err.state, request=err.request,
                     message=str(err))
        for p in dict.fromkeys(q for q in (err.port, port) if q is not None):
            rt = self.ports.get(p)
            if rt is None or rt.machine is None or p not in self.calls.by_port:
                continue
            with contextlib.suppress(WrongState):  # WrongState: nothing of the call left on the line itself
                rt.machine.release(Cause.TEMPORARY_FAILURE, self.now())
            self._dirty.add(p)
            try:
                self.calls.handle(CallReleased(p, Cause.TEMPORARY_FAILURE))
                self.calls.released_port_idle(p)
            except WrongState as again:
                self.request_errors.append(again)
                log.error("call control, ending the failed call: %s", again)

    def _circuit_alarm(self, rt: PortRuntime, port: str, alarm: str, raised: bool) -> None:
        if raised:
            self.circuit_alarms[port] = alarm
            log.warning("port %s: alarm %s raised", port, alarm)
        elif self.circuit_alarms.get(port) == alarm:
            del self.circuit_alarms[port]
            log.info("port %s: alarm %s cleared", port, alarm)
        self.publish("alarm.raised" if raised else "alarm.cleared", span=rt.port.span, port=port, alarm=alarm)

    # --- Lines: what call control may ask of ports --------------------------------------------------

    def now(self) -> float:
        return self.clock.now()

    # Each raises ``WrongState`` if the port's line cannot do it in its state (see signaling.machine).

    def ring(self, port: str, cid: CallerId | None) -> None:
        self._request(port, self._machine(port).ring, cid, self.now())

    def answer(self, port: str) -> None:
        self._request(port, self._machine(port).answer, self.now())

    def dial(self, port: str, number: str, caller: str | None = None) -> None:
        """Place a call on ``port``; the calling number is the trunk's configured ``caller`` if it has one."""
        trunk = self.config.trunk_by_port(port)
        ani = (trunk.caller if trunk is not None and trunk.caller else caller) or None
        self._request(port, self._machine(port).dial, number, self.now(), ani)

    def release(self, port: str, cause: Cause) -> None:
        self._request(port, self._machine(port).release, cause, self.now())

    def channel(self, port: str) -> int:
        """The media channel (tick array row) of ``port``."""
        return self.ports[port].port.channel

    def play(self, port: str, tone: ToneName | None) -> None:
        rt = self.ports[port]
        if rt.machine is not None:
            self._request(port, rt.machine.play, tone)
        else:  # a timeslot without a stack: straight to its media channel
            assert self.media is not None
            self.media.play(rt.port.channel, tone)

    def set_message_waiting(self, port: str, on: bool) -> None:
        """New voicemail waits for the user of ``port``'s line (stutter dial tone on an extension)."""
        rt = self.ports.get(port)
        if rt is not None and rt.machine is not None:
            self._request(port, rt.machine.set_message_waiting, on)

    def connect(self, a: str, b: str, one_way: bool = False) -> None:
        assert self.media is not None
        self.media.connect(self.ports[a].port.channel, self.ports[b].port.channel, one_way)

    def disconnect(self, port: str) -> None:
        assert self.media is not None
        self.media.disconnect(self.ports[port].port.channel)

    def is_free(self, port: str) -> bool:
        rt = self.ports.get(port)
        return rt is not None and rt.machine is not None and rt.machine.is_idle

    # --- No.1 timeslots: blocking (TUI / API) ------------------------------------------------------

    def block(self, port: str) -> bool:
        """Block an idle line (a No.1 timeslot); False if it is busy or cannot be blocked."""
        rt = self.ports.get(port)
        if rt is None or rt.machine is None:
            return False
        blocked = bool(self._request(port, rt.machine.block, self.now()))
        self._drain()
        return blocked

    def unblock(self, port: str) -> None:
        rt = self.ports.get(port)
        if rt is not None and rt.machine is not None:
            self._request(port, rt.machine.unblock, self.now())
            self._drain()

    # --- E1 plumbing (timeslots and spans without a stack) -------------------------------------------

    def set_cas(self, port: str, bits: int) -> None:
        rt = self.ports[port]
        if rt.port.kind is not PortKind.E1_BEARER:
            raise ValueError(f"{port} is not an E1 timeslot")
        rt.cas_tx = bits & 0xF
        self._commands.append(SetCas(port, bits & 0xF))

    def send_hdlc(self, span: int, data: bytes) -> None:
        srt = self.spans[span]
        if srt.span.kind is not SpanKind.E1 or srt.span.signalling is not E1Signalling.HDLC:
            raise ValueError(f"span {span} has no HDLC signalling link")
        self._commands.append(SendHdlc(span, data))
        srt.hdlc_tx_frames += 1

    # --- views ------------------------------------------------------------------------------------

    def port_states(self) -> list[dict]:
        out = []
        for rt in self.by_channel:
            p = rt.port
            row: dict[str, Any] = {"port": p.id, "kind": p.kind.value}
            if rt.machine is not None:
                row["state"] = str(rt.machine.state)
            if p.kind is PortKind.E1_BEARER:
                row["cas_rx"] = rt.cas_rx
                row["cas_tx"] = rt.cas_tx
                if p.id in self.circuit_alarms:
                    row["alarm"] = self.circuit_alarms[p.id]
            call = self.calls.by_port.get(p.id)
            if call is not None:
                row["call"] = call.id
            ext = self.config.extension_by_port(p.id)
            if ext:
                row["extension"] = ext.number
            line = self.config.line_by_port(p.id)
            if line:
                row["line"] = line.name
            out.append(row)
        return out

    # --- configuration changed while running (daemon.config.editing) -----------------------------------

    def apply_config(self, new: Config) -> list[str]:
        """Swap in ``new`` without touching calls in progress: the engine's and call control's config and
        dial plan, and the ``config`` of every FXS/FXO machine and No.1 timeslot whose settings changed
        (machines read it at event time; a No.1 call in progress keeps its register's settings), and the
        echo cancellers if ``[echo]`` or a port's ``echo_cancel`` changed (calls in progress learn their
        echo afresh, within a second). Ports must be the same as at ``attach()`` (the caller checks);
        returns the ports whose machine settings changed."""
        from daemon.calls.dialplan import Dialplan
        from daemon.calls.dnis import DnisTable

        old, self.config = self.config, new
        if _echo_settings(old) != _echo_settings(new):
            self._configure_echo()
        self.calls.config = new
        self.calls.cos.config = new  # classes of service and caps apply at once
        self.calls.dialplan = Dialplan(new)
        self.calls.dnis = DnisTable(new.dnis)
        self.pins.limits = new.pin_limits
        changed: list[str] = []
        for setup in line_machines(new):
            rt = self.ports.get(setup.port)
            if rt is not None and type(rt.machine) is setup.kind and rt.machine.config != setup.config:
                rt.machine.config = setup.config
                changed.append(setup.port)
        return changed


def _echo_settings(cfg: Config) -> tuple:
    return (cfg.echo, tuple(ln.port for ln in cfg.lines if ln.echo_cancel),
            tuple(e.port for e in cfg.extensions if e.echo_cancel), tuple(t.name for t in cfg.trunks if t.echo_cancel))
