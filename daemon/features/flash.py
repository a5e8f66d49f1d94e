"""Hook-flash features of analog extensions: hold, consultation, attended and blind transfer, 3-way
conference, recall, call waiting (answer and swap) and transfer of the held party to an IVR flow.

One ``Session`` per extension port that has a party on hold. The held call keeps its CDR; the
consultation is a call of its own (its own CDR), made by the ordinary dialling path of call control
from the agent's port (so extensions, outside numbers, feature codes and forwarding all work there).
While a session exists, the agent's port is bound to the *active* call (the consultation, or the
second call of call waiting) and the held party's port to the held call.

Phases and transitions (X = the agent, H = the held party, T = the third party)::

    (plain call) --flash--> DIALING            H on hold (silence), X hears dial tone
    DIALING  --digits route a call--> CONSULT  T rings / answers; X talks to T
    DIALING  --flash--> (plain call)           back to H
    DIALING/FAILED --X hangs up--> RECALL      X's phone rings; answering it gives H back
    CONSULT  --T fails (busy, no answer, ...)--> FAILED  (X hears busy or congestion)
    FAILED   --flash--> (plain call)           back to H
    CONSULT  --flash, T not answered--> (plain call)  T released, back to H
    CONSULT  --flash, T answered--> CHOOSING   T waits in silence; X hears dial tone for 3 s:
    CHOOSING --"3"--> CONFERENCE               H, X, T mixed
    CHOOSING --"1" or 3 s--> (plain call)      T released, back to H
    CONSULT/CHOOSING --X hangs up, T answered--> H-T bridged     (attended transfer)
    CONSULT  --X hangs up, T still ringing--> H hears ringback, T rings on   (blind transfer)
    CONFERENCE --X hangs up--> H-T bridged; --flash--> T released, back to H
    CONFERENCE --H or T hangs up--> the other two bridged
    CONSULT (swap: call waiting) --flash--> CONSULT with the two calls swapped
    any phase --H hangs up--> session over, the active call carries on as a plain call
    DIALING  --*10<number>#--> blind transfer of H;   --*40<flow>#--> H to an IVR flow

Only CHOOSING, CONFERENCE and RECALL are stored (``Session.stage``); DIALING, CONSULT and FAILED
follow from the call the agent's port is bound to (``FlashFeatures.phase``).

Everything here runs on the event loop between ticks; audio only changes through ``Lines`` and the
media layer's rooms.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from daemon.calls.class_of_service import Payer
from daemon.calls.dialplan import Extension, Outside
from daemon.calls.hooks import CallListener, Priority
from daemon.calls.model import Call, Leg, LegState, Lines
from daemon.calls.timers import Timer
from daemon.runtime.conference import Mode
from daemon.runtime.engine import Engine
from hal.dsp.callerid import CallerId
from hal.dsp.tones import ToneName
from signaling.events import CallAnswered, CallEvent, CallReleased, Cause, DigitReceived, HookFlash

log = logging.getLogger(__name__)

CHOOSING_S = 3.0  # after a flash during an answered consultation: time to press 3 (conference)


class Phase(enum.StrEnum):
    DIALING = "dialing"
    CONSULT = "consult"
    FAILED = "failed"
    CHOOSING = "choosing"
    CONFERENCE = "conference"
    RECALL = "recall"


@dataclass
class Session:
    port: str  # the agent's extension port
    held: Call  # the call on hold
    stage: Phase | None = None  # CHOOSING, CONFERENCE or RECALL; else the phase follows from the active call
    swap: bool = False  # call waiting: a flash swaps the held and the active call
    room: int | None = None
    timer: Timer | None = None


class FlashFeatures(CallListener):
    """The hook-flash sessions of all extensions (see the module docstring); call control's listener at
    ``Priority.HOOK_FLASH``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.cc = engine.calls
        self.sessions: dict[str, Session] = {}
        self.cc.add_listener(self, Priority.HOOK_FLASH)

    # --- helpers -----------------------------------------------------------------------------------

    @property
    def lines(self) -> Lines:
        return self.cc.lines

    def active(self, s: Session) -> Call | None:
        """The call the agent is in now (None while the phone hears a failure tone or rings back)."""
        if s.stage is Phase.RECALL:
            return None
        call = self.cc.by_port.get(s.port)
        return call if call is not None and call is not s.held else None

    def phase(self, s: Session) -> Phase:
        """The session's phase: its stage if it has one, else what the agent's port is in: no call (the
        consultation failed: FAILED), a call collecting digits (DIALING) or one past that (CONSULT:
        ringing, answered, picked up ...)."""
        if s.stage is not None:
            return s.stage
        act = self.active(s)
        if act is None:
            return Phase.FAILED
        mine = act.leg_on(s.port)
        return Phase.DIALING if mine is not None and mine.state is LegState.DIALING else Phase.CONSULT

    def session_of_held(self, port: str) -> Session | None:
        for s in self.sessions.values():
            h = s.held.other_leg(s.port)
            if h is not None and h.port == port:
                return s
        return None

    def session_of(self, call: Call) -> Session | None:
        """The session whose active call (the consultation) is ``call``, if any."""
        s = self.sessions.get(call.a.port)
        return s if s is not None and self.cc.by_port.get(s.port) is call else None

    def consulting_for(self, call: Call) -> Call | None:
        """The call on hold while ``call`` is its agent's consultation (an attended transfer in the
        making), if it is one."""
        s = self.session_of(call)
        return s.held if s is not None else None

    def _cancel_timer(self, s: Session) -> None:
        if s.timer is not None:
            s.timer.cancel()
            s.timer = None

    def _close_room(self, s: Session) -> None:
        if s.room is not None:
            self.engine.media.rooms.close(s.room)
            s.room = None

    def _held_party(self, s: Session) -> Leg:
        h = s.held.other_leg(s.port)
        assert h is not None
        return h

    # --- call control's hooks ----------------------------------------------------------------------

    def intercept(self, ev: CallEvent) -> bool:
        match ev:
            case HookFlash(port=port):
                return self.flash(port)
            case DigitReceived(port=port, digit=digit):
                return self.session_digit(port, digit)
            case CallAnswered(port=port):
                return self.recall_answered(port)
            case CallReleased(port=port, cause=cause):
                return self.port_released(port, cause)
        return False

    def holding(self, port: str) -> bool:
        return port in self.sessions

    # --- events ------------------------------------------------------------------------------------

    def flash(self, port: str) -> bool:
        s = self.sessions.get(port)
        if s is None:
            call = self.cc.by_port.get(port)
            if not self.cc.is_plain_call(call, port):
                return False
            assert call is not None
            self.cc.call_changing(call)
            self._hold(call, port)
            return True
        match self.phase(s):
            case Phase.CONSULT:
                act = self.active(s)
                assert act is not None
                if act.answer is None:
                    self._back(s)
                elif s.swap:
                    self._swap(s)
                else:
                    self._choose(s)
            case Phase.RECALL:
                pass
            case _:  # at dial tone, after a failure, choosing, in a 3-way call (the third party is released)
                self._back(s)
        return True

    def session_digit(self, port: str, digit: str) -> bool:
        s = self.sessions.get(port)
        if s is None or s.stage is not Phase.CHOOSING:
            return False  # dialling a consultation, or in one: call control's
        if digit == "3":
            self._conference(s)
        elif digit == "1":
            self._back(s)
        return True

    def recall_answered(self, port: str) -> bool:
        s = self.sessions.get(port)
        if s is not None and s.stage is Phase.RECALL:
            self._back(s)
            return True
        return False

    def port_released(self, port: str, cause: Cause) -> bool:
        s = self.sessions.get(port)
        if s is not None:
            self._agent_hung_up(s)
            return True
        s = self.session_of_held(port)
        if s is not None:
            self._held_hung_up(s, port, cause)
            return True
        for s in list(self.sessions.values()):
            act = self.active(s)
            if act is None:
                continue
            t = act.other_leg(s.port)
            if t is not None and t.port == port:
                self._third_hung_up(s, act, t, cause)
                return True
        return False

    def keeps_line(self, call: Call) -> bool:
        """Call control is failing ``call`` (busy, no answer, bad number, a feature code's reply ...): a
        consultation keeps the agent's line (it hears the tone, the party on hold waits: FAILED)."""
        return self.session_of(call) is not None

    # --- transitions -------------------------------------------------------------------------------

    def _hold(self, call: Call, port: str) -> None:
        h = call.other_leg(port)
        assert h is not None
        cc = self.cc
        cc.notify_unbridged(call)
        self.lines.disconnect(port)
        self.lines.play(h.port, None)  # the held party hears silence
        cc.unbind(port)  # the agent's port: its consultation's from now on
        consult = cc.start_dialing(port)
        assert consult is not None
        self.lines.play(port, ToneName.DIAL)
        self.sessions[port] = Session(port, call)
        log.info("extension %s: call %s on hold", consult.a.label, call.id)
        cc.publish("call.held", call=call.id, port=port, extension=consult.a.label)

    def _leave(self, s: Session, act: Call, cause: Cause = Cause.NORMAL_CLEARING) -> None:
        """The agent leaves ``act``: its leg released (the phone stays off hook), ``act`` ended (its CDR, if
        it began; its other legs are the caller's business), the agent's port bound to nothing."""
        mine = act.leg_on(s.port)
        if mine is not None:
            mine.state = LegState.RELEASED
        self.cc.disarm_timer(act)
        if act.id in self.cc.calls:
            self.cc.end(act, cause)
        self.cc.unbind(s.port)

    def _dispose_active(self, s: Session, cause: Cause = Cause.NORMAL_CLEARING) -> None:
        """End the active call: its other party is released, its CDR written (if it began)."""
        act = self.active(s)
        if act is None:
            return
        for leg in (act.other_leg(s.port), act.transfer_to):
            if leg is not None and leg.state is not LegState.RELEASED:
                self.cc.release_leg(act, leg, cause)
        self._leave(s, act, cause)

    def _back(self, s: Session) -> None:
        """Back to the held party; whatever else the agent had is released."""
        self._close_room(s)
        self._dispose_active(s)
        self._retrieve(s)

    def _retrieve(self, s: Session) -> None:
        cc = self.cc
        self._cancel_timer(s)
        held, h = s.held, self._held_party(s)
        self.sessions.pop(s.port, None)
        cc.disarm_timer(held)
        cc.bind(held, s.port)
        mine = held.leg_on(s.port)
        if mine is not None:
            mine.state = LegState.ANSWERED
        self.lines.play(s.port, None)
        self.lines.play(h.port, None)
        self.lines.connect(s.port, h.port)
        cc.notify_bridged(held)
        cc.publish("call.retrieved", call=held.id, port=s.port)

    def _choose(self, s: Session) -> None:
        self.lines.disconnect(s.port)  # the third party waits in silence
        self.lines.play(s.port, ToneName.DIAL)
        s.stage = Phase.CHOOSING
        s.timer = self.cc.timers.call_at(self.cc.lines.now() + CHOOSING_S, lambda: self._choose_timeout(s))

    def _choose_timeout(self, s: Session) -> None:
        s.timer = None
        if self.sessions.get(s.port) is s and s.stage is Phase.CHOOSING:
            self._back(s)

    def _conference(self, s: Session) -> None:
        act = self.active(s)
        t = act.other_leg(s.port) if act is not None else None
        if act is None or t is None:
            self._back(s)
            return
        self._cancel_timer(s)
        h = self._held_party(s)
        self.lines.play(s.port, None)
        self.lines.play(h.port, None)
        self.lines.play(t.port, None)
        ch = self.engine.channel
        s.room = self.engine.media.rooms.create({ch(p): (Mode.TALK, None) for p in (h.port, s.port, t.port)})
        s.stage = Phase.CONFERENCE
        self.cc.notify_bridged(s.held)
        self.cc.publish("call.conference", calls=[s.held.id, act.id], ports=[h.port, s.port, t.port])

    def _swap(self, s: Session) -> None:
        cc = self.cc
        act = self.active(s)
        assert act is not None
        t = act.other_leg(s.port)
        cc.notify_unbridged(act)
        self.lines.disconnect(s.port)
        if t is not None:
            self.lines.play(t.port, None)
        held = s.held
        s.held = act
        h = held.other_leg(s.port)
        cc.bind(held, s.port)
        if h is not None:
            self.lines.connect(s.port, h.port)
        cc.notify_bridged(held)
        cc.publish("call.held", call=act.id, port=s.port)
        cc.publish("call.retrieved", call=held.id, port=s.port)

    def _agent_hung_up(self, s: Session) -> None:
        act = self.active(s)
        match self.phase(s):
            case Phase.CONSULT | Phase.CHOOSING | Phase.CONFERENCE if not s.swap:
                assert act is not None
                t = act.other_leg(s.port)
                if act.answer is not None and t is not None and t.state is LegState.ANSWERED:
                    self._attended_transfer(s, act, t)
                elif act.b is not None and act.b.state in (LegState.OFFERED, LegState.ALERTING):
                    self._blind_transfer_ringing(s, act, act.b)
                else:
                    self._dispose_active(s)
                    self._recall(s)
            case Phase.RECALL:
                pass
            case _:  # at dial tone, after a failure, or with a waiting call answered (swap)
                self._dispose_active(s)
                self._recall(s)

    def _attended_transfer(self, s: Session, act: Call, t: Leg) -> None:
        cc = self.cc
        self._cancel_timer(s)
        self._close_room(s)
        held, h = s.held, self._held_party(s)
        self.sessions.pop(s.port, None)
        self._leave(s, act)  # the consultation's CDR; T stays up
        agent = held.leg_on(s.port)
        new = Leg(t.port, t.kind, t.label, LegState.ANSWERED)
        if held.a is agent:
            held.a = new
        else:
            held.b = new
        cc.bind(held, t.port)
        cc.agent_left(held)
        self.lines.disconnect(s.port)
        self.lines.play(h.port, None)
        self.lines.play(t.port, None)
        self.lines.connect(h.port, t.port)
        cc.notify_bridged(held)
        cc.transfer_taken(held, t.port)
        cc.publish("call.transferred", call=held.id, port=t.port, to=t.label, attended=True, caller=held.caller)
        cc.journal("update", held)

    def _blind_transfer_ringing(self, s: Session, act: Call, t: Leg) -> None:
        """The agent hung up while the third party still rang: the held party takes its place."""
        self._cancel_timer(s)
        held, h = s.held, self._held_party(s)
        self.sessions.pop(s.port, None)
        self._leave(s, act)  # unbinds T; T keeps ringing
        self.lines.disconnect(s.port)
        self._ring_for_held(held, h, Leg(t.port, t.kind, t.label, t.state), s.port, ring=False)

    def _ring_for_held(self, held: Call, h: Leg, t: Leg, agent_port: str, ring: bool = True) -> None:
        """``t`` (an extension: rung now, or ``ring`` False: ringing already; a trunk: dialled by the
        caller of this) becomes ``held``'s transfer leg in place of the agent; ``h`` hears the ringing."""
        agent = held.leg_on(agent_port)
        if agent is not None:
            agent.state = LegState.RELEASED
        self.cc.agent_left(held)
        self.cc.publish("call.transferred", call=held.id, port=t.port, to=t.label, attended=False,
                        caller=held.caller)
        self.cc.ring_transfer(held, t, h.port, ring=ring, by=agent_port)

    def _recall(self, s: Session) -> None:
        """The agent hung up with a party on hold: its phone rings until it takes the call back."""
        cc = self.cc
        self._cancel_timer(s)
        self._close_room(s)
        s.stage = Phase.RECALL
        held, h = s.held, self._held_party(s)
        cc.bind(held, s.port)
        number = held.caller if h is held.a else held.called
        self.lines.ring(s.port, CallerId(number=number, name=held.caller_name if h is held.a else None))
        s.timer = cc.timers.call_at(cc.lines.now() + cc.config.dialplan.no_answer_timeout_s,
                                    lambda: self._recall_timeout(s))
        cc.publish("call.recall", call=held.id, port=s.port)

    def _recall_timeout(self, s: Session) -> None:
        s.timer = None
        if self.sessions.get(s.port) is s and s.stage is Phase.RECALL:
            self.sessions.pop(s.port, None)
            self.cc.hangup(s.held.id, Cause.NO_ANSWER)

    def _held_hung_up(self, s: Session, port: str, cause: Cause) -> None:
        cc = self.cc
        phase = self.phase(s)  # before the agent's port changes hands
        self._cancel_timer(s)
        self._close_room(s)
        self.sessions.pop(s.port, None)
        held = s.held
        h = held.leg_on(port)
        assert h is not None
        h.state = LegState.RELEASED
        cc.unbind(port)
        self.lines.disconnect(port)
        mine = held.leg_on(s.port)
        if mine is not None:
            mine.state = LegState.RELEASED
        keep = cc.by_port.get(s.port)
        cc.disarm_timer(held)
        cc.end(held, cause)  # unbinds the agent's port too: given back to the active call below
        act = keep if keep is not None and keep is not held else None
        if act is not None:
            cc.bind(act, s.port)
        match phase:
            case Phase.FAILED | Phase.RECALL:
                self.lines.release(s.port, cause)  # busy tone; or the ringing stops
            case Phase.CHOOSING | Phase.CONFERENCE:
                t = act.other_leg(s.port) if act is not None else None
                if t is not None:
                    self.lines.play(s.port, None)
                    self.lines.connect(s.port, t.port)

    def _third_hung_up(self, s: Session, act: Call, t: Leg, cause: Cause) -> None:
        answered = act.answer is not None
        t.state = LegState.RELEASED
        self.cc.unbind(t.port)
        self.lines.disconnect(t.port)
        self._leave(s, act, cause)
        if answered:
            self._close_room(s)
            self._retrieve(s)  # back to the held party
        else:
            self.lines.play(s.port, ToneName.BUSY)  # FAILED: the agent flashes to go back

    # --- call waiting (ExtensionFeatures offers the second call) -----------------------------------

    def answer_waiting(self, port: str, waiting: Call) -> None:
        """Flash with a call waiting: the current call goes on hold and ``waiting`` is answered."""
        cc = self.cc
        current = cc.by_port.get(port)
        assert current is not None
        h = current.other_leg(port)
        self.cc.call_changing(current)
        cc.notify_unbridged(current)
        self.lines.disconnect(port)
        if h is not None:
            self.lines.play(h.port, None)
        self.sessions[port] = Session(port, current, swap=True)
        cc.publish("call.held", call=current.id, port=port)
        cc.bind(waiting, port)
        cc.connect_answered(waiting, port, waiting=True)

    # --- codes dialled in a session: blind transfer, to the IVR ------------------------------------

    def blind_transfer(self, call: Call, number: str) -> bool:
        """``*10<number>#`` after a flash: the held party is sent to ``number`` (it rings; the held party
        hears ringback); the agent's line is released. False if it cannot be done."""
        s = self.session_of(call)
        if s is None:
            return False
        cc = self.cc
        held, h = s.held, self._held_party(s)
        match cc.dialplan.match(number, timed_out=True):
            case Extension(number=ext_number):
                ext = cc.config.extension_by_number(ext_number)
                if ext is None or ext.port in cc.by_port or not self.lines.is_free(ext.port):
                    return False
                t, dial = Leg(ext.port, "extension", ext.number, LegState.ALERTING), None
            case Outside(number=out_number):
                agent = cc.config.extension_by_port(s.port)
                payer = Payer("extension", agent.number if agent is not None else s.port)
                if not cc.check_outside(call, out_number, [payer]).allowed:
                    return False  # the agent hears congestion; the held party stays on hold
                held.dialled, held.number_class, held.paid_by = call.dialled, call.number_class, call.paid_by
                line = cc.free_line()
                if line is None:
                    return False
                t, dial = Leg(line.port, "trunk", line.name or line.port, LegState.OFFERED), out_number
            case _:
                return False
        self.sessions.pop(s.port, None)
        cc.disarm_timer(call)
        cc.unbind(s.port)
        self.lines.release(s.port, Cause.NORMAL_CLEARING)  # the agent hears busy tone: hang up
        self._ring_for_held(held, h, t, s.port)
        if dial is not None:
            self.lines.dial(t.port, dial, held.caller)
        return True

    def to_ivr(self, call: Call, flow: str) -> bool:
        """``*40<flow>#`` after a flash: the held party goes to IVR flow ``flow``; the agent's line is
        released. False if it cannot be done."""
        s = self.session_of(call)
        cc = self.cc
        if s is None or cc.flows is None:
            return False
        held, h = s.held, self._held_party(s)
        self.sessions.pop(s.port, None)
        cc.disarm_timer(call)
        cc.unbind(s.port)
        self.lines.release(s.port, Cause.NORMAL_CLEARING)
        agent = held.leg_on(s.port)
        if h is held.b:  # the IVR serves the call's a-leg
            held.a, held.b = h, agent
        if held.b is not None:
            held.b.state = LegState.RELEASED
        held.b = None
        cc.agent_left(held)
        self.lines.play(h.port, None)
        cc.publish("call.transferred", call=held.id, port=h.port, ivr=flow, caller=held.caller)
        cc.journal("update", held)
        cc.flows.enter(held, flow)
        return True
