"""Supervisor monitoring: listen, whisper and barge into an agent's call, from a phone or the API; and
``call.conference`` (a third extension joins an answered call).

A *tap* joins a supervisor's extension to a monitored two-party call through a media room
(``daemon.runtime.conference``): the agent and the other party are ``talk`` members (they keep hearing each
other), the supervisor is

* ``listen``: hears both, heard by nobody;
* ``whisper``: hears both, heard only by the agent;
* ``barge``: a ``talk`` member: everyone hears everyone (a 3-way call).

From a phone: ``*31<target>#<pin>#`` listen, ``*32<target>#<pin>#`` whisper, ``*33<target>#<pin>#``
barge, where ``target`` is an extension number or an agent ID (the agent's current extension, from
the ACD) and ``pin`` the PIN of an ``[[agent]]`` with ``supervisor = true``. During a tap the
supervisor switches mode with the keys 1 (listen), 2 (whisper), 3 (barge). Through the API
(``supervisor.listen`` / ``whisper`` / ``barge``, role supervisor) the supervisor's extension rings
first and the tap starts when it answers. A tap ends when the supervisor hangs up or the monitored
call ends or changes (hold, transfer): the supervisor then hears busy tone.

Tap states: ``ringing`` (API: the supervisor's phone rings) -> ``active`` -> ended.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from daemon.api.protocol import ApiError, ErrorCode
from daemon.api.roles import INTEGRATOR, SUPERVISOR
from daemon.api.schema import CALL, EXTENSION, Str
from daemon.api.server import ApiServer
from daemon.calls.feature_codes import FeatureCode
from daemon.calls.hooks import CallListener, Priority
from daemon.calls.model import Call, Leg, LegState
from daemon.calls.pin_guard import Refusal
from daemon.calls.timers import Timer
from daemon.config.model import Config
from daemon.runtime.conference import Mode
from daemon.runtime.engine import Engine
from hal.dsp.callerid import CallerId
from signaling.events import CallAnswered, CallEvent, Cause, DigitReceived

log = logging.getLogger(__name__)

CODES = {"*31": "listen", "*32": "whisper", "*33": "barge"}
MODE_KEYS = {"1": "listen", "2": "whisper", "3": "barge"}


def supervisor_by_pin(config: Config, pin: str) -> str | None:
    """The ID of the supervisor whose PIN ``pin`` is (an ``[[agent]]`` with ``supervisor = true``), if any."""
    acd = getattr(config, "acd", None)
    return next((a.id for a in getattr(acd, "agents", ()) if a.supervisor and pin and a.pin == pin), None)


def supervisor_guarded(engine: Engine, pin: str, source: str) -> str | None:
    """``supervisor_by_pin`` through the box's PIN guard (``daemon.calls.pin_guard``; subject ``supervisor``,
    ``source`` the phone, ``port:2/8``): None for a wrong PIN, and for any PIN while held back."""
    found: list[str] = []

    def right() -> bool:
        sid = supervisor_by_pin(engine.calls.config, pin)
        found.extend([sid] if sid is not None else [])
        return sid is not None
    result = engine.pins.check("supervisor", source, right, "phone")
    if isinstance(result, Refusal):
        log.warning("supervisor code from %s refused: %s", source, result)
    return found[0] if result is True else None


@dataclass
class Tap:
    port: str  # the supervisor's (or the conferenced extension's) port
    own: Call  # the supervisor's own call (its CDR)
    target: Call  # the monitored call
    agent: str  # the port of the monitored call's extension (the one a whisper reaches)
    mode: str
    state: str = "ringing"  # ringing | active
    room: int | None = None
    timer: Timer | None = None


class Supervisors(CallListener):
    """Taps on calls (see the module docstring); call control's listener at ``Priority.SUPERVISION``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.cc = engine.calls
        self.taps: dict[str, Tap] = {}  # by supervisor port
        self.cc.add_listener(self, Priority.SUPERVISION)
        for prefix, mode in CODES.items():
            self.cc.features.add(FeatureCode(prefix, f"supervisor.{mode}",
                                             lambda call, f, mode=mode: self._code(call, mode, f), fields=2))

    # --- who may, and what is monitored ----------------------------------------------------------------

    def pin_ok(self, pin: str, port: str) -> bool:
        return supervisor_guarded(self.engine, pin, f"port:{port}") is not None

    def target_port(self, target: str) -> str | None:
        """The port of extension ``target``, or of the extension agent ``target`` is logged in at."""
        ext = self.cc.config.extension_by_number(target)
        if ext is None and self.cc.queues is not None:
            number = self.cc.queues.agent_extension(target)
            ext = self.cc.config.extension_by_number(number) if number else None
        return ext.port if ext is not None else None

    def monitorable(self, port: str) -> Call | None:
        call = self.cc.by_port.get(port)
        if not self.cc.is_plain_call(call, port) or self.cc.holds_party(port):
            return None
        assert call is not None
        if any(t.target is call for t in self.taps.values()):
            return None  # one tap per call
        return call

    # --- from a phone --------------------------------------------------------------------------------

    def _code(self, call: Call, mode: str, fields: list[str]) -> None:
        target, pin = fields
        agent = self.target_port(target)
        monitored = self.monitorable(agent) if agent is not None and self.pin_ok(pin, call.a.port) else None
        if monitored is None or self.cc.holds_party(call.a.port):
            log.info("supervisor code %s on %s refused (target %s)", mode, call.a.label, target)
            self.cc.code_reply(call, False)
            return
        assert agent is not None
        cc = self.cc
        cc.disarm_timer(call)
        call.a.state = LegState.ANSWERED
        call.answer = time.time()
        cc.begin(call)  # called: the code as dialled, fields masked (*31##)
        tap = Tap(call.a.port, call, monitored, agent, mode)
        self.taps[call.a.port] = tap
        self._start(tap)

    # --- call control's hooks ----------------------------------------------------------------------

    def intercept(self, ev: CallEvent) -> bool:
        match ev:
            case DigitReceived(port=port, digit=digit):
                return self.mode_key(port, digit)
            case CallAnswered(port=port):
                return self.tap_answered(port)
        return False

    def mode_key(self, port: str, digit: str) -> bool:
        tap = self.taps.get(port)
        if tap is None or tap.state != "active" or tap.mode == "conference":
            return False
        mode = MODE_KEYS.get(digit)
        if mode is not None and mode != tap.mode:
            self._set_mode(tap, mode)
        return True

    # --- from the API --------------------------------------------------------------------------------

    def request(self, mode: str, extension: str, target: str) -> Tap:
        """Ring ``extension``; when it answers it taps the call of ``target`` in ``mode``. Raises
        LookupError / ValueError. An extension already tapping that call just changes mode."""
        cc = self.cc
        ext = cc.config.extension_by_number(extension)
        if ext is None:
            raise LookupError(f"no extension {extension}")
        tap = self.taps.get(ext.port)
        agent = self.target_port(target)
        if agent is None:
            raise LookupError(f"no extension or logged-in agent {target}")
        if tap is not None:
            if tap.agent != agent or tap.mode == "conference" or mode == "conference":
                raise ValueError(f"extension {extension} is already monitoring another call")
            if mode != tap.mode:  # as a mode key on the phone does
                self._set_mode(tap, mode)
            return tap
        monitored = self.monitorable(agent)
        if monitored is None:
            raise ValueError(f"{target} is not in an answered two-party call (or it is already monitored)")
        if ext.port in cc.by_port or not cc.lines.is_free(ext.port) or ext.port == agent:
            raise ValueError(f"extension {extension} is busy")
        own = Call(cc.new_id(), "internal", Leg(ext.port, "extension", ext.number, LegState.ALERTING),
                   caller=ext.number, called=f"{mode}:{target}", caller_name=ext.name or None)
        cc.bind(own, ext.port)
        cc.begin(own)
        tap = Tap(ext.port, own, monitored, agent, mode)
        self.taps[ext.port] = tap
        other = self._other(tap)
        shown = self.extension_label(agent) if mode == "conference" else other.label if other else target
        cc.lines.ring(ext.port, CallerId(number=shown, name=mode.upper()))
        tap.timer = cc.timers.call_at(cc.lines.now() + cc.config.dialplan.no_answer_timeout_s,
                                      lambda: self._end(tap, Cause.NO_ANSWER))
        cc.publish("call.ringing", call=own.id, port=ext.port, extension=ext.number, caller=target, **{mode: True})
        return tap

    def tap_answered(self, port: str) -> bool:
        tap = self.taps.get(port)
        if tap is None or tap.state != "ringing":
            return False
        if tap.timer is not None:
            tap.timer.cancel()
            tap.timer = None
        own = tap.own
        own.answer = time.time()
        own.a.state = LegState.ANSWERED
        if not self._still_valid(tap):
            self._end(tap, Cause.NORMAL_CLEARING)
            return True
        self._start(tap)
        self.cc.journal("update", own)
        return True

    def stop(self, extension: str) -> None:
        ext = self.cc.config.extension_by_number(extension)
        tap = self.taps.get(ext.port) if ext is not None else None
        if tap is None:
            raise LookupError(f"extension {extension} is not monitoring a call")
        self._end(tap, Cause.NORMAL_CLEARING)

    # --- the tap ---------------------------------------------------------------------------------------

    def _other(self, tap: Tap) -> Leg | None:
        """The monitored call's other party (the agent's counterpart)."""
        return tap.target.other_leg(tap.agent)

    def extension_label(self, port: str) -> str:
        ext = self.cc.config.extension_by_port(port)
        return ext.number if ext is not None else port

    def _start(self, tap: Tap) -> None:
        tap.state = "active"
        self.cc.lines.play(tap.port, None)
        if tap.mode == "conference":  # the extension that joined, as the op named it, and its own call
            self._join(tap)
            self.cc.publish("call.conference", call=tap.target.id, extension=tap.own.a.label, port=tap.port,
                            leg=tap.own.id)
        else:
            self._set_mode(tap, tap.mode)

    def _set_mode(self, tap: Tap, mode: str) -> None:
        """The tap is in ``mode`` from now on; once active, its room follows and the mode's event is sent."""
        tap.mode = mode
        if tap.state == "active":
            self._join(tap)
            self.cc.publish(f"supervisor.{mode}", supervisor=tap.own.a.label, call=tap.target.id,
                            extension=self.extension_label(tap.agent), port=tap.port)

    def _join(self, tap: Tap) -> None:
        rooms = self.engine.media.rooms
        ch = self.engine.channel
        other = self._other(tap)
        assert other is not None
        me = ch(tap.port)
        if tap.mode in ("barge", "conference"):
            mine: tuple[str, int | None] = (Mode.TALK, None)
        elif tap.mode == "whisper":
            mine = (Mode.WHISPER, ch(tap.agent))
        else:
            mine = (Mode.LISTEN, None)
        if tap.room is None:
            tap.room = rooms.create({ch(tap.agent): (Mode.TALK, None), ch(other.port): (Mode.TALK, None), me: mine})
        else:
            rooms.join(tap.room, me, *mine)

    def _still_valid(self, tap: Tap) -> bool:
        call, other = tap.target, self._other(tap)
        return (call.end is None and other is not None and other.state is LegState.ANSWERED
                and self.cc.by_port.get(tap.agent) is call and self.cc.by_port.get(other.port) is call
                and not self.cc.holds_party(tap.agent))

    def _end(self, tap: Tap, cause: Cause) -> None:
        cc = self.cc
        if self.taps.get(tap.port) is tap:
            del self.taps[tap.port]
        if tap.timer is not None:
            tap.timer.cancel()
            tap.timer = None
        if tap.room is not None:
            self.engine.media.rooms.close(tap.room)
            tap.room = None
        own = tap.own
        if own.end is None:
            if own.a.state is not LegState.RELEASED and cc.by_port.get(tap.port) is own:
                cc.release_leg(own, own.a, cause)
            cc.end(own, cause)
        cc.publish("supervisor.ended", supervisor=own.a.label, call=tap.target.id, extension=self.extension_label(tap.agent))

    def call_changed(self, call: Call) -> None:
        """``call`` is about to change (hold, transfer): taps on it end now."""
        for tap in list(self.taps.values()):
            if tap.target is call:
                self._end(tap, Cause.NORMAL_CLEARING)

    def ended(self, call: Call) -> None:
        """``call`` ended: the taps on it end (their supervisors hear busy tone), and the tap whose own
        call it was (the supervisor hung up)."""
        for tap in list(self.taps.values()):
            if tap.target is call or tap.own is call:
                self._end(tap, Cause.NORMAL_CLEARING)


