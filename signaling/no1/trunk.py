"""One No.1 (MFC/R2) trunk timeslot: line signalling + register signalling + call control (sans-I/O).

``No1Trunk`` is a line machine (``signaling.machine``, the interface of every line): it takes
``handle_board_event(ev, now)`` (``CasChange``), ``handle_mf(signal, now)`` (what the R2 MF receiver
hears: 1..15, 0 = tone off), ``handle_digit(digit, now)`` (DTMF once answered), ``handle_timer(now)``,
the engine's ``restart`` / ``out_of_service`` / ``in_service`` and call control's ``dial``,
``accept``, ``answer``, ``release(cause, now)``, ``play``, ``block`` / ``unblock`` (``ring`` is wrong
on a trunk in every state: ``WrongState``). It hands back ``SetCas`` commands, media requests
(``SendMf``, ``Detect("r2mf_fwd"|"r2mf_bwd"|"dtmf")``, ``PlayTone``) and uniform call events
(DigitReceived during an answered call, as an analog trunk gives them to the IVR).

Incoming::

    idle --far seize--> in_register (seize-ack; DNIS/ANI/KA/KD collected) --KD--> in_offered
        (CallOffered(caller=ANI, called=DNIS, category)); ``accept()`` (or T_ACCEPT, at once, if call
        control does not refuse) -> the variant's "free" Group B signal (China: B-1/B-7); ``release(cause)``
        -> its refusal for the cause (China: B-2/B-4/B-5/B-8)
    B accepted, tone off --> in_alerting (ringback to the caller) --answer()--> in_answered
    in_answered --release()--> clear-back --far clear-forward--> idle
    any in_* --far clear-forward--> idle (CallReleased(NORMAL_CLEARING) if offered)

Outgoing::

    idle --dial()--> out_seizing --seize-ack--> out_register --B accepted--> out_alerting
        (CallProgress(RINGING)) --answer bits--> out_answered (CallAnswered)
    Group B refusal / A-4 -> CallReleased(cause from the variant's B table), clear-forward
    out_answered --clear-back--> CallReleased(NORMAL_CLEARING), clear-forward --far idle--> idle
    T_SEIZE_ACK, T_ANSWER -> CallReleased, clear-forward

After a restart of the box (``restart()``)::

    restarting (nothing sent) --the far end's bits reported--> idle (we send idle) | in_register (a
        seizure: seize-ack) | blocked | releasing (the far end had answered our call: idle = clear-forward)
    T_RESYNC without a report -> idle (the far end taken as idle)

Protocol errors (bits the line table does not allow, MF errors, timeouts) end the call with
CallReleased(PROTOCOL_ERROR / RECOVERY_ON_TIMER_EXPIRY) and a clean release. A circuit is free for an
outgoing call (``is_idle``) only when both directions are idle and it carries no alarm::

    releasing --T_RELEASE, the far end still not idle--> far_end_held (we send idle;
        CircuitAlarm FAR_END_HELD) --the far end's idle--> idle (alarm cleared)
    out_seizing --T_SEIZE_ACK--> CallReleased(RECOVERY_ON_TIMER_EXPIRY: call control tries another
        circuit), clear-forward, CircuitAlarm NO_SEIZE_ACK: the circuit takes no outgoing call until
        the far end's next line signal (its idle after a held seizure, or a seizure of its own) ``block``/``unblock`` and
``out_of_service``/``in_service`` (span alarms) take the timeslot out of use and back.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Any

from hal.dsp.tones import ToneName
from hal.events import CasChange, SetCas
from signaling.circuit import CircuitAlarm
from signaling.events import (
    CallAnswered,
    CallOffered,
    CallProgress,
    CallReleased,
    Cause,
    DigitReceived,
    Progress,
)
from signaling.machine import PortMachine
from signaling.media import Detect, PlayTone, SendMf
from signaling.no1.line import CasLine, LineError, LineState
from signaling.no1.register import (
    Complete,
    IncomingRegister,
    Offered,
    OutgoingRegister,
    RegisterError,
)
from signaling.no1.variant import DEFAULT_VARIANT, VARIANTS, Variant

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrunkConfig:
    variant: Variant = field(default=VARIANTS[DEFAULT_VARIANT])
    direction: str = "both"  # in | out | both
    dnis_length: int = 0  # incoming: digits in a complete DNIS; 0 = complete after T_END_OF_DNIS
    ani: str = "first"  # incoming: ask for ANI "first" (after ani_after_digits DNIS digits), "after", "none"
    ani_after_digits: int = 1
    max_ani: int = 20
    accept: str = "charge"  # incoming: the variant's free with charge (China B-1) or without (B-7)
    glare: str = "yield"  # both seize at once: "yield" (take the incoming call) or "hold" (wait for them)
    mf_level_dbm0: float = -11.0
    caller: str | None = None  # outgoing ANI when call control gives none (None: ANI restricted)


class TrunkState(enum.StrEnum):
    RESTARTING = "restarting"  # after a restart: waiting for the far end's bits before sending any
    IDLE = "idle"
    BLOCKED = "blocked"  # blocked by us or by the far end
    OUT_OF_SERVICE = "out_of_service"  # span alarm
    IN_REGISTER = "in_register"
    IN_OFFERED = "in_offered"
    IN_ALERTING = "in_alerting"
    IN_REFUSED = "in_refused"  # Group B refusal sent / released before answer: wait for clear-forward
    IN_ANSWERED = "in_answered"
    IN_CLEARING = "in_clearing"  # clear-back sent
    OUT_SEIZING = "out_seizing"
    OUT_REGISTER = "out_register"
    OUT_ALERTING = "out_alerting"
    OUT_ANSWERED = "out_answered"
    RELEASING = "releasing"  # clear-forward / idle sent, waiting for the far end's idle
    FAR_END_HELD = "far_end_held"  # T_RELEASE ran out: we send idle, the far end still holds the circuit


T = TrunkState
IN_CALL = (T.IN_OFFERED, T.IN_ALERTING, T.IN_ANSWERED)  # the call was offered to call control
OUT_CALL = (T.OUT_SEIZING, T.OUT_REGISTER, T.OUT_ALERTING, T.OUT_ANSWERED)


class No1Trunk(PortMachine):
    """The signalling state of one No.1 timeslot (see the module docstring)."""

    def __init__(self, port: str, config: TrunkConfig | None = None) -> None:
        super().__init__(port)
        self.line = CasLine((config or TrunkConfig()).variant)
        self.config = config if config is not None else TrunkConfig()
        self.state = T.IDLE
        self.register: IncomingRegister | OutgoingRegister | None = None
        self._mf_tx = 0
        self._detector: str | None = None
        self._tone: ToneName | None = None
        self._answer_pending = False
        self._blocked_local = False
        self.last_cause: Cause | None = None
        self.alarm: str | None = None  # the circuit's alarm (CircuitAlarm), if one stands

    # --- the engine's view ---------------------------------------------------------------------

    @property
    def config(self) -> TrunkConfig:
        return self._config

    @config.setter
    def config(self, config: TrunkConfig) -> None:
        """New settings apply from the next call (a register in progress keeps its own variant)."""
        self._config = config
        self.line.variant = config.variant

    @property
    def v(self) -> Variant:
        return self._config.variant

    @property
    def is_idle(self) -> bool:
        """Free for a new outgoing call: idle in both directions, no alarm, not an incoming-only trunk."""
        return (self.state is T.IDLE and self.line.both_idle and self.alarm is None
                and self.config.direction != "in")

    @property
    def is_out_of_service(self) -> bool:
        return self.state is T.OUT_OF_SERVICE

    # --- inputs --------------------------------------------------------------------------------

    def handle_board_event(self, ev: Any, now: float) -> None:
        if not isinstance(ev, CasChange) or self.state is T.OUT_OF_SERVICE:
            return
        if self.line.bits_changed(ev.bits):
            debounce = self.v.timer("T_CAS_DEBOUNCE")
            if debounce > 0:
                self._timers["T_CAS_DEBOUNCE"] = now + debounce
            else:
                self._line_event(self.line.settle(), now)
        else:
            self._timers.pop("T_CAS_DEBOUNCE", None)

    def handle_digit(self, digit: str, now: float) -> None:
        """A DTMF digit from the far end during the call (after the register phase)."""
        if self.state in (T.IN_ANSWERED, T.OUT_ANSWERED):
            self._emit(DigitReceived(self.port, digit))

    def handle_mf(self, signal: int, now: float) -> None:
        if self.register is None:
            return
        self._register_events(self.register.tone(signal, now), now)

    # --- call control (``WrongState`` where the state does not allow a request) ---------------------------

    def dial(self, number: str, now: float, caller: str | None = None) -> None:
        """Seize the timeslot and place a call to ``number`` (ANI ``caller``); only on a free circuit
        (``is_idle``: call control picks one)."""
        if self.state is not T.IDLE or self.config.direction == "in":
            raise self._wrong_state(f"dial({number!r})" if self.state is not T.IDLE
                                    else f"dial({number!r}) on an incoming-only trunk")
        self._set_cas(self.line.local("seize"))
        self.state = T.OUT_SEIZING
        self.register = OutgoingRegister(self.v, self._timers, number,
                                         caller if caller is not None else self.config.caller)
        self._arm("T_SEIZE_ACK", now)

    def accept(self, now: float, charge: bool | None = None) -> None:
        """Accept the offered call (Group B free, with or without charge as configured); nothing once call
        control refused or released it."""
        if self.state is not T.IN_OFFERED or not isinstance(self.register, IncomingRegister):
            return
        self._timers.pop("T_ACCEPT", None)
        if charge is None:
            charge = self.config.accept == "charge"
        b = self.v.b_signal("free_charge" if charge else "free_no_charge")
        self._register_events(self.register.decide(b, now), now)

    def answer(self, now: float) -> None:
        """Call control answered the incoming call: answer bits, the caller's ringback stops."""
        if self.state is T.IN_OFFERED:
            self.accept(now)
        if self.state in (T.IN_OFFERED, T.IN_REGISTER):
            self._answer_pending = True  # answer once the Group B cycle is through
            return
        if self.state is not T.IN_ALERTING:
            if self._release_crossed():
                return
            raise self._wrong_state("answer()")
        self._play(None)
        self._set_cas(self.line.local("answer"))
        self.state = T.IN_ANSWERED
        self._detect("dtmf")  # the caller's digits (IVR choices) from now on

    def release(self, cause: Cause, now: float) -> None:
        """Call control ends the call on this timeslot (refuses it, if not yet accepted)."""
        st = self.state
        if st is T.IN_REGISTER and isinstance(self.register, IncomingRegister):
            self.register.refuse()
        elif st is T.IN_OFFERED and isinstance(self.register, IncomingRegister):
            self._timers.pop("T_ACCEPT", None)
            self._register_events(self.register.decide(self.v.b_for_cause(cause), now), now)
        elif st is T.IN_ALERTING:  # accepted but not answered: busy tone until the caller clears
            self._play(ToneName.BUSY)
            self.state = T.IN_REFUSED
            self._arm("T_CLEAR_FORWARD", now)
        elif st is T.IN_ANSWERED:
            self._set_cas(self.line.local("clear_back"))
            self.state = T.IN_CLEARING
            self._arm("T_CLEAR_FORWARD", now)
        elif st in OUT_CALL:
            self._clear_forward(now)
        elif not self._release_crossed():
            raise self._wrong_state(f"release({cause.name})")

    def play(self, tone: ToneName | None) -> None:
        """Call control's tone for the caller on this timeslot (the trunk's own tones track it)."""
        self._play(tone)

    def block(self, now: float) -> bool:
        """Block the idle timeslot (no calls either way); True if it is now blocked by us."""
        if self.state is T.IDLE and self.line.state is LineState.IDLE:
            self._set_cas(self.line.local("block"))
            self.state = T.BLOCKED
            self._blocked_local = True
        return self._blocked_local

    def unblock(self, now: float) -> None:
        if not self._blocked_local:
            return
        self._blocked_local = False
        if self.line.state is not LineState.BLOCKED_LOCAL:
            return
        self._set_cas(self.line.local("unblock"))
        if self.line.far_is("blocked"):
            self.line.state = LineState.BLOCKED_REMOTE
            self.state = T.BLOCKED
        elif self.line.far_is("idle"):
            self.state = T.IDLE
        else:  # the far end seized (or worse) while we blocked: wait for its idle
            self._release_to_idle(now)

    def restart(self, now: float) -> None:
        """The box (re)started: whatever the timeslot carried is gone. Nothing is sent until the far end's
        bits are known, so a far end still holding a call sees clear-back before our idle, never idle
        first (which would race its clear-forward: its release would wait for an idle that came early)."""
        self._reset_media()
        self._timers.clear()
        self._answer_pending = False
        self._blocked_local = False
        self.register = None
        self._clear_alarm()
        self.line.restart()
        self.state = T.RESTARTING
        self._arm("T_RESYNC", now)

    def out_of_service(self, now: float) -> None:
        """A span alarm: the call, if any, is lost; nothing is signalled until ``in_service``."""
        self._end_call(Cause.NETWORK_OUT_OF_ORDER)
        self._reset_media()
        self._timers.clear()
        self.state = T.OUT_OF_SERVICE

    def in_service(self, now: float) -> None:
        """The alarm cleared: back to idle (the far end's bits come again as CasChange)."""
        if self.state is not T.OUT_OF_SERVICE:
            return
        self._set_cas(self.line.force_idle())
        self.line.assume_far("idle")
        self._blocked_local = False
        self._clear_alarm()
        self.state = T.IDLE

    # --- line events -----------------------------------------------------------------------------

    def _expired_T_CAS_DEBOUNCE(self, _due: float, now: float) -> None:
        self._line_event(self.line.settle(), now)

    def _line_event(self, event: str | None, now: float) -> None:
        if event is None:
            return
        if event != "error":
            self._clear_alarm()  # the far end's line signals work: it holds nothing stuck any more
        handler = getattr(self, "_on_" + event)
        handler(now)

    def _on_seized(self, now: float) -> None:
        self._timers.pop("T_RESYNC", None)
        self._start_incoming(now)

    def _on_restart_idle(self, now: float) -> None:
        self._timers.pop("T_RESYNC", None)
        self._set_cas(self.line.tx)
        self.state = T.IDLE

    def _on_restart_blocked(self, now: float) -> None:
        self._timers.pop("T_RESYNC", None)
        self._set_cas(self.line.tx)
        self.state = T.BLOCKED

    def _on_restart_answered(self, now: float) -> None:
        """The far end answers a call we placed before the restart: our idle clears it forward."""
        self._timers.pop("T_RESYNC", None)
        self._set_cas(self.line.tx)
        self.state = T.RELEASING
        self._arm("T_RELEASE", now)

    def _expired_T_RESYNC(self, _due: float, now: float) -> None:
        log.warning("port %s: no far-end bits reported after the restart; taken as idle", self.port)
        self.line.assume_far("idle")
        self.line.state = LineState.IDLE
        self._on_restart_idle(now)

    def _start_incoming(self, now: float) -> None:
        self._set_cas(self.line.local("ack_seize"))
        self.state = T.IN_REGISTER
        c = self.config
        reg = IncomingRegister(self.v, self._timers, dnis_length=c.dnis_length, ani=c.ani,
                               ani_after_digits=c.ani_after_digits, max_ani=c.max_ani)
        self.register = reg
        if c.direction == "out":
            reg.refuse()  # an outgoing-only trunk: congestion
        self._detect("r2mf_fwd")
        self._register_events(reg.start(now), now)

    def _on_glare(self, now: float) -> None:
        if self.config.glare == "hold":
            return  # the far end is to yield; T_SEIZE_ACK still runs
        log.info("port %s: glare, yielding to the incoming call", self.port)
        self._stop_timers()
        self.register = None
        self._emit(CallReleased(self.port, Cause.NO_CIRCUIT_AVAILABLE))
        self.line.state = LineState.IN_SEIZED
        self._start_incoming(now)

    def _on_seize_ack(self, now: float) -> None:
        self._timers.pop("T_SEIZE_ACK", None)
        self.state = T.OUT_REGISTER
        self._detect("r2mf_bwd")
        assert isinstance(self.register, OutgoingRegister)
        self._register_events(self.register.start(now), now)

    def _on_answer(self, now: float) -> None:
        if self.state not in (T.OUT_ALERTING, T.OUT_REGISTER):
            self._protocol_error("answer bits before the call was set up", now)
            return
        if self.register is not None:  # answered with the Group B cycle still finishing
            self.register.stop()
            self._sync_mf()
        self._timers.pop("T_ANSWER", None)
        self._detect("dtmf")
        self.state = T.OUT_ANSWERED
        self._emit(CallAnswered(self.port))

    def _on_clear_back(self, now: float) -> None:
        self._end_call(Cause.NORMAL_CLEARING)
        self._clear_forward(now)

    def _on_forced_release(self, now: float) -> None:
        self._end_call(Cause.NORMAL_CLEARING)
        self._clear_forward(now)

    def _on_clear_forward(self, now: float) -> None:
        self._end_call(Cause.NORMAL_CLEARING)
        self._reset_media()
        self._stop_timers()
        self._set_cas(self.line.force_idle())
        self.state = T.IDLE

    def _on_released(self, now: float) -> None:
        self._stop_timers()
        self.state = T.IDLE

    def _on_blocked(self, now: float) -> None:
        self.state = T.BLOCKED

    def _on_unblocked(self, now: float) -> None:
        if not self._blocked_local:
            self.state = T.IDLE

    def _on_error(self, now: float) -> None:
        self._protocol_error(f"far end bits {self.line.far_ab:02b} in line state {self.line.state}", now)

    # --- register events -----------------------------------------------------------------------

    def _register_events(self, events: list, now: float) -> None:
        self._sync_mf()
        for ev in events:
            match ev:
                case RegisterError(reason=reason):
                    self._protocol_error(reason, now)
                case Offered():
                    self._offered(now)
                case Complete(cause=cause):
                    self._register_complete(cause, now)

    def _offered(self, now: float) -> None:
        reg = self.register
        assert isinstance(reg, IncomingRegister)
        self.state = T.IN_OFFERED
        category = reg.ka if reg.ka is not None else reg.kd
        self._emit(CallOffered(self.port, caller=reg.ani or None, called=reg.dnis, category=category))
        if self.state is T.IN_OFFERED:
            self._arm("T_ACCEPT", now)  # accepted then, unless call control refuses or accepts first

    def _expired_T_ACCEPT(self, _due: float, now: float) -> None:
        self.accept(now)

    def _register_complete(self, cause: Cause | None, now: float) -> None:
        reg = self.register
        self._detect(None)
        if isinstance(reg, IncomingRegister):
            accepted = reg.b_sent is not None and self.v.group_b.get(reg.b_sent, "").startswith("free")
            if accepted:
                self.state = T.IN_ALERTING
                self._play(ToneName.RINGBACK)
                if self._answer_pending:
                    self._answer_pending = False
                    self.answer(now)
            else:
                self.state = T.IN_REFUSED  # the forward side clears
                self._arm("T_CLEAR_FORWARD", now)
            return
        if cause is None:
            self.state = T.OUT_ALERTING
            self._arm("T_ANSWER", now)
            self._emit(CallProgress(self.port, Progress.RINGING))
        else:
            self._end_call(cause)
            self._clear_forward(now)

    # --- timers ----------------------------------------------------------------------------------

    def _arm(self, name: str, now: float) -> None:
        self._timers[name] = now + self.v.timer(name)

    def _stop_timers(self) -> None:
        """Stop the call's timers; far-end bits still being debounced keep theirs (they are the line's)."""
        debounce = self._timers.get("T_CAS_DEBOUNCE")
        self._timers.clear()
        if debounce is not None:
            self._timers["T_CAS_DEBOUNCE"] = debounce

    def _register_timer(self, name: str, now: float) -> None:
        if self.register is not None:
            self._register_events(self.register.expired(name, now), now)

    # the register's timers live in the same dict; the register says what they mean
    def _expired_T_MF_CYCLE(self, _due: float, now: float) -> None:
        self._register_timer("T_MF_CYCLE", now)

    def _expired_T_END_OF_DNIS(self, _due: float, now: float) -> None:
        self._register_timer("T_END_OF_DNIS", now)

    def _expired_T_A3_PULSE(self, _due: float, now: float) -> None:
        self._register_timer("T_A3_PULSE", now)

    def _expired_T_FWD_SILENT(self, _due: float, now: float) -> None:
        self._register_timer("T_FWD_SILENT", now)

    def _expired_T_SEIZE_ACK(self, _due: float, now: float) -> None:
        log.warning("port %s: no seize-ack: the circuit is alarmed, the call is to try another", self.port)
        self._raise_alarm("NO_SEIZE_ACK")
        self._end_call(Cause.RECOVERY_ON_TIMER_EXPIRY)
        self._clear_forward(now)

    def _expired_T_ANSWER(self, _due: float, now: float) -> None:
        self._end_call(Cause.NO_ANSWER)
        self._clear_forward(now)

    def _expired_T_CLEAR_FORWARD(self, _due: float, now: float) -> None:
        log.warning("port %s: no clear-forward after clear-back: forced release", self.port)
        self._end_call(Cause.RECOVERY_ON_TIMER_EXPIRY)
        if self.line.state is LineState.IN_CLEARED_BACK:
            self._set_cas(self.line.local("forced_release"))  # then clear-forward (idle), or T_RELEASE
            self.state = T.RELEASING
            self._arm("T_RELEASE", now)
        else:
            self._release_to_idle(now)

    def _expired_T_RELEASE(self, _due: float, now: float) -> None:
        self._stop_timers()
        self._set_cas(self.line.release_to_idle())  # we stay idle; the line waits for the far end's idle
        if self.line.state is LineState.IDLE:
            self.state = T.IDLE
            return
        log.warning("port %s: the far end still holds the circuit (A/B %s) after T_RELEASE: out of use until "
                    "it returns to idle", self.port, format(self.line.far_ab or 0, "02b"))
        self.state = T.FAR_END_HELD
        self._raise_alarm("FAR_END_HELD")

    # --- circuit alarms --------------------------------------------------------------------------

    def _raise_alarm(self, alarm: str) -> None:
        if self.alarm == alarm:
            return
        self._clear_alarm()
        self.alarm = alarm
        self._emit(CircuitAlarm(self.port, alarm, True))

    def _clear_alarm(self) -> None:
        if self.alarm is not None:
            self._emit(CircuitAlarm(self.port, self.alarm, False))
            self.alarm = None

    # --- helpers ---------------------------------------------------------------------------------

    def _protocol_error(self, reason: str, now: float) -> None:
        log.warning("port %s: No.1 protocol error in state %s: %s", self.port, self.state, reason)
        self._end_call(Cause.PROTOCOL_ERROR)
        if self.line.state in (LineState.OUT_SEIZING, LineState.OUT_SEIZED, LineState.OUT_ANSWERED):
            self._clear_forward(now)
        else:
            self._release_to_idle(now)

    def _clear_forward(self, now: float) -> None:
        self._reset_media()
        self._stop_timers()
        try:
            self._set_cas(self.line.local("clear_forward"))
        except LineError:
            self._release_to_idle(now)
            return
        if self.line.far_is("idle"):  # the far end is idle already: nothing to wait for
            self.line.state = LineState.IDLE
            self.state = T.IDLE
        else:
            self.state = T.RELEASING
            self._arm("T_RELEASE", now)

    def _release_to_idle(self, now: float) -> None:
        self._reset_media()
        self._stop_timers()
        self._set_cas(self.line.release_to_idle())
        if self.line.state is LineState.IDLE:
            self.state = T.IDLE
        else:
            self.state = T.RELEASING
            self._arm("T_RELEASE", now)

    def _end_call(self, cause: Cause) -> None:
        """Tell call control the call is gone (if it knew of one)."""
        if self.state in IN_CALL or self.state in OUT_CALL:
            self.last_cause = cause
            self._emit(CallReleased(self.port, cause))
        self._answer_pending = False

    def _reset_media(self) -> None:
        if self.register is not None:
            self.register.stop()
        self._sync_mf()
        self.register = None
        self._detect(None)
        self._play(None)

    def _sync_mf(self) -> None:
        tx = self.register.tx if self.register is not None else 0
        if tx != self._mf_tx:
            self._mf_tx = tx
            self._emit(SendMf(self.port, tx, isinstance(self.register, OutgoingRegister),
                              self.config.mf_level_dbm0))

    def _detect(self, detector: str | None) -> None:
        if detector == self._detector:
            return
        if self._detector is not None:
            self._emit(Detect(self.port, self._detector, False))
        self._detector = detector
        if detector is not None:
            self._emit(Detect(self.port, detector, True))

    def _play(self, tone: ToneName | None) -> None:
        if tone != self._tone:
            self._tone = tone
            self._emit(PlayTone(self.port, tone))

    def _set_cas(self, bits: int) -> None:
        self._emit(SetCas(self.port, bits))
