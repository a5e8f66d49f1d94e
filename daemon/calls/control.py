"""Call control: calls and two-party bridges, driven by uniform call events.

A ``Call`` (``daemon.calls.model``) has an originating leg ``a`` and, once routed, a terminating leg
``b``. What a port *does* (ring, answer, dial, play a tone, bridge audio) is asked of the ``Lines``
interface the engine implements, so this module knows nothing of boards, DSP or line protocols. Every
call ends in exactly one CDR, written through the store writer; a call in progress is journalled so a
crash leaves an "interrupted" CDR.

The features, the ACD, the IVR and the recorder plug in through the typed hook interface of
``daemon.calls.hooks`` (``add_listener``, in ``Priority`` order; ``serve_queues``, ``serve_flows``) and act
through this class's public verbs (``bind``, ``fail``, ``end``, ``journal`` ...): docs/call-control.md.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from daemon.calls.class_of_service import ClassOfService, Decision, Payer
from daemon.calls.dialplan import Dialplan, Extension, Incomplete, Invalid, Outside
from daemon.calls.dnis import DnisRoute, DnisTable
from daemon.calls.feature_codes import MORE, FeatureCodes, Matched
from daemon.calls.hooks import CallListener, Flows, Listeners, Queues
from daemon.calls.model import Call, Leg, LegState, Lines
from daemon.calls.timers import Timers
from daemon.config.model import Config, LineConfig
from hal.dsp.callerid import CallerId
from hal.dsp.tones import ToneName
from signaling.events import (
    CallAnswered,
    CallEvent,
    CallOffered,
    CallProgress,
    CallReleased,
    Cause,
    DigitReceived,
    HookFlash,
    OffHookIdle,
    Progress,
)

log = logging.getLogger(__name__)

CONFIRM_TONE = ToneName.STUTTER_DIAL  # a feature code that worked (450 Hz, 400 ms on / 40 ms off)
REJECT_TONE = ToneName.CONGESTION  # one that cannot be done
SEIZE_ATTEMPTS = 3  # circuits an outgoing call seizes before it fails for want of a seize-ack


def _queue_of(destination: tuple[str, ...]) -> str | None:
    """The ACD queue a line's destination names (``queue:travel``), if it names one."""
    return destination[0].split(":", 1)[1] if destination and destination[0].startswith("queue:") else None


