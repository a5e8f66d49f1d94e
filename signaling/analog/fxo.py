"""FXO loop-start signalling: the box is the "phone" on a central-office line (sans-I/O).

``FxoLine`` is fed board events (RingStart, RingStop, PolarityReversal, LoopCurrentDrop), what the
port's receivers heard (caller ID, call-progress tones, DTMF) and the time (``now``, seconds); it
hands back, through ``take_outputs``, board commands (SetHook), media requests (Detect, SendDtmf)
and call events (CallerIdReceived, CallOffered, CallProgress, CallAnswered, DigitReceived,
CallReleased), in order.

Inbound::

    idle --RingStart--> ringing          (caller-ID receiver on)
    ringing: CallOffered once caller ID is decoded, or at the second RingStart without it
             (at the first RingStart when the line is configured with callerid = "none")
    ringing --answer()--> connected
    ringing --no RingStart for T_RING_GONE after a RingStop--> idle   (CallReleased if offered)
    ringing --release(cause)--> rejected --no RingStart for T_RING_GONE--> idle
        (an analog line cannot refuse a call: the rest of its ringing is ignored, not re-offered)

Caller ID: "fsk" and "dtmf" both turn on the ``callerid`` detector; the media layer's receiver
decodes FSK and DTMF (``A<number>C``) caller ID alike and reports a ``CallerId``.

Outbound::

    idle --dial()--> seizing --dial tone (or T_DIALTONE)--> dialing (SendDtmf)
    dialing --T_DTMF_SEND (the digits' estimated sending time)--> awaiting_answer (answer detector on)
    awaiting_answer: ringback -> CallProgress(RINGING); a polarity reversal, or the answer detector's
        verdict "answered" (hal.dsp.answer: a greeting after ringback, a fax's CED, silence too long)
        -> CallAnswered(by, reason, ago), connected; busy / congestion, or the detector's "not
        answered" (the SIT-like tones) -> on hook, CallReleased(cause, answer_by, answer_reason), idle;
        a recorded announcement (or music) instead of ringback -> CallProgress(ANNOUNCEMENT), and the
        busy tone after it is "not answered, announcement"

China's analog lines rarely reverse polarity on answer, so the audio decides unless the line is
configured ``answer_detect = "polarity"`` (a line known to give it: nothing but the reversal is an
answer there). An announcement is reported with cause NORMAL_UNSPECIFIED: which one it was (busy,
switched off, vacant) is in its words, which the box does not read.

Connected: the far end's hang-up is recognised by busy or congestion tone (``disconnect_busy``,
the usual case on Chinese exchanges), a loop-current drop (``disconnect_loop_current``) or a
polarity reversal (``disconnect_polarity``): on hook, CallReleased(NORMAL_CLEARING), idle.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Any

from hal.dsp.answer import AnswerVerdict
from hal.dsp.callerid import CallerId
from hal.dsp.progress import ProgressEvent
from hal.dsp.tones import ToneName
from hal.events import LoopCurrentDrop, PolarityReversal, RingStart, RingStop, SetHook
from signaling.events import (
    CallAnswered,
    CallerIdReceived,
    CallOffered,
    CallProgress,
    CallReleased,
    Cause,
    DigitReceived,
    Progress,
)
from signaling.machine import PortMachine
from signaling.media import Detect, SendDtmf

log = logging.getLogger(__name__)

T_RING_GONE = 6.0  # no RingStart this long after a RingStop: the ringing (the caller) is gone
T_RING_BURST_MAX = 3.0  # a RingStart never followed by RingStop: counted from the RingStart instead
T_DIALTONE = 3.0  # seized without recognised dial tone: dial anyway
T_DTMF_DIGIT = 0.16  # per digit sent (tone + pause), to estimate when dialling is done
T_DTMF_SETTLE = 0.2
ANSWER_DETECT = ("audio", "polarity")
NOT_ANSWERED_CAUSE = {"busy": Cause.USER_BUSY, "congestion": Cause.SWITCHING_EQUIPMENT_CONGESTION}


@dataclass(frozen=True)
class FxoConfig:
    callerid: str = "fsk"  # "fsk" | "dtmf" | "none" (both fsk and dtmf: the callerid detector decodes either)
    disconnect_busy: bool = True
    disconnect_loop_current: bool = False
    disconnect_polarity: bool = False
    answer_detect: str = "audio"  # "audio": hal.dsp.answer (and a polarity reversal); "polarity": only that

    def __post_init__(self) -> None:
        if self.answer_detect not in ANSWER_DETECT:
            raise ValueError(f"answer_detect must be one of {', '.join(ANSWER_DETECT)}")


class FxoState(enum.StrEnum):
    IDLE = "idle"  # on hook, no ringing
    RINGING = "ringing"  # on hook, the exchange rings us (offered once caller ID or a second ring came)
    REJECTED = "rejected"  # on hook, call control refused the ringing call: wait for the ringing to stop
    SEIZING = "seizing"  # off hook for an outbound call, waiting for dial tone
    DIALING = "dialing"  # sending the number's DTMF digits
    AWAITING_ANSWER = "awaiting_answer"  # number sent: watching for ringback, busy, answer
    CONNECTED = "connected"  # in a call


OFF_HOOK_STATES = (FxoState.SEIZING, FxoState.DIALING, FxoState.AWAITING_ANSWER, FxoState.CONNECTED)
DETECTORS = ("dtmf", "progress", "callerid", "answer")


class FxoLine(PortMachine):
    """The signalling state of one FXO port (see the module docstring)."""

    def __init__(self, port: str, config: FxoConfig | None = None) -> None:
        super().__init__(port)
        self.config = config if config is not None else FxoConfig()
        self.state = FxoState.IDLE
        self._rings = 0  # RingStarts seen in this ringing
        self._offered = False
        self._number = ""  # outbound: the number to dial
        self._ringback = False  # outbound: ringback recognised since dialling
        self._announcement = False  # outbound: the answer detector heard an announcement (or music)

    # --- the engine's view ---------------------------------------------------------------------------

    @property
    def is_idle(self) -> bool:
        return self.state is FxoState.IDLE

    # --- inputs --------------------------------------------------------------------------------------

    def handle_board_event(self, ev: Any, now: float) -> None:
        if isinstance(ev, RingStart):
            self._ring_start(now)
        elif isinstance(ev, RingStop):
            if self.state in (FxoState.RINGING, FxoState.REJECTED):
                self._timers["T_RING_GONE"] = now + T_RING_GONE
            else:
                self._ignored(ev)
        elif isinstance(ev, PolarityReversal):
            if self.state is FxoState.AWAITING_ANSWER:
                self._answered("polarity", "polarity", 0.0)
            elif self.state is FxoState.CONNECTED and self.config.disconnect_polarity:
                self._far_end_cleared(Cause.NORMAL_CLEARING)
            else:
                self._ignored(ev)
        elif isinstance(ev, LoopCurrentDrop):
            if self.state in OFF_HOOK_STATES and self.config.disconnect_loop_current:
                self._far_end_cleared(Cause.NORMAL_CLEARING)
            else:
                self._ignored(ev)
        else:
            self._ignored(ev)

    def handle_caller_id(self, cid: CallerId, now: float) -> None:
        if self.state is not FxoState.RINGING:
            self._ignored(cid)
            return
        self._emit(CallerIdReceived(self.port, cid.number, cid.name))
        if not self._offered:
            self._offered = True
            self._out.append(Detect(self.port, "callerid", False))
            self._emit(CallOffered(self.port, caller=cid.number, caller_name=cid.name))

    def handle_progress(self, ev: ProgressEvent, now: float) -> None:
        tone, ended = ev.tone, ev.ended
        if self.state is FxoState.SEIZING:
            if tone is ToneName.DIAL and not ended:
                self._send_number(now)
            elif not self._busy_or_congestion(ev):
                self._ignored(ev)
        elif self.state in (FxoState.DIALING, FxoState.AWAITING_ANSWER):
            if tone is ToneName.RINGBACK and not ended:
                if not self._ringback:
                    self._ringback = True
                    self._emit(CallProgress(self.port, Progress.RINGING))
            elif not self._busy_or_congestion(ev):
                self._ignored(ev)
        elif self.state is FxoState.CONNECTED:
            if (self.config.disconnect_busy and not ended
                    and tone in (ToneName.BUSY, ToneName.CONGESTION)):
                self._far_end_cleared(Cause.NORMAL_CLEARING)
            else:
                self._ignored(ev)
        else:
            self._ignored(ev)

    def handle_answer(self, verdict: AnswerVerdict, now: float) -> None:
        """The answer detector's verdict on the outbound call being set up (``hal.dsp.answer``)."""
        if self.state is not FxoState.AWAITING_ANSWER or self.config.answer_detect != "audio":
            self._ignored(verdict)
        elif not verdict.final:
            if verdict.reason == "announcement" and not self._announcement:
                self._announcement = True
                self._emit(CallProgress(self.port, Progress.ANNOUNCEMENT))
        elif verdict.answered:
            self._answered(verdict.by, verdict.reason, verdict.ago_ms / 1000)
        else:
            self._not_answered(verdict.by, verdict.reason)

    def handle_digit(self, digit: str, now: float) -> None:
        if self.state is FxoState.CONNECTED:
            self._emit(DigitReceived(self.port, digit))
        else:
            self._ignored(f"digit {digit!r}")

    # --- the engine's requests -------------------------------------------------------------------------

    def restart(self, now: float) -> None:
        """The box started: on hook, nothing ringing or dialled."""
        self._timers.clear()
        self.state = FxoState.IDLE
        self._rings = 0
        self._offered = False
        self._number = ""
        self._ringback = False
        self._out.append(SetHook(self.port, False))

    # --- call control's requests (``WrongState`` where the state does not allow them) -------------------

    def answer(self, now: float) -> None:
        """Call control answered the ringing inbound call: go off hook."""
        if self.state is not FxoState.RINGING:
            if self._release_crossed():
                return
            raise self._wrong_state("answer()")
        self._timers.clear()
        self.state = FxoState.CONNECTED
        self._out += [SetHook(self.port, True), Detect(self.port, "callerid", False),
                      Detect(self.port, "dtmf", True)]
        if self.config.disconnect_busy:
            self._out.append(Detect(self.port, "progress", True))

    def dial(self, number: str, now: float, caller: str | None = None) -> None:
        """Seize the line for an outbound call to ``number`` (an analog line sends no calling number)."""
        if self.state is not FxoState.IDLE:
            raise self._wrong_state(f"dial({number!r})")
        self.state = FxoState.SEIZING
        self._number = number
        self._ringback = False
        self._announcement = False
        self._out += [SetHook(self.port, True), Detect(self.port, "progress", True)]
        self._timers["T_DIALTONE"] = now + T_DIALTONE

    def release(self, cause: Cause, now: float) -> None:
        """Call control hangs up this line (an analog line signals no cause)."""
        if self.state in OFF_HOOK_STATES:
            self._on_hook()
        elif self.state is FxoState.RINGING:  # cannot refuse: ignore the rest of this ringing
            self._out += [Detect(self.port, d, False) for d in DETECTORS]
            self.state = FxoState.REJECTED
            self._offered = False
        elif not self._release_crossed():
            raise self._wrong_state(f"release({cause.name})")

    # --- transitions -----------------------------------------------------------------------------------

    def _ring_start(self, now: float) -> None:
        if self.state is FxoState.IDLE:
            self.state = FxoState.RINGING
            self._rings = 0
            self._offered = False
            if self.config.callerid != "none":
                self._out.append(Detect(self.port, "callerid", True))
        elif self.state not in (FxoState.RINGING, FxoState.REJECTED):
            self._ignored("RingStart")
            return
        self._rings += 1
        self._timers["T_RING_GONE"] = now + T_RING_BURST_MAX + T_RING_GONE
        if self.state is FxoState.RINGING and not self._offered and (
                self._rings >= 2 or self.config.callerid == "none"):
            self._offered = True
            self._out.append(Detect(self.port, "callerid", False))
            self._emit(CallOffered(self.port))

    def _send_number(self, now: float) -> None:
        self._timers.pop("T_DIALTONE", None)
        self.state = FxoState.DIALING
        if self._number:
            self._out.append(SendDtmf(self.port, self._number))
        self._timers["T_DTMF_SEND"] = now + len(self._number) * T_DTMF_DIGIT + T_DTMF_SETTLE

    def _busy_or_congestion(self, ev: ProgressEvent) -> bool:
        """While setting up an outbound call: busy or congestion ends it. True if it did."""
        if ev.ended or ev.tone not in (ToneName.BUSY, ToneName.CONGESTION):
            return False
        self._not_answered("tone", "announcement" if self._announcement else ev.tone.value)
        return True

    def _not_answered(self, by: str, reason: str) -> None:
        self._on_hook()
        self._emit(CallReleased(self.port, NOT_ANSWERED_CAUSE.get(reason, Cause.NORMAL_UNSPECIFIED), by, reason))

    def _answered(self, by: str, reason: str, ago: float) -> None:
        self._timers.clear()
        self.state = FxoState.CONNECTED
        self._out += [Detect(self.port, "answer", False), Detect(self.port, "dtmf", True)]
        if not self.config.disconnect_busy:
            self._out.append(Detect(self.port, "progress", False))
        self._emit(CallAnswered(self.port, by, reason, ago))

    def _far_end_cleared(self, cause: Cause) -> None:
        self._on_hook()
        self._emit(CallReleased(self.port, cause))

    def _on_hook(self) -> None:
        self._timers.clear()
        self.state = FxoState.IDLE
        self._number = ""
        self._ringback = False
        self._announcement = False
        self._out.append(SetHook(self.port, False))
        self._out += [Detect(self.port, d, False) for d in DETECTORS]

    # --- timers ----------------------------------------------------------------------------------------

    def _expired_T_RING_GONE(self, _due: float, now: float) -> None:
        offered = self.state is FxoState.RINGING and self._offered
        if self.state is FxoState.RINGING and self.config.callerid != "none" and not offered:
            self._out.append(Detect(self.port, "callerid", False))
        self.state = FxoState.IDLE
        self._rings = 0
        self._offered = False
        if offered:  # the caller gave up before anyone answered
            self._emit(CallReleased(self.port, Cause.NORMAL_CLEARING))

    def _expired_T_DIALTONE(self, _due: float, now: float) -> None:
        log.debug("port %s: no dial tone after %.0f s, dialling anyway", self.port, T_DIALTONE)
        self._send_number(now)

    def _expired_T_DTMF_SEND(self, _due: float, now: float) -> None:
        self.state = FxoState.AWAITING_ANSWER
        if self.config.answer_detect == "audio":  # from here on: the far end's audio only, not our digits
            self._out.append(Detect(self.port, "answer", True))
