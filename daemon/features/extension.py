"""Extension features: call pickup, call forwarding, do-not-disturb and call waiting; and the set of an
extension's features the daemon starts (these, hook-flash and supervision).

``ExtensionFeatures`` is a listener of the engine's call control (``daemon.calls.hooks``, at
``Priority.EXTENSION_FEATURES``): call control asks it before handling a port's event (``intercept``:
a flash with a call waiting answers it; a release ends or rings a waiting call), when it offers a call
to an extension (``offer``: DND, forwarding, call waiting), when a ringing extension is not answered
(``no_answer``: forward on no answer) and whether hunting should skip an extension (``skip_hunt``:
DND). It starts the hook-flash sessions (``daemon.features.flash``, which answers a waiting call for
it) and the supervisor taps (``daemon.features.supervisor``), each a listener of its own; settings
persist through ``daemon.features.settings``.

Feature codes (docs/extensions.md)::

    *#              pick up a call ringing in my pickup group      *<ext>#        pick up the call ringing at <ext>
    *72<number>#    forward always to <number>                     *73            cancel forward always
    *90<number>#    forward when busy                              *91            cancel forward busy
    *92<number>#    forward on no answer                           *93            cancel forward no answer
    *78             do not disturb on                              *79            do not disturb off
    *10<number>#    (after a flash) blind transfer                 *40<flow>#     (after a flash) held party to an IVR flow

A code that worked is confirmed with a stutter tone (450 Hz, 400 ms on / 40 ms off); one that cannot
be done gets congestion tone.
"""

from __future__ import annotations

import logging
from typing import Any

from daemon.calls.class_of_service import Payer
from daemon.calls.dialplan import Extension, Outside
from daemon.calls.feature_codes import FeatureCode
from daemon.calls.hooks import CallListener, Priority
from daemon.calls.model import Call, Leg, LegState
from daemon.config.model import ExtensionConfig
from daemon.features.flash import FlashFeatures
from daemon.features.settings import SettingsStore
from daemon.features.supervisor import Supervisors
from daemon.runtime.engine import Engine
from daemon.runtime.media import Media
from hal.dsp.callerid import CallerId
from hal.dsp.tones import ToneName
from signaling.events import (
    CallEvent,
    CallReleased,
    Cause,
    HookFlash,
)

log = logging.getLogger(__name__)

MAX_FORWARDS = 5  # forwards per call (``Call.forwards``); a forward-always loop then ends in busy