def register(api: ApiServer, supervisors: Supervisors) -> None:
    """The API ops: supervisor.listen / whisper / barge / stop (supervisor role), call.conference."""

    def supervise(mode: str) -> Callable[[dict], dict]:
        def op(req: dict) -> dict:
            extension, target = req["extension"], req["target"]
            tap = _request(supervisors, mode, extension, target)
            return {"call": tap.own.id, "monitored": tap.target.id, "extension": extension, "mode": tap.mode,
                    "state": tap.state}
        return op

    def stop(req: dict) -> dict:
        extension = req["extension"]
        try:
            supervisors.stop(extension)
        except LookupError as exc:
            raise ApiError(ErrorCode.NOT_FOUND, str(exc).strip("'")) from exc
        return {"extension": extension}

    def conference(req: dict) -> dict:
        call_id, extension = req["call"], req["extension"]
        call = supervisors.cc.calls.get(call_id)
        if call is None:
            raise ApiError(ErrorCode.NOT_FOUND, f"no call {call_id}")
        port = next((leg.port for leg in call.legs() if leg.kind == "extension"), None)
        ext = supervisors.cc.config.extension_by_port(port) if port else None  # the configuration in force
        if ext is None:
            raise ApiError(ErrorCode.BAD_ARGUMENT, "the call has no extension")
        tap = _request(supervisors, "conference", extension, ext.number)
        return {"call": call_id, "extension": extension, "leg": tap.own.id}

    for mode in ("listen", "whisper", "barge"):
        api.op(f"supervisor.{mode}", supervise(mode), roles=SUPERVISOR, audit=True,
               args={"extension": EXTENSION, "target": Str(32, min_len=1, what="an extension number or agent ID")})
    api.op("supervisor.stop", stop, roles=SUPERVISOR, audit=True, args={"extension": EXTENSION})
    api.op("supervisor.taps", lambda req: [
        {"extension": t.own.a.label, "call": t.target.id, "mode": t.mode, "state": t.state,
         "agent_extension": supervisors.extension_label(t.agent)}
        for t in supervisors.taps.values()], roles=SUPERVISOR)
    api.op("call.conference", conference, roles=INTEGRATOR, audit=True, args={"call": CALL, "extension": EXTENSION})


def _request(supervisors: Supervisors, mode: str, extension: str, target: str) -> Tap:
    try:
        return supervisors.request(mode, extension, target)
    except LookupError as exc:
        raise ApiError(ErrorCode.NOT_FOUND, str(exc).strip("'")) from exc
    except ValueError as exc:
        raise ApiError(ErrorCode.BAD_ARGUMENT, str(exc)) from exc
