"""FXS loop-start signalling: the box drives an analog phone on an FXS port (sans-I/O).

``FxsLine`` is fed board events (OffHook, OnHook, Flash), DTMF digits heard on the port and the
time (``now``, seconds); it hands back, through ``take_outputs``, board commands (SetRing,
SetLoopCurrent), media requests (PlayTone, Detect, SendCallerId) and call events (OffHookIdle,
DigitReceived, HookFlash, CallAnswered, CallReleased), in order.

States::

    idle --OffHook--> dialing                     (dial tone, DTMF detection, OffHookIdle)
    idle --ring()--> ringing --OffHook--> connected (CallAnswered)
    ringing --release(cause)--> idle
    dialing/connected --release(cause)--> released      (busy or congestion tone, then silence)
    dialing/connected/released --on hook longer than T_FLASH_MAX--> idle (CallReleased)

The hook is debounced while off hook: an OnHook starts T_FLASH_MAX; the phone coming back off hook
before flash_min_ms is a bounce (ignored), within the window a hook flash (HookFlash), and
T_FLASH_MAX running out means the phone hung up. The call state does not change during that time.

Ringing is timed here (T_RING_ON 1 s on, T_RING_OFF 4 s off, China), with on-hook caller ID sent
T_CID_DELAY (0.5 s) after the end of the first burst.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Any

from hal.dsp.callerid import CallerId
from hal.dsp.tones import ToneName
from hal.events import Flash, OffHook, OnHook, SetLoopCurrent, SetPolarity, SetRing
from signaling.events import CallAnswered, CallReleased, Cause, DigitReceived, HookFlash, OffHookIdle
from signaling.machine import PortMachine
from signaling.media import Detect, PlayTone, SendCallerId

log = logging.getLogger(__name__)

T_RING_ON = 1.0  # ringing burst
T_RING_OFF = 4.0  # silence between bursts
T_CID_DELAY = 0.5  # end of the first burst -> caller ID
T_LOOP_DROP = 0.6  # open-loop disconnect signal to the phone (disconnect = "loop_current")
LATE_SLACK = 0.2  # a timer handled this late still schedules its successor from its own deadline

CONGESTION_CAUSES = frozenset({
    Cause.UNALLOCATED_NUMBER, Cause.NO_CIRCUIT_AVAILABLE, Cause.SWITCHING_EQUIPMENT_CONGESTION,
    Cause.NETWORK_OUT_OF_ORDER, Cause.TEMPORARY_FAILURE, Cause.INVALID_NUMBER_FORMAT,
})
DIAL_TONES = (ToneName.DIAL, ToneName.STUTTER_DIAL)


@dataclass(frozen=True)
class FxsConfig:
    flash_min_ms: int = 90  # shorter on-hook = contact bounce
    flash_max_ms: int = 600  # longer on-hook = hang-up (T_FLASH_MAX)
    callerid: str = "fsk"  # "fsk" | "dtmf" | "none"
    disconnect: str = "busy"  # "busy" | "loop_current" (busy tone plus a T_LOOP_DROP open loop)
    busy_tone_s: float = 30.0  # T_BUSY_TONE: busy/congestion plays this long, then silence; 0 = until on hook


class FxsState(enum.StrEnum):
    IDLE = "idle"  # on hook, nothing happening
    RINGING = "ringing"  # on hook, being rung for a call
    DIALING = "dialing"  # off hook, originating (dial tone, digits, then the call it made)
    CONNECTED = "connected"  # off hook, answered a call that rang it
    RELEASED = "released"  # off hook, the call is gone: busy/congestion tone until the phone hangs up


OFF_HOOK_STATES = (FxsState.DIALING, FxsState.CONNECTED, FxsState.RELEASED)


class FxsLine(PortMachine):
    """The signalling state of one FXS port (see the module docstring)."""

    def __init__(self, port: str, config: FxsConfig | None = None) -> None:
        super().__init__(port)
        self.config = config if config is not None else FxsConfig()
        self.state = FxsState.IDLE
        self._hook_down_at: float | None = None  # OnHook seen while off hook, not yet a hang-up
        self._cid: CallerId | None = None
        self._first_ring = False
        self._tone: ToneName | None = None  # the tone last asked for on this port
        self.message_waiting = False  # new voicemail: stutter dial tone instead of dial tone

    # --- the engine's view ---------------------------------------------------------------------------

    @property
    def is_idle(self) -> bool:
        """On hook, not ringing, no on-hook debounce pending: free for a new call."""
        return self.state is FxsState.IDLE and self._hook_down_at is None

    # --- inputs --------------------------------------------------------------------------------------

    def handle_board_event(self, ev: Any, now: float) -> None:
        if isinstance(ev, OffHook):
            self._off_hook(now)
        elif isinstance(ev, OnHook):
            self._on_hook(now)
        elif isinstance(ev, Flash):
            if self.state in OFF_HOOK_STATES and self._hook_down_at is None:
                self._emit(HookFlash(self.port))
            else:
                self._ignored(ev)
        else:
            self._ignored(ev)

    def handle_digit(self, digit: str, now: float) -> None:
        if self.state not in (FxsState.DIALING, FxsState.CONNECTED) or self._hook_down_at is not None:
            self._ignored(f"digit {digit!r}")
            return
        if self._tone in DIAL_TONES:  # a key stops dial tone: also the second one of a hook flash (connected)
            self._play(None)
        self._emit(DigitReceived(self.port, digit))

    # handle_progress, handle_caller_id, handle_mf: the base class ignores them (no call-progress detection
    # on an extension; caller ID is sent to phones, never received from them)

    # --- the engine's requests -------------------------------------------------------------------------

    def restart(self, now: float) -> None:
        """The box started: no ringing, normal polarity, loop current on, nothing played."""
        self._timers.clear()
        self.state = FxsState.IDLE
        self._hook_down_at = None
        self._cid = None
        self._first_ring = False
        self._tone = None
        self._out += [SetRing(self.port, False), SetPolarity(self.port, False), SetLoopCurrent(self.port, True)]

    # --- call control's requests (``WrongState`` where the state does not allow them) -------------------

    def ring(self, cid: CallerId | None, now: float) -> None:
        """Start ringing the phone for a call; caller ID goes between the first and second burst."""
        if not self.is_idle:
            raise self._wrong_state("ring()")
        self.state = FxsState.RINGING
        self._cid = cid if self.config.callerid in ("fsk", "dtmf") else None
        self._first_ring = True
        self._out.append(SetRing(self.port, True))
        self._timers["T_RING_ON"] = now + T_RING_ON

    def release(self, cause: Cause, now: float) -> None:
        """Call control ends this port's call (the other party cleared, or the call failed)."""
        if self.state is FxsState.RINGING:
            self._stop_ringing()
            self.state = FxsState.IDLE
        elif self.state in (FxsState.DIALING, FxsState.CONNECTED):
            self.state = FxsState.RELEASED
            self._play(None)
            self._play(ToneName.CONGESTION if cause in CONGESTION_CAUSES else ToneName.BUSY)
            if self.config.busy_tone_s > 0:
                self._timers["T_BUSY_TONE"] = now + self.config.busy_tone_s
            self._out.append(Detect(self.port, "dtmf", False))
            if self.config.disconnect == "loop_current":
                self._out.append(SetLoopCurrent(self.port, False))
                self._timers["T_LOOP_DROP"] = now + T_LOOP_DROP
        elif not self._release_crossed():
            raise self._wrong_state(f"release({cause.name})")

    def set_message_waiting(self, on: bool) -> None:
        """New voicemail: the phone hears stutter dial tone instead of dial tone when it goes off hook."""
        self.message_waiting = on

    def play(self, tone: ToneName | None) -> None:
        """Call control asks for a tone (or silence) on this port."""
        self._play(tone)
        if tone is None:
            self._timers.pop("T_BUSY_TONE", None)

    # --- hook ------------------------------------------------------------------------------------------

    def _off_hook(self, now: float) -> None:
        if self.state is FxsState.IDLE:
            self.state = FxsState.DIALING
            self._out.append(Detect(self.port, "dtmf", True))
            self._play(ToneName.STUTTER_DIAL if self.message_waiting else ToneName.DIAL)
            self._emit(OffHookIdle(self.port))
        elif self.state is FxsState.RINGING:  # ring trip: answered
            self._stop_ringing()
            self.state = FxsState.CONNECTED
            self._out.append(Detect(self.port, "dtmf", True))
            self._emit(CallAnswered(self.port))
        elif self._hook_down_at is not None:
            down_ms = (now - self._hook_down_at) * 1000.0
            self._hook_down_at = None
            self._timers.pop("T_FLASH_MAX", None)
            if down_ms < self.config.flash_min_ms:
                log.debug("port %s: hook bounce of %.0f ms ignored", self.port, down_ms)
            else:
                self._emit(HookFlash(self.port))
        else:
            self._ignored("OffHook")

    def _on_hook(self, now: float) -> None:
        if self.state in OFF_HOOK_STATES and self._hook_down_at is None:
            self._hook_down_at = now
            self._timers["T_FLASH_MAX"] = now + self.config.flash_max_ms / 1000.0
        else:
            self._ignored("OnHook")

    # --- timers ----------------------------------------------------------------------------------------

    def _expired_T_FLASH_MAX(self, t: float, now: float) -> None:
        """On hook for longer than a flash: the phone hung up."""
        self._hook_down_at = None
        self._timers.pop("T_BUSY_TONE", None)
        if self._timers.pop("T_LOOP_DROP", None) is not None:
            self._out.append(SetLoopCurrent(self.port, True))
        self._play(None)
        self._out.append(Detect(self.port, "dtmf", False))
        self.state = FxsState.IDLE
        self._emit(CallReleased(self.port, Cause.NORMAL_CLEARING))

    def _expired_T_RING_ON(self, t: float, now: float) -> None:
        self._out.append(SetRing(self.port, False))
        base = self._base(t, now)
        self._timers["T_RING_OFF"] = base + T_RING_OFF
        if self._first_ring:
            self._first_ring = False
            if self._cid is not None:
                self._timers["T_CID_DELAY"] = base + T_CID_DELAY

    def _expired_T_RING_OFF(self, t: float, now: float) -> None:
        self._out.append(SetRing(self.port, True))
        self._timers["T_RING_ON"] = self._base(t, now) + T_RING_ON

    def _expired_T_CID_DELAY(self, t: float, now: float) -> None:
        if self._cid is not None and self.state is FxsState.RINGING:
            self._out.append(SendCallerId(self.port, self._cid, self.config.callerid))

    def _expired_T_BUSY_TONE(self, t: float, now: float) -> None:
        if self._tone in (ToneName.BUSY, ToneName.CONGESTION):
            self._play(None)

    def _expired_T_LOOP_DROP(self, t: float, now: float) -> None:
        self._out.append(SetLoopCurrent(self.port, True))

    # --- helpers ---------------------------------------------------------------------------------------

    @staticmethod
    def _base(t: float, now: float) -> float:
        """Where a cadence's next interval starts: the deadline, unless handled very late."""
        return t if now - t <= LATE_SLACK else now

    def _stop_ringing(self) -> None:
        for name in ("T_RING_ON", "T_RING_OFF", "T_CID_DELAY"):
            self._timers.pop(name, None)
        self._cid = None
        self._first_ring = False
        self._out.append(SetRing(self.port, False))

    def _play(self, tone: ToneName | None) -> None:
        self._tone = tone
        self._out.append(PlayTone(self.port, tone))
