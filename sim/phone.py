"""A simulated analog phone on an FXS port.

It goes off and on hook (reported to the host as OffHook / OnHook; a flash is OnHook then OffHook
``ms`` later, the host times it), sees the host's ringing voltage (counting rings and keeping their
on/off timing), decodes on-hook caller ID (FSK, or DTMF) from the audio the host sends while it is
on hook, dials DTMF, sends a tone or a clip, and records everything it hears while off hook.

For the traffic generator it can answer by itself after N rings and hang up after a talk time.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

import numpy as np

from hal.dsp.callerid import CallerId, DtmfCallerIdDecoder, FskCallerIdReceiver
from hal.dsp.dtmf import DtmfReceiver
from hal.events import Event, OffHook, OnHook, SetLoopCurrent, SetPolarity, SetRing
from hal.ports import Port
from sim.audio import Mouth, Recorder

log = logging.getLogger(__name__)

RING_SESSION_GAP_TICKS = 400  # 8 s without ringing ends a ring session (the next ring starts a new call)
CID_ACTIVE_LEVEL = 100  # peak linear level above which a frame counts as signal for the CID receivers
CID_HANGOVER_TICKS = 50  # keep feeding the CID receivers this long after the last signal frame


class Phone:
    def __init__(self, port: Port, extension: str, emit: Callable[[Event], None], now: Callable[[], int],
                 record_s: float = 120.0, callerid: str = "auto") -> None:
        self.port = port
        self.id = port.id
        self.extension = extension
        self._emit = emit
        self._now = now
        self.callerid_mode = callerid  # "fsk", "dtmf", "auto" (both), "none"
        self.off_hook_ = False
        self.ringing = False
        self.rings = 0  # rings in the current ring session
        self.total_rings = 0
        self.ring_log: deque[list[int | None]] = deque(maxlen=64)  # [on_tick, off_tick] of this session
        self._session_last = -(10**9)
        self.ring_while_off_hook = 0
        self.shown_caller_id: CallerId | None = None
        self.caller_id_tick: int | None = None
        self.polarity_reversed = False
        self.loop_current = True
        self.polarity_log: deque[tuple[int, bool]] = deque(maxlen=64)
        self.loop_log: deque[tuple[int, bool]] = deque(maxlen=64)
        self.mouth = Mouth()
        self.recorder = Recorder(record_s)
        self.flashes = 0
        self.auto_answer_rings = 0
        self.auto_hangup_s: float | None = None
        self.talk: Callable[[Mouth], None] | None = None  # what to say after auto-answering
        self.on_answered: Callable[[Phone], None] | None = None
        self.on_hung_up: Callable[[Phone], None] | None = None
        self._timers: list[tuple[int, str]] = []
        self._fsk: FskCallerIdReceiver | None = None
        self._dtmf_rx: DtmfReceiver | None = None
        self._dtmf_cid: DtmfCallerIdDecoder | None = None
        self._cid_hang = 0
        self.off_hook_tick: int | None = None

    # ---- the user's actions -------------------------------------------------------------------------

    @property
    def is_off_hook(self) -> bool:
        return self.off_hook_

    def off_hook(self) -> None:
        if self.off_hook_:
            return
        self.off_hook_ = True
        self.off_hook_tick = self._now()
        self._timers = [t for t in self._timers if t[1] != "answer"]
        if self.ringing:  # ring trip
            self._ring_off(self._now())
        self._emit(OffHook(self.id))
        if self.auto_hangup_s is not None:
            self._timers.append((self._now() + max(1, round(self.auto_hangup_s * 50)), "hangup"))

    def on_hook(self) -> None:
        self._timers = [t for t in self._timers if t[1] not in ("hangup", "flash_end")]
        if not self.off_hook_:
            return
        self.off_hook_ = False
        self.off_hook_tick = None
        self.mouth.silence()
        self._emit(OnHook(self.id))

    def flash(self, ms: int = 300) -> None:
        if not self.off_hook_:
            raise ValueError(f"phone {self.extension} is on hook: cannot flash")
        self.flashes += 1
        self.off_hook_ = False
        self._emit(OnHook(self.id))
        self._timers.append((self._now() + 1 + max(1, round(ms / 20)), "flash_end"))

    def dial(self, digits: str, **kw: float) -> None:
        if not self.off_hook_:
            raise ValueError(f"phone {self.extension} is on hook: cannot dial")
        self.mouth.dial(digits, **kw)

    # ---- the host's commands ------------------------------------------------------------------------

    def command(self, cmd: object) -> None:
        now = self._now()
        if isinstance(cmd, SetRing):
            if cmd.on and not self.ringing:
                if self.off_hook_:
                    self.ring_while_off_hook += 1
                    return
                if now - self._session_last > RING_SESSION_GAP_TICKS:
                    self._new_session(now)
                self.ringing = True
                self.rings += 1
                self.total_rings += 1
                self._session_last = now
                self.ring_log.append([now, None])
                if (self.auto_answer_rings and self.rings >= self.auto_answer_rings
                        and not any(t[1] == "answer" for t in self._timers)):
                    self._timers.append((now + 25, "answer"))
            elif not cmd.on and self.ringing:
                self._ring_off(now)
        elif isinstance(cmd, SetPolarity):
            if cmd.reversed != self.polarity_reversed:
                self.polarity_reversed = cmd.reversed
                self.polarity_log.append((now, cmd.reversed))
        elif isinstance(cmd, SetLoopCurrent):
            if cmd.on != self.loop_current:
                self.loop_current = cmd.on
                self.loop_log.append((now, cmd.on))
        else:
            raise ValueError(f"{type(cmd).__name__} does not apply to an FXS port")

    def _ring_off(self, now: int) -> None:
        self.ringing = False
        self._session_last = now
        if self.ring_log and self.ring_log[-1][1] is None:
            self.ring_log[-1][1] = now

    def _new_session(self, now: int) -> None:
        self.rings = 0
        self.ring_log.clear()
        if self.caller_id_tick is None or now - self.caller_id_tick > 250:
            self.shown_caller_id = None
            self.caller_id_tick = None

    # ---- the tick ---------------------------------------------------------------------------------

    def step(self, tick: int) -> np.ndarray | None:
        if self._timers:
            due = [t for t in self._timers if t[0] <= tick]
            if due:
                self._timers = [t for t in self._timers if t[0] > tick]
                for _, what in due:
                    self._timer(what)
        return self.mouth.frame() if self.off_hook_ else None

    def _timer(self, what: str) -> None:
        if what == "flash_end":
            if not self.off_hook_:
                self.off_hook_ = True
                self._emit(OffHook(self.id))
        elif what == "answer":
            if not self.off_hook_:
                self.off_hook()
                if self.talk is not None:
                    self.talk(self.mouth)
                if self.on_answered:
                    self.on_answered(self)
        elif what == "hangup" and self.off_hook_:
            self.on_hook()
            if self.on_hung_up:
                self.on_hung_up(self)

    def hear(self, tick: int, alaw: np.ndarray, linear: np.ndarray) -> None:
        if self.off_hook_:
            self.recorder.record(tick, alaw)
            return
        if self.callerid_mode == "none":
            return
        if int(np.abs(linear).max()) > CID_ACTIVE_LEVEL:
            self._cid_hang = CID_HANGOVER_TICKS
        elif self._cid_hang <= 0:
            return
        else:
            self._cid_hang -= 1
        try:
            cid = self._decode_cid(tick, linear)
        except Exception:  # a receiver's failure must not stop the tick: log once, stop decoding
            log.exception("phone %s: caller-ID decoding failed; disabled", self.extension)
            self.callerid_mode = "none"
            return
        if cid is not None:
            self.shown_caller_id = cid
            self.caller_id_tick = tick

    def _decode_cid(self, tick: int, linear: np.ndarray) -> CallerId | None:
        cid = None
        if self.callerid_mode in ("fsk", "auto"):
            if self._fsk is None:
                self._fsk = FskCallerIdReceiver()
            cid = self._fsk.process(linear)
        if self.callerid_mode in ("dtmf", "auto"):
            if self._dtmf_rx is None:
                self._dtmf_rx = DtmfReceiver()
                self._dtmf_cid = DtmfCallerIdDecoder()
            assert self._dtmf_cid is not None
            for d in self._dtmf_rx.process(linear):
                got = self._dtmf_cid.feed(d, tick * 20)
                cid = cid or got
            got = self._dtmf_cid.poll(tick * 20)
            cid = cid or got
        return cid

    # ---- state --------------------------------------------------------------------------------------

    def resync_events(self) -> list[Event]:
        return [OffHook(self.id)] if self.off_hook_ else []

    def state(self) -> dict:
        cid = self.shown_caller_id
        log_ = [list(x) for x in self.ring_log]
        cadence = []
        for i, (on, off) in enumerate(log_):
            on_ms = (off - on) * 20 if off is not None else None
            nxt = log_[i + 1][0] if i + 1 < len(log_) else None
            off_ms = (nxt - off) * 20 if nxt is not None and off is not None else None
            cadence.append([on_ms, off_ms])
        return {
            "port": self.id, "extension": self.extension, "hook": "off" if self.off_hook_ else "on",
            "off_hook": self.off_hook_, "ringing": self.ringing, "rings": self.rings,
            "total_rings": self.total_rings, "ring_log": log_, "ring_cadence_ms": cadence,
            "caller_id": cid.number if cid else None, "caller_name": cid.name if cid else None,
            "caller_id_absent": cid.absent_reason if cid else None, "caller_id_tick": self.caller_id_tick,
            "polarity_reversed": self.polarity_reversed, "loop_current": self.loop_current,
            "loop_current_log": [list(x) for x in self.loop_log],
            "polarity_log": [list(x) for x in self.polarity_log], "flashes": self.flashes,
            "sending": self.mouth.describe(), "dialling": self.mouth.dialling,
            "ring_while_off_hook": self.ring_while_off_hook,
            "auto_answer_rings": self.auto_answer_rings, "auto_hangup_s": self.auto_hangup_s,
        }