class ExtensionFeatures(CallListener):
    """See the module docstring."""

    def __init__(self, engine: Engine, settings: SettingsStore | None = None) -> None:
        self.engine = engine
        self.cc = engine.calls
        self.settings = settings if settings is not None else SettingsStore()
        self.waiting: dict[str, Call] = {}  # extension port -> the call waiting for it (call-waiting tone)
        self.flash = FlashFeatures(engine)
        self.supervisors = Supervisors(engine)
        self.cc.add_listener(self, Priority.EXTENSION_FEATURES)
        add = self.cc.features.add
        add(FeatureCode("*", "pickup", self._pickup_code, fields=1))  # *<ext># directed, *# (empty) group
        for prefix, key in (("*72", "forward_always"), ("*90", "forward_busy"), ("*92", "forward_no_answer")):
            add(FeatureCode(prefix, f"{key}.set", lambda call, f, key=key: self._set_forward(call, key, f[0]),
                            fields=1))
        for prefix, key in (("*73", "forward_always"), ("*91", "forward_busy"), ("*93", "forward_no_answer")):
            add(FeatureCode(prefix, f"{key}.clear", lambda call, f, key=key: self._set(call, **{key: ""})))
        add(FeatureCode("*78", "dnd.on", lambda call, f: self._set(call, dnd=True)))
        add(FeatureCode("*79", "dnd.off", lambda call, f: self._set(call, dnd=False)))
        add(FeatureCode("*10", "transfer.blind", lambda call, f: self._done(call, self.flash.blind_transfer(call, f[0])),
                        fields=1))
        add(FeatureCode("*40", "transfer.ivr", self._ivr_code, fields=1))

    # --- small helpers ---------------------------------------------------------------------------------

    @property
    def media(self) -> Media:
        assert self.engine.media is not None
        return self.engine.media

    def _done(self, call: Call, ok: bool) -> None:
        """A feature code's reply when it leaves the phone off hook: confirmation or congestion."""
        self.cc.code_reply(call, ok)

    def _number_of(self, call: Call) -> str | None:
        ext = self.cc.config.extension_by_port(call.a.port)
        return ext.number if ext is not None else None

    def _ivr_code(self, call: Call, fields: list[str]) -> None:
        """``*40<flow>#``: a flow by its name (if it is digits) or its position in ``[ivr.flows]`` (1 = the
        first); ``*40#``: the first flow."""
        names = [name for name, _ in self.cc.config.ivr.flows]
        key = fields[0]
        if key in names:
            flow: str | None = key
        elif key.isdigit() and 1 <= int(key) <= len(names):
            flow = names[int(key) - 1]
        else:
            flow = names[0] if key == "" and names else None
        self._done(call, flow is not None and self.flash.to_ivr(call, flow))

    # --- call control's hooks --------------------------------------------------------------------------

    def intercept(self, ev: CallEvent) -> bool:
        """A flash with a call waiting answers it (the current call goes on hold); a release ends or rings
        a waiting call. Other events, and other flashes, go on to the hook-flash sessions."""
        match ev:
            case HookFlash(port=port):
                waiting = self.waiting.get(port)
                if waiting is not None and not self.cc.holds_party(port) and self.cc.is_plain_call(
                        self.cc.by_port.get(port), port):
                    self._stop_waiting(port)
                    self.flash.answer_waiting(port, waiting)
                    return True
            case CallReleased(port=port):
                self._waiting_released(port)
        return False

    def offer(self, call: Call, number: str) -> bool:
        """Call control is about to ring extension ``number`` for ``call``: DND, forwarding, call waiting."""
        cc = self.cc
        ext = cc.config.extension_by_number(number)
        if ext is None or ext.port == call.a.port:
            return False
        st = self.settings.get(number)
        more = call.forwards < MAX_FORWARDS
        if st.forward_always:
            if not more:  # a forwarding loop
                log.info("call %s: forwarded %d times, %s does not forward it again: busy", call.id,
                         call.forwards, number)
                cc.fail(call, Cause.USER_BUSY, ToneName.BUSY)
                return True
            return self._forward(call, number, st.forward_always, "always")
        busy = ext.port in cc.by_port or not cc.lines.is_free(ext.port)
        if not (busy or st.dnd):
            return False
        if st.forward_busy and more:
            return self._forward(call, number, st.forward_busy, "dnd" if st.dnd else "busy")
        if st.dnd:
            cc.fail(call, Cause.USER_BUSY, ToneName.BUSY)
            return True
        return self._call_waiting(call, ext)

    def no_answer(self, call: Call) -> bool:
        """The no-answer time ran out for ``call``: a waiting call stops; forward on no answer."""
        cc = self.cc
        b = call.b
        if b is not None and self.waiting.get(b.port) is call:
            self._stop_waiting(b.port)
            call.b = None
            st = self.settings.get(b.label)
            if st.forward_no_answer and call.forwards < MAX_FORWARDS:
                return self._forward(call, b.label, st.forward_no_answer, "no_answer")
            cc.fail(call, Cause.NO_ANSWER, ToneName.BUSY)
            return True
        if call.direction == "inbound" or b is None or b.kind != "extension" or b.state is not LegState.ALERTING:
            return False
        st = self.settings.get(b.label)
        if not st.forward_no_answer or call.forwards >= MAX_FORWARDS:
            return False
        cc.release_leg(call, b, Cause.NO_ANSWER)
        call.b = None
        return self._forward(call, b.label, st.forward_no_answer, "no_answer")

    def skip_hunt(self, number: str) -> bool:
        return self.settings.get(number).dnd

    # --- forwarding and DND ----------------------------------------------------------------------------

    def _forward(self, call: Call, number: str, target: str, why: str) -> bool:
        cc = self.cc
        call.forwards += 1
        log.info("call %s: extension %s forwards (%s) to %s", call.id, number, why, target)
        cc.publish("call.forwarded", call=call.id, extension=number, to=target, reason=why)
        match cc.dialplan.match(target, timed_out=True):
            case Extension(number=to):
                cc.offer_extension(call, to)
            case Outside(number=to):
                call.direction = "outbound"
                call.payers = [Payer("extension", number)]  # the forwarding extension pays for the outside leg
                cc.dial_out(call, to)
            case _:
                cc.fail(call, Cause.UNALLOCATED_NUMBER, ToneName.CONGESTION)
        return True

    def _set_forward(self, call: Call, key: str, target: str) -> None:
        """A forward to an outside number must be in the extension's class of service (checked again
        when a call is forwarded: the class or the cap may have changed since)."""
        route = self.cc.dialplan.match(target, timed_out=True)
        me = self._number_of(call)
        refused = isinstance(route, Outside) and me is not None and not self.cc.check_outside(
            call, route.number, [Payer("extension", me)]).allowed
        if target == me or not isinstance(route, Extension | Outside) or refused:
            self._done(call, False)
        else:
            self._set(call, **{key: target})

    def _set(self, call: Call, **changes: Any) -> None:
        number = self._number_of(call)
        if number is not None:
            self.settings.update(number, **changes)
            self.cc.publish("extension.settings", extension=number, **changes)
        self._done(call, number is not None)

    # --- call waiting ----------------------------------------------------------------------------------

    def _call_waiting(self, call: Call, ext: ExtensionConfig) -> bool:
        cc = self.cc
        current = cc.by_port.get(ext.port)
        if (ext.port in self.waiting or self.cc.holds_party(ext.port) or current is None
                or not self.cc.is_plain_call(current, ext.port)):
            return False
        call.b = Leg(ext.port, "extension", ext.number, LegState.ALERTING)  # not bound: the port has its call
        self.waiting[ext.port] = call
        call.a.state = LegState.ALERTING
        if call.a.kind == "extension":
            cc.lines.play(call.a.port, ToneName.RINGBACK)
        self.media.overlay(self.engine.channel(ext.port), ToneName.CALL_WAITING)
        cc.arm_timer(call, cc.config.dialplan.no_answer_timeout_s, lambda: cc.ring_timeout(call))
        cc.publish("call.waiting", call=call.id, port=ext.port, extension=ext.number, caller=call.caller)
        cc.journal("update", call)
        return True

    def _stop_waiting(self, port: str) -> None:
        if self.waiting.pop(port, None) is not None:
            self.media.overlay(self.engine.channel(port), None)

    def _waiting_released(self, port: str) -> None:
        """A waiting caller hung up (its call then ends normally), or the extension it waits for hung
        up (then the waiting call rings it)."""
        for ext_port, call in list(self.waiting.items()):
            if call.a.port == port:
                self._stop_waiting(ext_port)
                call.b = None
            elif ext_port == port and not self.cc.holds_party(port):
                self._stop_waiting(port)
                self.cc.timers.call_at(self.cc.lines.now(), lambda call=call, p=port: self._ring_waiting(call, p))

    def _ring_waiting(self, call: Call, port: str) -> None:
        cc = self.cc
        if call.end is not None or call.b is None or call.b.port != port:
            return
        if port in cc.by_port or not cc.lines.is_free(port):
            call.b = None
            cc.fail(call, Cause.USER_BUSY, ToneName.BUSY)
            return
        cc.bind(call, port)
        cc.lines.ring(port, _cid(call))
        cc.publish("call.ringing", call=call.id, port=port, extension=call.b.label, caller=call.caller)

    # --- pickup ----------------------------------------------------------------------------------------

    def ringing(self) -> list[tuple[Call, Leg]]:
        """Calls ringing at an extension now (oldest first), with the ringing leg."""
        out = []
        for call in self.cc.calls.values():
            leg = None
            if call.transfer_to is not None and call.transfer_to.kind == "extension":
                leg = call.transfer_to
            elif (call.b is not None and call.b.kind == "extension" and call.answer is None
                  and call.dial_after_answer is None):
                leg = call.b
            if (leg is not None and leg.state is LegState.ALERTING and self.cc.by_port.get(leg.port) is call
                    and call.end is None):
                out.append((call, leg))
        return sorted(out, key=lambda cl: cl[0].start)

    def _pickup_code(self, call: Call, fields: list[str]) -> None:
        target = fields[0]
        me = self.cc.config.extension_by_port(call.a.port)
        if me is None:
            self._done(call, False)
            return
        for ringing, leg in self.ringing():
            if leg.port == call.a.port:
                continue
            if target:
                if leg.label != target:
                    continue
            else:
                ext = self.cc.config.extension_by_number(leg.label)
                if not me.pickup_group or ext is None or ext.pickup_group != me.pickup_group:
                    continue
            self.pickup(call, ringing, leg)
            return
        self._done(call, False)

    def pickup(self, dialling: Call, call: Call, leg: Leg) -> None:
        """The extension of ``dialling`` (its dialling call) answers ``call`` in place of ``leg``."""
        cc = self.cc
        port = dialling.a.port
        me = cc.config.extension_by_port(port)
        assert me is not None
        cc.disarm_timer(dialling)
        cc.unbind(port)
        cc.unbind(leg.port)
        leg.state = LegState.RELEASED
        cc.lines.release(leg.port, Cause.NORMAL_CLEARING)  # stops its ringing
        new = Leg(port, "extension", me.number, LegState.ALERTING)
        cc.bind(call, port)
        cc.publish("call.picked_up", call=call.id, port=port, extension=me.number, ringing=leg.label)
        if call.transfer_to is leg:
            call.transfer_to = new
            cc.transfer_answered(call)
        else:
            call.b = new
            cc.answered_at(port)


def _cid(call: Call) -> CallerId:
    return CallerId(number=call.caller, name=call.caller_name)