class CallControl:
    """Turns uniform call events into calls, bridges and CDRs."""

    def __init__(self, config: Config, lines: Lines, timers: Timers,
                 journal: Callable[[str, str, dict], Any],
                 publish: Callable[..., None] = lambda kind, **data: None) -> None:
        self.config = config
        self.lines = lines
        self.timers = timers
        self.dialplan = Dialplan(config)
        self.dnis = DnisTable(config.dnis)
        self.features = FeatureCodes()  # parts of the daemon add theirs (voicemail, agents, pickup ...)
        self._write_journal = journal  # journal(op, call_id, record): op in begin | update | finish
        self.publish = publish
        self.by_port: dict[str, Call] = {}
        self.calls: dict[str, Call] = {}
        self.waiting: list[Call] = []  # inbound calls with no free extension yet
        self._ids = itertools.count(1)
        self._hunt_pos: dict[str, int] = {}
        # who is told and asked at each point of a call (daemon.calls.hooks): supervision, extension features,
        # hook-flash, ACD, IVR, recording, in that order
        self.listeners = Listeners()
        self.queues: Queues | None = None  # the ACD once attached: calls sent to a queue
        self.flows: Flows | None = None  # the IVR once attached: calls sent to a flow, voicemail deposits
        self.wall: Callable[[], float] = time.time  # answer and end times of CDRs (tests: a virtual clock)
        # who may dial what outside, and the daily caps (the agent logged in at an extension may bring its own)
        self.cos = ClassOfService(config, clock=lambda: self.wall(), publish=publish, agent_at=self._agent_at)
        self.on_denied: Callable[[dict], None] = lambda event: None  # a refused outside number (the audit log)

    # --- who plugs in (daemon.calls.hooks) ---------------------------------------------------------

    def add_listener(self, listener: CallListener, priority: int) -> None:
        """``listener`` is told and asked at each point of a call, after the listeners of lower ``priority``
        (``daemon.calls.hooks.Priority``) and those of the same one that registered before it."""
        self.listeners.add(listener, priority)

    def remove_listener(self, listener: CallListener) -> None:
        self.listeners.remove(listener)

    def serve_queues(self, queues: Queues) -> None:
        """Calls for a queue (a line's or DNIS destination, an IVR transfer) go to ``queues`` (the ACD)."""
        self.queues = queues

    def serve_flows(self, flows: Flows) -> None:
        """Calls for a flow (a line's or DNIS destination, ``*40``) go to ``flows`` (the IVR)."""
        self.flows = flows

    def in_flow(self, call: Call) -> bool:
        """Whether an IVR flow (or a voicemail dialogue) holds ``call``."""
        return self.flows is not None and self.flows.owns(call.id)

    def notify_bridged(self, call: Call) -> None:
        """``call``'s two parties are connected: every listener is told (the recorder starts)."""
        for listener in self.listeners:
            listener.bridged(call)

    def notify_unbridged(self, call: Call) -> None:
        """``call``'s bridge goes (hold, transfer, end): every listener is told (the recorder stops)."""
        for listener in self.listeners:
            listener.unbridged(call)

    def call_changing(self, call: Call) -> None:
        """``call`` is about to change hands (hold, transfer): every listener is told (supervisor taps end)."""
        for listener in self.listeners:
            listener.call_changed(call)

    def holds_party(self, port: str) -> bool:
        """Whether the extension on ``port`` has a party on hold (a hook-flash session)."""
        return any(listener.holding(port) for listener in self.listeners)

    def is_plain_call(self, call: Call | None, port: str) -> bool:
        """Whether ``call`` is a plain answered two-party call of the extension on ``port``: no transfer
        ringing, no flow holding it (what a flash may hold and a supervisor may tap)."""
        if call is None or call.answer is None or call.end is not None or call.transfer_to is not None:
            return False
        mine, other = call.leg_on(port), call.other_leg(port)
        if mine is None or other is None or mine.kind != "extension":
            return False
        if mine.state is not LegState.ANSWERED or other.state is not LegState.ANSWERED:
            return False
        return not self.in_flow(call)

    # --- events ---------------------------------------------------------------------------------

    def handle(self, ev: CallEvent) -> None:
        if any(listener.intercept(ev) for listener in self.listeners):
            return
        match ev:
            case OffHookIdle(port=port):
                self.start_dialing(port)
            case DigitReceived(port=port, digit=digit):
                self._digit(port, digit)
            case CallOffered():
                self._offered(ev)
            case CallAnswered(port=port):
                self.answered_at(port, ev)
            case CallProgress(port=port, progress=progress):
                self._progress(port, progress)
            case CallReleased(port=port, cause=cause):
                self._not_answered(ev)
                self._released(port, cause)
            case HookFlash():
                pass  # transfer and 3-way come with the ACD work
            case _:
                pass

    # --- originating from an extension ------------------------------------------------------------

    def new_id(self) -> str:
        """A new call ID, unique across restarts too."""
        return f"{int(time.time())}-{os.getpid()}-{next(self._ids)}"  # unique across restarts too

    def start_dialing(self, port: str) -> Call | None:
        """A call from extension ``port`` collecting its digits (the phone is off hook at dial tone); None
        if ``port`` is no extension or is in a call already."""
        ext = self.config.extension_by_port(port)
        if ext is None or port in self.by_port:
            return None
        call = Call(self.new_id(), "internal", Leg(port, "extension", ext.number, LegState.DIALING),
                    caller=ext.number, caller_name=ext.name or None)
        self.bind(call, port)
        self.arm_timer(call, self.config.dialplan.first_digit_timeout_s, lambda: self._dial_timeout(call))
        return call

    def _digit(self, port: str, digit: str) -> None:
        call = self.by_port.get(port)
        if call is not None and any(listener.digit(call, port, digit) for listener in self.listeners):
            return
        if call is not None and any(leg.port == port and leg.state is LegState.ANSWERED for leg in call.legs()):
            for listener in self.listeners:
                listener.connected_digit(call, port, digit)
            return
        if call is None or call.a.port != port or call.a.state is not LegState.DIALING:
            return
        call.digits += digit
        m = self.features.match(call.digits)
        if isinstance(m, Matched):
            self.disarm_timer(call)
            call.called = m.masked
            log.info("extension %s: feature code %s (%s)", call.a.label, m.masked, m.code.name)
            m.code.run(call, m.fields)
            return
        if m == MORE:
            self.arm_timer(call, self.config.dialplan.inter_digit_timeout_s, lambda: self._dial_timeout(call))
            return
        self._route(call, timed_out=False)

    def _dial_timeout(self, call: Call) -> None:
        if call.a.state is LegState.DIALING:
            if not call.digits or self.features.match(call.digits) == MORE:  # an unfinished code
                self.fail(call, Cause.NORMAL_UNSPECIFIED, ToneName.BUSY, record=False)
            else:
                self._route(call, timed_out=True)

    def _route(self, call: Call, timed_out: bool) -> None:
        route = self.dialplan.match(call.digits, timed_out=timed_out)
        match route:
            case Incomplete():
                self.arm_timer(call, self.config.dialplan.inter_digit_timeout_s, lambda: self._dial_timeout(call))
            case Invalid():
                call.called = call.digits
                self.begin(call)
                self.fail(call, Cause.UNALLOCATED_NUMBER, ToneName.CONGESTION)
            case Extension(number=number):
                call.called = number
                call.a.state = LegState.OFFERED
                self.begin(call)
                self.offer_extension(call, number)
            case Outside(number=number):
                call.called = number
                call.direction = "outbound"
                call.a.state = LegState.OFFERED
                self.begin(call)
                self.dial_out(call, number)

    def offer_extension(self, call: Call, number: str) -> None:
        """Ring extension ``number`` for ``call`` (its features first: forwarding, DND, call waiting); the
        caller hears ringback, or busy if the extension cannot take it."""
        ext = self.config.extension_by_number(number)
        assert ext is not None
        if any(listener.offer(call, number) for listener in self.listeners):
            return  # forwarded, refused (DND) or waiting (call waiting)
        if ext.port == call.a.port or not self.lines.is_free(ext.port):
            self.fail(call, Cause.USER_BUSY, ToneName.BUSY)
            return
        call.b = Leg(ext.port, "extension", ext.number, LegState.ALERTING)
        self.bind(call, ext.port)
        # an agent consulting with a customer on hold (attended transfer): the customer's data goes along
        held = next((h for listener in self.listeners if (h := listener.consulting_for(call)) is not None), None)
        pop = self.ringing_data(held, ext.number, by=call.a.port) if held is not None else {}
        if held is not None:
            pop["customer_call"] = held.id
        self.lines.ring(ext.port, CallerId(number=call.caller, name=self._display_name(held, pop) if held is not None
                                           else call.caller_name))
        self.lines.play(call.a.port, ToneName.RINGBACK)
        call.a.state = LegState.ALERTING
        self.arm_timer(call, self.config.dialplan.no_answer_timeout_s, lambda: self.ring_timeout(call))
        self.publish("call.ringing", call=call.id, port=ext.port, extension=ext.number, caller=call.caller, **pop)
        self.journal("update", call)

    def free_line(self, skip: tuple[str, ...] | list[str] = ()) -> LineConfig | None:
        """The first free outbound line (FXO lines, then No.1 timeslots) not in ``skip``, or None."""
        return next((ln for ln in self.config.lines + self.config.trunk_lines
                     if ln.outbound and ln.port not in self.by_port and ln.port not in skip
                     and self.lines.is_free(ln.port)), None)

    def _agent_at(self, extension: str) -> str | None:
        return self.queues.agent_logged_in_at(extension) if self.queues is not None else None

    def ringing_data(self, call: Call, extension: str, by: str | None = None) -> dict[str, Any]:
        """What a ``call.ringing`` for ``call`` at ``extension`` carries besides call, port, extension
        and caller, the same for every ring of the call: its DNIS, the IVR's data, for a queued call
        its queue and customer record (the screen pop the first agent saw), the agent logged in at
        ``extension``, and ``transferred_by`` (agent and extension at port ``by``, who handed it on)."""
        data: dict[str, Any] = dict(call.dnis_fields())
        if call.ivr:
            data["ivr"] = call.ivr
        for listener in self.listeners:
            data.update(listener.caller_data(call))
        agent = self._agent_at(extension)
        if agent is not None:
            data["agent"] = agent
        if by is not None:
            ext = self.config.extension_by_port(by)
            number = ext.number if ext is not None else None
            data["transferred_by"] = {"agent": self._agent_at(number) if number else None, "extension": number}
        return data

    @staticmethod
    def _display_name(call: Call, pop: dict[str, Any]) -> str | None:
        """The caller-ID name a phone rung for ``call`` shows: the customer's name, else the network's."""
        return (pop.get("customer") or {}).get("name") or call.caller_name

    def payers_of(self, call: Call) -> list[Payer]:
        """Who pays for an outside number ``call`` dials: its ``payers`` if set (a forward: the forwarding
        extension), else the extension or trunk of its ``a`` leg."""
        return list(call.payers) or [Payer("extension" if call.a.kind == "extension" else "trunk", call.a.label)]

    def check_outside(self, call: Call, number: str, payers: list[Payer] | None = None) -> Decision:
        """Class of service for ``call`` dialling outside number ``number`` (paid by ``payers``, default
        ``payers_of(call)``). Allowed: the call carries the number, its class and its payer for the CDR.
        Refused: the call carries the refusal; it is logged, published (``call.denied``) and audited."""
        payers = self.payers_of(call) if payers is None else payers
        decision = self.cos.check(number, payers)
        call.dialled, call.number_class = number, str(decision.number_class)
        call.paid_by = str(decision.payer or payers[0]) if payers else None
        if decision.allowed:
            return decision
        call.denied = decision.reason
        log.warning("class of service: call %s: %s", call.id, decision.message())
        event = {"call": call.id, "number": number, "number_class": str(decision.number_class),
                 "payer": str(decision.payer), "reason": decision.reason}
        if decision.payer is not None and decision.payer.kind == "extension":
            event["extension"] = decision.payer.name
        self.publish("call.denied", **event)
        self.on_denied(event)
        return decision

    def dial_out(self, call: Call, number: str) -> None:
        """Dial outside number ``number`` for ``call`` over a free trunk, if its class of service allows."""
        if not self.check_outside(call, number).allowed:
            self.fail(call, Cause.CALL_REJECTED, ToneName.CONGESTION)  # the phone hears congestion tone
            return
        line = self.free_line()
        if line is None:
            self.fail(call, Cause.NO_CIRCUIT_AVAILABLE, ToneName.CONGESTION)
            return
        self._seize(call, line, number)

    def _seize(self, call: Call, line: LineConfig, number: str) -> None:
        call.b = Leg(line.port, "trunk", line.name or line.port, LegState.OFFERED)
        call.circuits.append(line.port)
        self.bind(call, line.port)
        self.lines.dial(line.port, number, call.caller)
        self.arm_timer(call, self.config.dialplan.no_answer_timeout_s + 15, lambda: self.ring_timeout(call))
        self.journal("update", call)

    def _progress(self, port: str, progress: Progress) -> None:
        call = self.by_port.get(port)
        if call is not None and call.transfer_to is not None and call.transfer_to.port == port:
            if progress is Progress.RINGING and call.transfer_to.state is LegState.OFFERED:
                call.transfer_to.state = LegState.ALERTING
                staying = call.a if call.a.state is not LegState.RELEASED or call.b is None else call.b
                self.lines.play(staying.port, None)
                self._early_media(staying.port, port)
            return
        if call is None or call.b is None or call.b.port != port:
            return
        if progress is Progress.RINGING and call.b.state is LegState.OFFERED:
            call.b.state = call.a.state = LegState.ALERTING
            self._early_media(call.a.port, port)
            self.publish("call.ringing", call=call.id, port=port, called=call.called)
        elif progress is Progress.ANNOUNCEMENT and call.answer is None:
            call.answer_reason = "announcement"  # kept if nothing answers (no answer / busy after it)
            self._early_media(call.a.port, port)
            self.publish("call.progress", call=call.id, port=port, progress=progress.value)

    def _early_media(self, caller: str, trunk: str) -> None:
        """The caller hears the far end's own ringback (or announcement) before the answer. On an analog
        line the far end does not hear the caller yet: the line's answer detector listens to what comes
        back, and the caller's voice echoed by the line's hybrid must not read as the far end's "喂"."""
        self.lines.connect(caller, trunk, one_way=any(ln.port == trunk for ln in self.config.lines))

    def _not_answered(self, ev: CallReleased) -> None:
        """An analog line's outbound call ended unanswered and the line says why (busy, SIT, ...)."""
        call = self.by_port.get(ev.port)
        if ev.answer_by is not None and call is not None and call.answer is None:
            call.answer_by, call.answer_reason = ev.answer_by, ev.answer_reason

    # --- arriving on a trunk ------------------------------------------------------------------------

    def _offered(self, ev: CallOffered) -> None:
        line = self.config.line_by_port(ev.port)
        if line is None or ev.port in self.by_port:
            log.warning("call offered on unconfigured or busy port %s: ignored", ev.port)
            return
        call = Call(self.new_id(), "inbound", Leg(ev.port, "trunk", line.name or line.port),
                    caller=ev.caller, called=ev.called, caller_name=ev.caller_name)
        call.category = ev.category
        route = None
        if ev.called:  # a trunk that signals the number dialled (No.1 DNIS, SS7's called party number)
            call.dnis = ev.called
            route = self.dnis.route(ev.called)
            call.dnis_name = (route.name or None) if route is not None else None
        self.bind(call, ev.port)
        self.begin(call)
        self.publish("call.offered", call=call.id, port=ev.port, caller=ev.caller, line=line.name,
                     called=ev.called, category=ev.category, **call.dnis_fields())
        if ev.called and self.dnis:
            self._route_dnis(call, route)
            return
        if line.ivr and self.flows is not None:
            self._enter_ivr(call, line.ivr)
            return
        queue = _queue_of(line.destination)
        if queue is not None and self.queues is not None and self.queues.enqueue(call, queue):
            return
        if not line.destination or queue is not None:
            self.lines.release(ev.port, Cause.UNALLOCATED_NUMBER)
            self.end(call, Cause.UNALLOCATED_NUMBER)
            return
        self._hunt(call)

    def _route_dnis(self, call: Call, route: DnisRoute | None) -> None:
        """An inbound trunk call where the ``[[dnis]]`` table decides: its entry's destination, or refused as
        unallocated (the trunk answers with its variant's "unallocated" signal)."""
        port = call.a.port
        if route is None:
            log.info("call %s: DNIS %s is not allocated ([[dnis]]): refused", call.id, call.dnis)
        elif route.target == "ivr" and self.flows is not None:
            self._enter_ivr(call, route.dest[0])
            return
        elif route.target == "queue" and self.queues is not None and self.queues.enqueue(call, route.dest[0]):
            return
        elif route.target == "extension":
            call.destinations = route.dest
            self._hunt(call)
            return
        cause = Cause.UNALLOCATED_NUMBER if route is None else Cause.SWITCHING_EQUIPMENT_CONGESTION
        self.lines.release(port, cause)
        self.end(call, cause)

    def _hunt(self, call: Call) -> bool:
        """Offer an inbound call to the next free extension of its DNIS route's or its line's hunt list."""
        line = self.config.line_by_port(call.a.port)
        assert line is not None
        dests = list(call.destinations or line.destination)
        start = self._hunt_pos.get(line.port, 0)
        for i in range(len(dests)):
            number = dests[(start + i) % len(dests)]
            ext = self.config.extension_by_number(number)
            if ext is None or number in call.tried[-len(dests) + 1:] and len(dests) > 1:
                continue
            if ext.port in self.by_port or not self.lines.is_free(ext.port):
                continue
            if any(listener.skip_hunt(number) for listener in self.listeners):
                continue  # do not disturb
            self._hunt_pos[line.port] = (start + i + 1) % len(dests)
            call.tried.append(number)
            call.b = Leg(ext.port, "extension", ext.number, LegState.ALERTING)
            call.a.state = LegState.ALERTING
            self.bind(call, ext.port)
            self.lines.ring(ext.port, CallerId(number=call.caller, name=call.caller_name))
            self.arm_timer(call, self.config.dialplan.no_answer_timeout_s, lambda: self.ring_timeout(call))
            self.publish("call.ringing", call=call.id, port=ext.port, extension=number, caller=call.caller,
                         **call.dnis_fields())
            self.journal("update", call)
            if call in self.waiting:
                self.waiting.remove(call)
            return True
        if call not in self.waiting:
            self.waiting.append(call)  # the trunk keeps ringing; retried when an extension frees up
        return False

    # --- answer, release, timeouts ----------------------------------------------------------------

    def answered_at(self, port: str, how: CallAnswered | None = None) -> None:
        """The phone or line on ``port`` answered (as a ``CallAnswered`` event from it would say: ``how``)."""
        if any(listener.answered(port) for listener in self.listeners):
            return
        call = self.by_port.get(port)
        if call is not None and call.dial_after_answer is not None and port == call.a.port:
            self._agent_answered_click(call)
            return
        if call is not None and call.transfer_to is not None and port == call.transfer_to.port:
            self.transfer_answered(call)
            return
        if call is None or call.b is None or call.b.port != port or call.answer is not None:
            return
        self.connect_answered(call, port, how)

    def connect_answered(self, call: Call, port: str, how: CallAnswered | None = None, **event: Any) -> None:
        """``call``'s ``b`` leg (on ``port``) answered: the caller stops hearing ringback (a trunk caller's
        line is answered), the two are bridged; ``call.answered`` carries ``event``'s fields too. An
        analog line's ``how`` says how the answer was recognised and how long ago it was: the call is
        answered (and billed) from then."""
        assert call.b is not None and call.b.port == port
        self.disarm_timer(call)
        call.answer = self.wall()
        if how is not None and how.by is not None:
            call.answer -= max(0.0, how.ago)
            call.answer_by, call.answer_reason = how.by, how.reason
            event.update(answer_by=how.by, answer_reason=how.reason, answer=call.answer)
        call.b.state = call.a.state = LegState.ANSWERED
        if call.a.kind == "trunk":
            self.lines.answer(call.a.port)
        else:
            self.lines.play(call.a.port, None)
        self.lines.connect(call.a.port, port)
        self.notify_bridged(call)
        self.publish("call.answered", call=call.id, port=port, **event)
        self.journal("update", call)

    def _released(self, port: str, cause: Cause) -> None:
        if any(listener.released(port) for listener in self.listeners):
            return
        call = self.by_port.get(port)
        if call is None:
            return
        for listener in self.listeners:
            listener.hung_up(call)
        if call.transfer_to is not None and port == call.transfer_to.port:
            self._transfer_not_answered(call)
            return
        self.unbind(port)
        self.lines.disconnect(port)
        leg = call.leg_on(port)
        dialing = call.a.state in (LegState.DIALING, LegState.FEATURE)
        if leg is not None:
            leg.state = LegState.RELEASED
        if dialing:
            self.disarm_timer(call)
            return  # hung up before dialling anything that made a call: no CDR
        other = call.other_leg(port)
        if leg is call.b and call.answer is None and call.direction == "inbound":
            self._hunt_again(call)
            return
        if leg is call.b and cause is Cause.RECOVERY_ON_TIMER_EXPIRY and self._seize_another(call):
            return
        if other is not None and other.state is not LegState.RELEASED and other.port in self.by_port:
            self.release_leg(call, other, cause)
        self.end(call, cause)

    def _seize_another(self, call: Call) -> bool:
        """An outgoing seizure was never acknowledged (the trunk alarmed its circuit): the same number on
        another free circuit, at most ``SEIZE_ATTEMPTS`` circuits a call; False if none is left to try."""
        if call.direction != "outbound" or call.answer is not None or not call.called:
            return False
        line = self.free_line(skip=call.circuits) if len(call.circuits) < SEIZE_ATTEMPTS else None
        if line is None:
            return False
        log.warning("call %s: no seize-ack on %s; trying %s", call.id, call.circuits[-1], line.port)
        self._seize(call, line, call.called)
        return True

    def _hunt_again(self, call: Call) -> None:
        call.b = None
        if not self._hunt(call):
            self.disarm_timer(call)

    def release_leg(self, call: Call, leg: Leg, cause: Cause) -> None:
        """Release ``leg`` of ``call`` with ``cause``: unbound, disconnected, its port released."""
        leg.state = LegState.RELEASED
        self.unbind(leg.port)
        self.lines.disconnect(leg.port)
        self.lines.release(leg.port, cause)

    def ring_timeout(self, call: Call) -> None:
        """The no-answer time of ``call``'s ringing leg ran out: its features (forward on no answer), the
        next extension of an inbound hunt, or the call fails with busy tone."""
        if call.answer is not None or call.end is not None:
            return
        if any(listener.no_answer(call) for listener in self.listeners):
            return  # forwarded on no answer, or a waiting call given up
        if call.direction == "inbound" and call.b is not None:
            b = call.b
            self.release_leg(call, b, Cause.NO_ANSWER)
            call.b = None
            if not self._hunt(call):
                self.disarm_timer(call)
            return
        b = call.b
        if b is not None and any(ln.port == b.port for ln in self.config.lines):  # an analog line: say why
            call.answer_by = "timeout"
            call.answer_reason = call.answer_reason or ("ringback" if b.state is LegState.ALERTING else "no_progress")
        self.fail(call, Cause.NO_ANSWER, ToneName.BUSY)

    def fail(self, call: Call, cause: Cause, tone: ToneName, record: bool = True) -> None:
        """End an extension-originated call that did not connect; the caller hears ``tone``. The caller's
        line is released unless its extension keeps it (a consultation: the party on hold stays)."""
        keep = any(listener.keeps_line(call) for listener in self.listeners)
        self.disarm_timer(call)
        if call.b is not None and call.b.state is not LegState.RELEASED:
            self.release_leg(call, call.b, cause)
        a = call.a
        a.state = LegState.RELEASED
        self.unbind(a.port)
        self.lines.disconnect(a.port)
        if not keep:
            self.lines.release(a.port, cause)
        self.lines.play(a.port, tone)
        if record:
            self.end(call, cause)

    def end(self, call: Call, cause: Cause) -> None:
        """End ``call`` once: its listeners told, its ports unbound, its CDR written and published."""
        if call.end is not None:
            return
        if call.answer is not None:
            self.notify_unbridged(call)
        for listener in self.listeners:
            listener.hung_up(call)
        if call.transfer_to is not None:  # the transferred-to extension was still ringing
            self.release_leg(call, call.transfer_to, cause)
            call.transfer_to = None
        self.disarm_timer(call)
        for leg in call.legs():
            self.unbind(leg.port)
        if call in self.waiting:
            self.waiting.remove(call)
        call.end = self.wall()
        call.cause = cause
        self.calls.pop(call.id, None)
        for listener in self.listeners:
            listener.ending(call)
        cdr = call.record()
        self.journal("finish", call)
        self.cos.record(cdr)
        self.publish("call.ended", call=call.id, cdr=cdr)
        for listener in self.listeners:
            listener.ended(call)  # supervisor taps on it, or its supervisor's own, end
        self._retry_waiting()

    def _retry_waiting(self) -> None:
        for waiting in list(self.waiting):
            self._hunt(waiting)

    # --- helpers --------------------------------------------------------------------------------

    def begin(self, call: Call) -> None:
        self.calls[call.id] = call
        self.journal("begin", call)

    def code_reply(self, call: Call, ok: bool) -> None:
        """A feature code's reply when it leaves the phone off hook: stutter dial tone (done) or congestion
        (refused). Nothing if the code already put the phone in another call (pickup, transfer)."""
        if call.end is not None or self.by_port.get(call.a.port) is not call:
            return
        self.fail(call, Cause.NORMAL_CLEARING if ok else Cause.NORMAL_UNSPECIFIED,
                  CONFIRM_TONE if ok else REJECT_TONE, record=False)

    def journal(self, op: str, call: Call) -> None:
        """Journal ``call`` (``op``: begin | update | finish); a call not begun is journalled at its finish only."""
        if call.id in self.calls or op == "finish":
            self._write_journal(op, call.id, call.record())

    def bind(self, call: Call, port: str) -> None:
        """``port``'s events are ``call``'s from now on."""
        self.by_port[port] = call
        if call.queue is None:  # an agent's phone busy with a non-ACD call
            for listener in self.listeners:
                listener.phone_in_use(port, True)

    def unbind(self, port: str) -> None:
        """``port`` is in no call any more."""
        call = self.by_port.pop(port, None)
        if call is not None and call.queue is None and self.lines.is_free(port):
            for listener in self.listeners:
                listener.phone_in_use(port, False)  # else once the phone is back on the hook (released_port_idle)

    def arm_timer(self, call: Call, seconds: float, fn: Callable[[], None]) -> None:
        """``call``'s one timer: ``fn`` runs in ``seconds`` (a timer armed before is cancelled)."""
        self.disarm_timer(call)
        call.timer = self.timers.call_at(self.lines.now() + seconds, fn)

    def disarm_timer(self, call: Call) -> None:
        """Cancel ``call``'s timer, if armed."""
        if call.timer is not None:
            call.timer.cancel()
            call.timer = None

    # --- requests from the API: click-to-dial, hang up, blind transfer ------------------------------

    def click_to_dial(self, extension: str, number: str, asked_by: Payer | None = None) -> Call:
        """Ring ``extension`` (its display shows ``number``); once it answers, dial ``number``
        (another extension, or an outside number over a free trunk). An outside number is paid by the
        extension and asked for by ``asked_by`` (the API role, or a token with a class of its own): both
        classes of service must allow it, else the refusal leaves a CDR and PermissionError is raised.
        Raises LookupError / ValueError too."""
        ext = self.config.extension_by_number(extension)
        if ext is None:
            raise LookupError(f"no extension {extension}")
        if not number.isdigit():
            raise ValueError(f"{number!r} is not a number")
        if ext.port in self.by_port or not self.lines.is_free(ext.port):
            raise ValueError(f"extension {extension} is busy")
        internal = self.config.extension_by_number(number) is not None
        call = Call(self.new_id(), "internal" if internal else "outbound",
                    Leg(ext.port, "extension", ext.number, LegState.ALERTING),
                    caller=ext.number, called=number, caller_name=ext.name or None)
        call.dial_after_answer = number
        if not internal:
            call.payers = [Payer("extension", ext.number)] + ([asked_by] if asked_by else [])
            decision = self.check_outside(call, number)
            if not decision.allowed:
                call.a.state = LegState.RELEASED
                call.end, call.cause = self.wall(), Cause.CALL_REJECTED
                cdr = call.record()
                self._write_journal("finish", call.id, cdr)
                self.publish("call.ended", call=call.id, cdr=cdr)
                raise PermissionError(decision.message())
        self.bind(call, ext.port)
        self.begin(call)
        self.lines.ring(ext.port, CallerId(number=number))
        self.arm_timer(call, self.config.dialplan.no_answer_timeout_s, lambda: self._click_not_answered(call))
        self.publish("call.ringing", call=call.id, port=ext.port, extension=ext.number, caller=number,
                     click_to_dial=True)
        return call

    def _agent_answered_click(self, call: Call) -> None:
        number, call.dial_after_answer = call.dial_after_answer, None
        assert number is not None
        self.disarm_timer(call)
        call.a.state = LegState.OFFERED
        self.journal("update", call)
        if call.direction == "internal":
            self.offer_extension(call, number)
        else:
            self.dial_out(call, number)

    def _click_not_answered(self, call: Call) -> None:
        if call.dial_after_answer is None or call.end is not None:
            return
        self.release_leg(call, call.a, Cause.NO_ANSWER)
        self.end(call, Cause.NO_ANSWER)

    def hangup(self, call_id: str, cause: Cause = Cause.NORMAL_CLEARING) -> None:
        """End a call from outside (the API): every leg still up is released."""
        call = self.calls.get(call_id)
        if call is None:
            raise LookupError(f"no call {call_id}")
        for leg in (*call.legs(), call.transfer_to):
            if leg is not None and leg.state is not LegState.RELEASED:
                self.release_leg(call, leg, cause)
        self.end(call, cause)

    def transfer(self, call_id: str, extension: str) -> None:
        """Blind transfer of an answered call: the agent's extension is released, ``extension`` rings
        and the other party hears ringback until it answers."""
        call = self.calls.get(call_id)
        if call is None:
            raise LookupError(f"no call {call_id}")
        ext = self.config.extension_by_number(extension)
        if ext is None:
            raise LookupError(f"no extension {extension}")
        if call.answer is None or call.b is None or call.transfer_to is not None:
            raise ValueError("only an answered, two-party call can be transferred")
        if ext.port in self.by_port or not self.lines.is_free(ext.port):
            raise ValueError(f"extension {extension} is busy")
        moving = call.b if call.b.kind == "extension" else call.a  # the agent's leg goes
        if moving.kind != "extension":
            raise ValueError("the call has no extension to transfer from")
        staying = call.a if moving is call.b else call.b
        self.call_changing(call)  # supervisor taps on it end
        self.notify_unbridged(call)
        self.release_leg(call, moving, Cause.NORMAL_CLEARING)
        self.agent_left(call)  # the agent's part ends (wrap-up), as with a hook-flash transfer
        self.lines.disconnect(staying.port)
        self.publish("call.transferred", call=call.id, extension=ext.number, port=ext.port, caller=call.caller)
        self.ring_transfer(call, Leg(ext.port, "extension", ext.number, LegState.ALERTING), staying.port,
                           by=moving.port)

    def ring_transfer(self, call: Call, target: Leg, staying: str, *, ring: bool = True,
                      failed: Callable[[str], None] | None = None, by: str | None = None, **ringing: Any) -> None:
        """``target`` becomes ``call``'s transfer leg, in place of the extension that left it. An extension
        rings (``ring``; False: it rings already) while the party on ``staying`` hears ringback
        (``call.ringing`` carries ``ringing``'s fields too); a trunk leg (the caller of this dials it)
        lets ``staying`` hear the far end's own progress once it rings. If nobody answers in time
        (trunk: 15 s more), ``failed`` is told, or the call is hung up. ``by``: the port of the extension
        that handed the call on (``transferred_by``); the ring carries the call's data (``ringing_data``)
        and shows the customer's name."""
        call.transfer_to = target
        call.transfer_failed = failed
        self.bind(call, target.port)
        extension = target.kind == "extension"
        pop = {**self.ringing_data(call, target.label, by), **ringing} if extension else {}
        if extension:
            self.lines.play(staying, ToneName.RINGBACK)
            if ring:
                self.lines.ring(target.port, CallerId(number=call.caller, name=self._display_name(call, pop)))
        elif target.state is LegState.ALERTING:
            self.lines.play(staying, None)
            self.lines.connect(staying, target.port)
        self.arm_timer(call, self.config.dialplan.no_answer_timeout_s + (0 if extension else 15),
                  lambda: self._transfer_not_answered(call))
        if extension:
            self.publish("call.ringing", call=call.id, port=target.port, extension=target.label,
                         caller=call.caller, **pop)

    def transfer_answered(self, call: Call) -> None:
        """``call``'s transfer leg answered: it takes the place of the leg that left, the two are bridged."""
        new, call.transfer_to = call.transfer_to, None
        assert new is not None
        self.disarm_timer(call)
        call.transfer_failed = None
        new.state = LegState.ANSWERED
        if call.b is None or call.b.state is LegState.RELEASED:
            call.b = new
        else:
            call.a = new
        self.lines.play(call.a.port, None)
        self.lines.play(call.b.port, None)
        self.lines.connect(call.a.port, call.b.port)
        self.notify_bridged(call)
        self.transfer_taken(call, new.port)
        self.publish("call.answered", call=call.id, port=new.port, transferred=True)
        self.journal("update", call)

    def _transfer_not_answered(self, call: Call) -> None:
        if call.transfer_to is None or call.end is not None:
            return
        leg, call.transfer_to = call.transfer_to, None
        self.disarm_timer(call)
        self.release_leg(call, leg, Cause.NO_ANSWER)
        failed, call.transfer_failed = call.transfer_failed, None
        if failed is not None:
            self.lines.play(call.a.port, None)
            failed("no answer")
        else:
            self.hangup(call.id, Cause.NO_ANSWER)

    # --- the IVR: calls answered by a flow, and where a flow sends them ------------------------------

    def _ivr_dial_out(self, call: Call, number: str, failed: Callable[[str], None]) -> str | None:
        decision = self.check_outside(call, number)  # paid by the trunk the call came in on
        if not decision.allowed:
            return decision.message()
        line = self.free_line()
        if line is None:
            return "no free trunk"
        trunk = Leg(line.port, "trunk", line.name or line.port, LegState.OFFERED)
        self.ring_transfer(call, trunk, call.a.port, failed=failed)
        self.lines.dial(line.port, number, call.caller)
        self.publish("call.transferred", call=call.id, number=number, port=line.port, caller=call.caller)
        return None

    def answer_inbound(self, call: Call, **event: Any) -> None:
        """The box itself answers an inbound call's trunk leg (a flow or a queue takes it), once."""
        if call.answer is not None:
            return
        self.lines.answer(call.a.port)
        call.answer = self.wall()
        call.a.state = LegState.ANSWERED
        self.publish("call.answered", call=call.id, port=call.a.port, **event)
        self.journal("update", call)

    def _enter_ivr(self, call: Call, flow: str) -> None:
        self.answer_inbound(call, ivr=flow)
        assert self.flows is not None
        self.flows.enter(call, flow)

    def ivr_transfer(self, call: Call, to: str, target: str, failed: Callable[[str], None]) -> str | None:
        """Send a call the IVR holds to an extension (``to`` "extension") or to the first free extension
        of its line's destinations (``to`` "queue", until the ACD takes queues). Returns why it cannot,
        or None once the extension rings (``failed`` is told if it then goes unanswered)."""
        if to == "number":
            return self._ivr_dial_out(call, target, failed)
        if to == "queue" and self.queues is not None and self.queues.has_queue(target):
            return None if self.queues.enqueue(call, target) else f"queue {target} does not take the call"
        if to == "extension":
            candidates = [target]
        elif to == "queue":
            line = self.config.line_by_port(call.a.port)
            candidates = list(line.destination) if line else []
        else:
            return f"transfer to {to} is not supported"
        for number in candidates:
            ext = self.config.extension_by_number(number)
            if ext is None or ext.port in self.by_port or not self.lines.is_free(ext.port):
                continue
            self.ring_transfer(call, Leg(ext.port, "extension", ext.number, LegState.ALERTING), call.a.port,
                               failed=failed, ivr=call.ivr or {})
            return None
        if to == "extension" and self.config.extension_by_number(target) is None:
            return f"no extension {target}"
        return "busy"

    def agent_left(self, call: Call) -> None:
        """The extension that took a queued call handed it on (hook-flash transfer, back to the IVR): the
        ACD ends that agent's conversation (wrap-up) while the call goes on without it."""
        if call.queue is not None:
            for listener in self.listeners:
                listener.agent_left(call)

    def transfer_taken(self, call: Call, port: str) -> None:
        """A queued call handed on by its agent was answered at ``port`` (any kind of transfer): an
        agent logged in there takes it over in the ACD (busy, then wrap-up when it ends)."""
        if call.queue is not None:
            for listener in self.listeners:
                listener.transfer_taken(call, port)

    def released_port_idle(self, port: str) -> None:
        """A port became free (extension hung up): waiting inbound calls may now be offered."""
        if port not in self.by_port:
            if self.lines.is_free(port):
                for listener in self.listeners:
                    listener.phone_in_use(port, False)
            self._retry_waiting()
