"""The caller-traffic generator: Poisson call arrivals on the CO lines, and phones that answer.

Callers arrive at ``rate_per_min`` (Poisson) on idle FXO lines with random Chinese mobile caller IDs
(13x/15x/18x), wait up to their patience for an answer (then abandon), optionally go through an IVR
(one of ``ivr_digits``, pressed ``ivr_delay_s`` after the answer; a ``,`` in it waits ``ivr_delay_s``
again before the next keys, as a caller listens to the next menu: ``"1,2"``), talk (a tone or a clip)
for a random talk time counted from the answer and hang up (the exchange then plays busy tone, as in
China). Phones on the FXS ports answer after 1-3 rings, talk
and hang up after their own random talk time. Runs on the world's tick (no threads, no sleeps).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import numpy as np

from sim.audio import Mouth, SamplesSource
from sim.phone import Phone
from sim.world import SimWorld

log = logging.getLogger(__name__)

MOBILE_PREFIXES = [f"13{d}" for d in range(10)] + ["150", "151", "152", "153", "155", "156", "157", "158",
                                                   "159", "180", "181", "182", "183", "185", "186", "187",
                                                   "188", "189"]


@dataclass
class TrafficSettings:
    rate_per_min: float = 6.0
    lines: list[str] | None = None  # FXO lines to call on (default: all)
    phones: list[str] | None = None  # phones (extensions or ports) that auto-answer (default: all)
    patience_s: tuple[float, float] = (15.0, 45.0)
    talk_s: tuple[float, float] = (8.0, 30.0)  # callers' talk time
    phone_talk_s: tuple[float, float] = (10.0, 40.0)  # agents' talk time
    answer_rings: tuple[int, int] = (1, 3)
    ivr_digits: list[str] = field(default_factory=list)  # a caller presses one of these after answer ("1,2")
    ivr_delay_s: float = 3.0
    tone_hz: tuple[float, float] = (300.0, 900.0)  # callers and agents "talk" with a tone in this range
    level_dbm0: float = -16.0
    seed: int | None = None

    @classmethod
    def from_dict(cls, d: dict) -> TrafficSettings:
        s = cls()
        for k, v in d.items():
            if not hasattr(s, k):
                raise ValueError(f"unknown traffic setting {k!r}")
            cur = getattr(s, k)
            if isinstance(cur, tuple):
                if not isinstance(v, list | tuple) or len(v) != 2 or not all(isinstance(x, int | float) for x in v):
                    raise ValueError(f"{k} must be [min, max]")
                v = (type(cur[0])(v[0]), type(cur[0])(v[1]))
                if v[0] > v[1] or v[0] < 0:
                    raise ValueError(f"{k} must be [min, max] with 0 <= min <= max")
            elif k in ("rate_per_min", "ivr_delay_s", "level_dbm0"):
                if not isinstance(v, int | float) or isinstance(v, bool):
                    raise ValueError(f"{k} must be a number")
                v = float(v)
            elif k in ("lines", "phones", "ivr_digits") and v is not None and (
                    not isinstance(v, list) or not all(isinstance(x, str) for x in v)):
                raise ValueError(f"{k} must be a list of strings")
            setattr(s, k, v)
        if s.rate_per_min < 0:
            raise ValueError("rate_per_min must be >= 0")
        return s


@dataclass
class _Caller:
    line: str
    number: str
    start: int
    patience_end: int
    answered_at: int | None = None
    talk_end: int | None = None
    ivr_at: int | None = None
    ivr_keys: list[str] = field(default_factory=list)  # the keys still to press, a group at each ivr_at
    hung_up: bool = False


class TrafficGenerator:
    def __init__(self, world: SimWorld, wav: np.ndarray | None = None) -> None:
        self.world = world
        self.settings = TrafficSettings()
        self.rng = np.random.default_rng()
        self.running = False
        self.wav = wav  # optional clip callers and agents play instead of a tone
        self.active: dict[str, _Caller] = {}
        self._phones: list[Phone] = []
        self.stats_ = {"offered": 0, "blocked": 0, "answered": 0, "abandoned": 0, "completed": 0,
                       "host_released": 0, "phone_answers": 0, "phone_hangups": 0}
        self._hooked = False

    # ---- control -----------------------------------------------------------------------------------

    def start(self, settings: TrafficSettings) -> None:
        w = self.world
        for ln in settings.lines or []:
            w.co.line(ln)
        phones = [w.phone(p) for p in settings.phones] if settings.phones is not None else list(w.phones.values())
        self.stop_phones()
        self.settings = settings
        self.rng = np.random.default_rng(settings.seed)
        self._phones = phones
        for ph in phones:
            self._arm_phone(ph)
            ph.talk = self._talk
            ph.on_answered = self._phone_answered
            ph.on_hung_up = self._phone_hung_up
        self.running = True
        if not self._hooked:
            w.step_hooks.append(self._step)
            self._hooked = True
        log.info("traffic: started at %.1f calls/min", settings.rate_per_min)

    def stop(self) -> None:
        """No new arrivals; calls in progress finish on their own; phones stop auto-answering."""
        self.running = False
        self.stop_phones()
        log.info("traffic: stopped")

    def stop_phones(self) -> None:
        for ph in self._phones:
            ph.auto_answer_rings = 0
            ph.auto_hangup_s = None
            ph.talk = ph.on_answered = ph.on_hung_up = None
        self._phones = []

    def stats(self) -> dict:
        return {**self.stats_, "running": self.running, "active": len(self.active),
                "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.settings).items()}}

    # ---- phones ------------------------------------------------------------------------------------

    def _uniform(self, r: tuple[float, float]) -> float:
        return float(self.rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])

    def _arm_phone(self, ph: Phone) -> None:
        lo, hi = self.settings.answer_rings
        ph.auto_answer_rings = int(self.rng.integers(lo, hi + 1))
        ph.auto_hangup_s = self._uniform(self.settings.phone_talk_s)

    def _talk(self, mouth: Mouth) -> None:
        if self.wav is not None:
            mouth.say(SamplesSource(self.wav, loop=True, name="traffic"))
        else:
            mouth.tone(round(self._uniform(self.settings.tone_hz)), self.settings.level_dbm0)

    def _phone_answered(self, ph: Phone) -> None:
        self.stats_["phone_answers"] += 1

    def _phone_hung_up(self, ph: Phone) -> None:
        self.stats_["phone_hangups"] += 1
        if ph in self._phones:
            self._arm_phone(ph)

    # ---- callers -------------------------------------------------------------------------------------

    def random_number(self) -> str:
        prefix = MOBILE_PREFIXES[int(self.rng.integers(len(MOBILE_PREFIXES)))]
        return prefix + "".join(str(d) for d in self.rng.integers(0, 10, 8))

    def _step(self, tick: int) -> None:
        s = self.settings
        co = self.world.co
        if self.running and s.rate_per_min > 0:
            for _ in range(int(self.rng.poisson(s.rate_per_min / 3000.0))):
                idle = [ln for ln in co.idle_lines() if (s.lines is None or ln.id in s.lines)
                        and ln.id not in self.active]
                self.stats_["offered"] += 1
                if not idle:
                    self.stats_["blocked"] += 1
                    continue
                line = idle[int(self.rng.integers(len(idle)))]
                number = self.random_number()
                co.call(line.id, number)
                self.active[line.id] = _Caller(line.id, number, tick,
                                               tick + round(self._uniform(s.patience_s) * 50))
        for lid, c in list(self.active.items()):
            line = co.lines[lid]
            if line.state == "ringing":
                if tick >= c.patience_end:
                    line.hangup()
                    self.stats_["abandoned"] += 1
                    del self.active[lid]
                continue
            if line.state == "connected" and c.answered_at is None:
                c.answered_at = tick
                self.stats_["answered"] += 1
                c.talk_end = tick + round(self._uniform(s.talk_s) * 50)
                if s.ivr_digits:
                    c.ivr_at = tick + round(s.ivr_delay_s * 50)
                    choice = s.ivr_digits[int(self.rng.integers(len(s.ivr_digits)))]
                    c.ivr_keys = [k for k in choice.split(",") if k]
                self._talk(line.party)
            if c.ivr_at is not None and tick >= c.ivr_at and line.state == "connected":
                if c.ivr_keys:
                    line.party.dial(c.ivr_keys.pop(0))
                c.ivr_at = tick + round(s.ivr_delay_s * 50) if c.ivr_keys else None
            if c.talk_end is not None and tick >= c.talk_end and line.state == "connected":
                line.hangup()
                c.hung_up = True
                self.stats_["completed"] += 1
            if line.state == "idle" or (line.state == "cleared" and tick - (c.talk_end or tick) > 1500):
                if c.answered_at is not None and not c.hung_up:
                    self.stats_["host_released"] += 1
                elif c.answered_at is None:
                    self.stats_["abandoned"] += 1
                del self.active[lid]
