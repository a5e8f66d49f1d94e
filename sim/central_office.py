"""The simulated central office behind the FXO ports: one exchange line per port.

Inbound: ``call(line, caller_id)`` rings the line 1 s on / 4 s off (RingStart/RingStop events, 25 Hz
implied) and sends the caller ID (FSK MDMF by default, SDMF, DTMF, or none, per line) about 0.5 s
after the first ring ends; the host going off hook answers and connects the line to a simulated
remote party (a ``Mouth`` that can send a tone or a clip, and a recorder of what it hears).

Outbound: the host going off hook on an idle line gets dial tone (450 Hz continuous); DTMF digits in
the host's audio are detected, the first one stops dial tone, the number is complete on '#', at a
configured length or after the inter-digit timeout, and is routed by a per-number scenario (answer
after N s with ringback meanwhile, busy, no answer, unallocated -> congestion, a recorded announcement).

Answering the way China's analog network does: the exchange gives no answer signal (a polarity
reversal only where the line or the scenario asks for one); the remote party is silent, sends a
tone, or is a person who says a greeting ("喂，你好？", espeak-ng) a moment after lifting and then
waits for a reply. A number that is busy, switched off or vacant may instead get the network's
recorded announcement ("您拨打的电话正忙 / 已关机 / 是空号", Mandarin then English, repeated, with or
without the SIT-like tones in front) and then busy tone, never an answer.

Far-end hang-up is signalled by busy tone only by default (as many Chinese exchanges do); per line
a loop-current drop and/or a polarity reversal can be added. Host on hook puts the line idle.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from hal.dsp.callerid import CallerId, dtmf_cid_encode, fsk_encode
from hal.dsp.dtmf import DtmfReceiver
from hal.dsp.tones import CHINA, ToneName
from hal.events import Event, LoopCurrentDrop, PolarityReversal, RingStart, RingStop, SendFlash, SetHook
from hal.ports import Port
from sim import speech
from sim.audio import Mouth, Recorder, SamplesSource, ToneSource

log = logging.getLogger(__name__)

CALLERID_METHODS = ("fsk_mdmf", "fsk_sdmf", "dtmf", "none")
ACTIONS = ("answer", "busy", "noanswer", "unallocated", "announcement")
PARTIES = ("silent", "voice")
SCENARIO_KEYS = ("action", "after_s", "talk_s", "tone", "party", "say", "voice_delay_s", "polarity",
                 "announcement", "sit", "repeats", "ringback_s")


@dataclass
class LineSettings:
    """Per-line behaviour of the exchange (``[co]`` defaults, ``[[co.line]]`` overrides)."""

    callerid: str = "fsk_mdmf"
    ring_on_ms: int = 1000
    ring_off_ms: int = 4000
    cid_delay_ms: int = 500  # after the end of the first ring
    inter_digit_timeout_s: float = 3.0
    first_digit_timeout_s: float = 10.0
    number_length: int = 0  # 0: the number ends on '#' or the inter-digit timeout
    disconnect_busy: bool = True
    disconnect_loop_current: bool = False
    disconnect_polarity: bool = False
    loop_current_drop_ms: int = 600
    polarity_on_answer: bool = False
    busy_tone_s: float = 0.0  # how long busy/congestion plays after which the line goes silent; 0 = forever

    @classmethod
    def from_dict(cls, d: dict, base: LineSettings | None = None) -> LineSettings:
        known = {f.name for f in fields(cls)}
        bad = sorted(set(d) - known - {"port", "disconnect"})
        if bad:
            raise ValueError(f"unknown line setting(s): {', '.join(bad)}")
        out = asdict(base or cls())
        for k, v in d.items():
            if k in known:
                out[k] = v
        if "disconnect" in d:
            disc = d["disconnect"]
            if isinstance(disc, str):
                disc = [disc]
            if not isinstance(disc, list) or not set(disc) <= {"busy", "loop_current", "polarity"}:
                raise ValueError("disconnect must be a list of 'busy', 'loop_current', 'polarity'")
            out["disconnect_busy"] = "busy" in disc
            out["disconnect_loop_current"] = "loop_current" in disc
            out["disconnect_polarity"] = "polarity" in disc
        s = cls(**out)
        if s.callerid not in CALLERID_METHODS:
            raise ValueError(f"callerid must be one of {', '.join(CALLERID_METHODS)}")
        return s


@dataclass
class Scenario:
    """What the far end does when the box dials a number."""

    action: str = "answer"
    after_s: float = 3.0  # answer: ringback this long first; busy/unallocated/announcement: silence this long first
    talk_s: float | None = None  # answer: the far end hangs up after this long
    tone: float | None = None  # answer: the far end sends this tone (Hz) once answered
    party: str = "silent"  # answer: "silent", or "voice": a person says ``say`` after ``voice_delay_s``
    say: str = speech.GREETING
    voice_delay_s: float = 0.4  # from lifting the handset to the first word
    polarity: bool | None = None  # answer: a polarity reversal on answer (None: the line's polarity_on_answer)
    announcement: str = "off"  # announcement: busy | off | vacant
    sit: bool = False  # announcement: the SIT-like three tones before each pass
    repeats: int = 2  # announcement: passes, then busy tone
    ringback_s: float = 0.0  # announcement: ringback this long before it (after the after_s silence)

    def __post_init__(self) -> None:
        if self.action == "answer" and self.party == "voice":
            speech.prepare(self.say)
        elif self.action == "announcement":
            speech.prepare_announcement(self.announcement)

    @classmethod
    def from_dict(cls, d: dict) -> Scenario:
        bad = sorted(set(d) - set(SCENARIO_KEYS) - {"number"})
        if bad:
            raise ValueError(f"unknown scenario key(s): {', '.join(bad)}")
        action = d.get("action", "answer")
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
        after = d.get("after_s", 3.0 if action in ("answer", "noanswer") else 0.5)
        talk, tone = d.get("talk_s"), d.get("tone")
        delay, ringback = d.get("voice_delay_s", 0.4), d.get("ringback_s", 0.0)
        for name, v in (("after_s", after), ("talk_s", talk), ("tone", tone), ("voice_delay_s", delay),
                        ("ringback_s", ringback)):
            if v is not None and (not isinstance(v, int | float) or isinstance(v, bool) or v < 0):
                raise ValueError(f"{name} must be a non-negative number")
        party = d.get("party", "silent")
        if party not in PARTIES:
            raise ValueError(f"party must be one of {', '.join(PARTIES)}")
        say = d.get("say", speech.GREETING)
        if not isinstance(say, str) or not say.strip():
            raise ValueError("say must be a non-empty string")
        polarity, sit = d.get("polarity"), d.get("sit", False)
        for name, v in (("polarity", polarity), ("sit", sit)):
            if v is not None and not isinstance(v, bool):
                raise ValueError(f"{name} must be true or false")
        kind = d.get("announcement", "off")
        if kind not in speech.ANNOUNCEMENTS:
            raise ValueError(f"announcement must be one of {', '.join(speech.ANNOUNCEMENTS)}")
        repeats = d.get("repeats", 2)
        if not isinstance(repeats, int) or isinstance(repeats, bool) or not 1 <= repeats <= 20:
            raise ValueError("repeats must be an integer from 1 to 20")
        return cls(action, float(after), None if talk is None else float(talk), None if tone is None else float(tone),
                   party, say, float(delay), polarity, kind, bool(sit), repeats, float(ringback))


@dataclass
class CallRecord:
    direction: str  # "in" / "out"
    start_tick: int
    caller_id: dict | None = None
    digits: str = ""  # every DTMF digit the CO heard on this call, in order
    number: str | None = None  # the dialled number once complete ('#' not included)
    scenario: str | None = None
    answer_tick: int | None = None
    end_tick: int | None = None
    cleared_by: str | None = None  # "host" / "far" / "abandon"
    flashes: list = field(default_factory=list)


def _ticks(seconds: float) -> int:
    return max(1, round(seconds * 50))


class CoLine:
    def __init__(self, port: Port, settings: LineSettings, co: CentralOffice, record_s: float = 120.0) -> None:
        self.port = port
        self.id = port.id
        self.s = settings
        self.co = co
        self.hook_off = False
        self.state = "idle"
        self.ring_on = False
        self.polarity_reversed = False
        self.party = Mouth()
        self.recorder = Recorder(record_s)
        self.call: CallRecord | None = None
        self.history: deque[CallRecord] = deque(maxlen=50)
        self._tone: ToneSource | None = None
        self._ring_t0 = 0
        self._cid_at: int | None = None
        self._cid: CallerId | None = None
        self._deadline: int | None = None
        self._deadline_what = ""
        self._scenario: Scenario | None = None
        self._dtmf: DtmfReceiver | None = None
        self._last_digit_tick = 0
        self._pending_drop: int | None = None
        self._cid_mouth: Mouth | None = None
        self._cid_method = settings.callerid
        self._announcement: SamplesSource | None = None

    # ---- helpers ----------------------------------------------------------------------------------

    @property
    def _emit(self) -> Callable[[Event], None]:
        return self.co.emit

    def _now(self) -> int:
        return self.co.now()

    def _set(self, state: str, tone: ToneName | None = None, deadline_s: float | None = None,
             what: str = "") -> None:
        self.state = state
        self._tone = ToneSource.from_spec(CHINA[tone]) if tone is not None else None
        self._deadline = self._now() + _ticks(deadline_s) if deadline_s else None
        self._deadline_what = what

    def _end_call(self, by: str) -> None:
        if self.call is not None:
            self.call.end_tick = self._now()
            self.call.cleared_by = self.call.cleared_by or by
            self.call = None

    # ---- the far end's actions (tests, traffic) -----------------------------------------------------

    def incoming(self, cid: CallerId | None, method: str | None = None) -> None:
        """A call to this line: ring it and send ``cid`` between the first and second ring."""
        if self.state != "idle" or self.hook_off:
            raise ValueError(f"line {self.id} is not idle ({self.state}, hook {'off' if self.hook_off else 'on'})")
        method = method or self.s.callerid
        if method not in CALLERID_METHODS:
            raise ValueError(f"callerid method must be one of {', '.join(CALLERID_METHODS)}")
        now = self._now()
        self.call = CallRecord("in", now, _cid_dict(cid))
        self.history.append(self.call)
        self._set("ringing")
        self._ring_t0 = now + 1  # the first ring starts with the next tick (step() emits RingStart)
        self._cid = cid if method != "none" else None
        self._cid_method = method
        self._cid_at = self._ring_t0 + _ticks(self.s.ring_on_ms / 1000) + max(0, round(self.s.cid_delay_ms / 20))
        self.ring_on = False

    def hangup(self) -> None:
        """The remote party hangs up (or the caller abandons a ringing call)."""
        if self.state == "ringing":
            if self.ring_on:
                self.ring_on = False
                self._emit(RingStop(self.id))
            self._cid_mouth = None
            if self.call:
                self.call.cleared_by = "abandon"
            self._end_call("abandon")
            self._set("idle")
            return
        if self.state == "idle" or not self.hook_off:
            raise ValueError(f"line {self.id} has no call to hang up")
        if self.state in ("cleared",):
            return
        if self.call:
            self.call.cleared_by = "far"
        self.party.silence()
        self._far_clear()

    def _far_clear(self) -> None:
        s = self.s
        self._set("cleared", ToneName.BUSY if s.disconnect_busy else None,
                  s.busy_tone_s if s.disconnect_busy and s.busy_tone_s else None, "tone_end")
        if s.disconnect_polarity:
            self.polarity_reversed = not self.polarity_reversed
            self._emit(PolarityReversal(self.id))
        if s.disconnect_loop_current:
            self._pending_drop = self._now() + max(1, round(s.loop_current_drop_ms / 20))

    # ---- the host's commands -------------------------------------------------------------------------

    def command(self, cmd: object) -> None:
        now = self._now()
        if isinstance(cmd, SetHook):
            if cmd.off_hook and not self.hook_off:
                self.hook_off = True
                if self.state == "ringing":
                    self._answer_inbound()
                elif self.state == "idle":
                    self.party = Mouth()
                    self.call = CallRecord("out", now)
                    self.history.append(self.call)
                    self._dtmf = DtmfReceiver()
                    self._set("dialtone", ToneName.DIAL, self.s.first_digit_timeout_s, "first_digit")
            elif not cmd.off_hook and self.hook_off:
                self.hook_off = False
                self._end_call("host")
                self.party = Mouth()
                self._dtmf = None
                self._pending_drop = None
                self.polarity_reversed = False
                self._announcement = None
                self._set("idle")
        elif isinstance(cmd, SendFlash):
            if self.call is not None:
                self.call.flashes.append([now, cmd.ms])
            self.co.flashes.append({"line": self.id, "tick": now, "ms": cmd.ms})
        else:
            raise ValueError(f"{type(cmd).__name__} does not apply to an FXO port")

    def _answer_inbound(self) -> None:
        if self.ring_on:
            self.ring_on = False
            self._emit(RingStop(self.id))
        self._cid_mouth = None
        if self.call:
            self.call.answer_tick = self._now()
        self._dtmf = DtmfReceiver()
        self._cid_at = None
        self._set("connected")

    def _digit(self, d: str, tick: int) -> None:
        call = self.call
        if call is None:
            return
        call.digits += d
        if self.state == "dialtone":
            self._set("dialing")
        if self.state != "dialing":
            return
        self._last_digit_tick = tick
        number = call.digits
        if d == "#":
            self._complete(number[:-1])
        elif self.s.number_length and len(number) >= self.s.number_length:
            self._complete(number)
        else:
            self._deadline = tick + _ticks(self.s.inter_digit_timeout_s)
            self._deadline_what = "inter_digit"

    def _complete(self, number: str) -> None:
        assert self.call is not None
        self.call.number = number
        sc = self.co.scenario_for(number)
        self._scenario = sc
        self.call.scenario = sc.action
        log.info("line %s: dialled %s -> %s", self.id, number, sc.action)
        if sc.action == "answer":
            self._set("alerting", ToneName.RINGBACK, sc.after_s, "answer")
        elif sc.action == "noanswer":
            self._set("alerting", ToneName.RINGBACK)
        elif sc.action == "busy":
            self._set("routing", None, sc.after_s, "busy")
        elif sc.action == "announcement":
            first = "announcement_ringback" if sc.ringback_s else "announcement"
            self._set("routing", None, sc.after_s, first)
            if not sc.after_s:
                self._timer(first)
        else:
            self._set("routing", None, sc.after_s, "congestion")

    def _timer(self, what: str) -> None:
        if what == "first_digit":
            self._set("busy", ToneName.BUSY, self.s.busy_tone_s or None, "tone_end")
        elif what == "inter_digit":
            assert self.call is not None
            self._complete(self.call.digits)
        elif what == "answer":
            if self.call:
                self.call.answer_tick = self._now()
            sc = self._scenario
            self._set("connected", None, sc.talk_s if sc and sc.talk_s else None, "far_hangup")
            if sc and sc.tone:
                self.party.tone(sc.tone)
            elif sc and sc.party == "voice":
                greeting = speech.clip(sc.say)
                pause = speech.silence(sc.voice_delay_s)
                # the greeting, then listening for a reply for 3 s, then "喂" again, and so on
                self.party.say(SamplesSource(np.concatenate([pause, greeting, speech.silence(3.0 - sc.voice_delay_s)]),
                                             loop=True, name="voice"))
            if self.s.polarity_on_answer if sc is None or sc.polarity is None else sc.polarity:
                self.polarity_reversed = not self.polarity_reversed
                self._emit(PolarityReversal(self.id))
        elif what == "far_hangup":
            self.hangup()
        elif what == "busy":
            self._set("busy", ToneName.BUSY, self.s.busy_tone_s or None, "tone_end")
        elif what == "congestion":
            self._set("congestion", ToneName.CONGESTION, self.s.busy_tone_s or None, "tone_end")
        elif what == "tone_end":
            self._tone = None
        elif what == "announcement_ringback":
            sc = self._scenario
            self._set("alerting", ToneName.RINGBACK, sc.ringback_s if sc else None, "announcement")
        elif what == "announcement":
            sc = self._scenario
            assert sc is not None
            one = np.concatenate([speech.announcement(sc.announcement, sc.sit), speech.silence(1.0)])
            self._set("announcing")
            self._announcement = SamplesSource(np.tile(one, sc.repeats), name=f"announcement-{sc.announcement}")

    # ---- the tick ------------------------------------------------------------------------------------

    def step(self, tick: int) -> np.ndarray | None:
        if self._pending_drop is not None and tick >= self._pending_drop:
            self._pending_drop = None
            if self.hook_off:
                self._emit(LoopCurrentDrop(self.id, self.s.loop_current_drop_ms))
        if self._deadline is not None and tick >= self._deadline:
            self._deadline = None
            self._timer(self._deadline_what)
        if self.state == "ringing":
            on_t, off_t = _ticks(self.s.ring_on_ms / 1000), _ticks(self.s.ring_off_ms / 1000)
            on = (tick - self._ring_t0) % (on_t + off_t) < on_t
            if on != self.ring_on:
                self.ring_on = on
                self._emit(RingStart(self.id) if on else RingStop(self.id))
            if self._cid_at is not None and tick >= self._cid_at:
                self._cid_at = None
                self._send_cid()
            return self._cid_mouth.frame() if self._cid_mouth is not None else None
        if self.state == "connected":
            return self.party.frame()
        if self.state == "announcing":
            f = self._announcement.frame() if self._announcement is not None else None
            if f is not None:
                return f
            self._announcement = None
            self._set("busy", ToneName.BUSY, self.s.busy_tone_s or None, "tone_end")
        if self._tone is not None:
            f = self._tone.frame()
            if f is None:
                self._tone = None
            return f
        return None

    def _send_cid(self) -> None:
        cid = self._cid
        if cid is None:
            return
        self._cid_mouth = Mouth()
        if self._cid_method == "dtmf":
            self._cid_mouth.dial(dtmf_cid_encode(cid), on_ms=70, off_ms=70)
        else:
            self._cid_mouth.say(SamplesSource(fsk_encode(cid, mdmf=self._cid_method == "fsk_mdmf"), name="fsk-cid"))

    def hear(self, tick: int, alaw: np.ndarray, linear: np.ndarray) -> None:
        if not self.hook_off:
            return
        self.recorder.record(tick, alaw)
        if self._dtmf is not None:
            for d in self._dtmf.process(linear):
                self._digit(d, tick)

    # ---- state -------------------------------------------------------------------------------------

    def resync_events(self) -> list[Event]:
        return [RingStart(self.id)] if self.ring_on else []

    def digits(self) -> dict:
        call = self.call or (self.history[-1] if self.history else None)
        return {"line": self.id, "digits": call.number if call and call.number is not None else
                (call.digits if call else ""), "raw": call.digits if call else "",
                "complete": bool(call and call.number is not None)}

    def state_dict(self) -> dict:
        call = self.call or (self.history[-1] if self.history else None)
        return {"line": self.id, "state": self.state, "hook": "off" if self.hook_off else "on",
                "ringing": self.ring_on, "polarity_reversed": self.polarity_reversed,
                "party": self.party.describe(), "dialling": self.party.dialling, "call": asdict(call) if call else None,
                "in_call": self.call is not None, "settings": asdict(self.s)}


def _cid_dict(cid: CallerId | None) -> dict | None:
    if cid is None:
        return None
    return {"number": cid.number, "name": cid.name, "absent_reason": cid.absent_reason}


class CentralOffice:
    """The exchange: its lines (one per FXO port) and the scenarios for numbers the box dials."""

    def __init__(self, emit: Callable[[Event], None], now: Callable[[], int]) -> None:
        self.emit = emit
        self.now = now
        self.lines: dict[str, CoLine] = {}
        self.scenarios: dict[str, Scenario] = {}
        self.default_scenario = Scenario("answer", 3.0)
        self.flashes: deque[dict] = deque(maxlen=200)

    def add_line(self, port: Port, settings: LineSettings, record_s: float = 120.0) -> CoLine:
        line = self.lines[port.id] = CoLine(port, settings, self, record_s)
        return line

    def line(self, line_id: str) -> CoLine:
        try:
            return self.lines[line_id]
        except KeyError:
            raise ValueError(f"no CO line {line_id!r} (lines: {', '.join(self.lines)})") from None

    def scenario_for(self, number: str) -> Scenario:
        return self.scenarios.get(number, self.default_scenario)

    def call(self, line_id: str, number: str | None, name: str | None = None, method: str | None = None,
             absent_reason: str | None = None) -> None:
        cid = None
        if number is not None or absent_reason is not None or name is not None:
            cid = CallerId(number=number, name=name, when=dt.datetime.now().replace(second=0, microsecond=0),
                           absent_reason=absent_reason if number is None else None)
        self.line(line_id).incoming(cid, method)

    def idle_lines(self) -> list[CoLine]:
        return [ln for ln in self.lines.values() if ln.state == "idle" and not ln.hook_off]
