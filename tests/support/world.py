"""``World``: what an end-to-end test does to the simulated telephone world, in its own words.

A thin layer over ``sim.control.SimControl`` (the simulator's control socket): phones as objects,
the central office's lines, E1 far ends, and the one audio measurement tests share, a tone's cadence.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from sim.control import SimControl
from tests.support.audio import active_segment, decode, tone_frequency
from tests.support.processes import wait_for

FRAME_MS = 20
FRAME_SAMPLES = 160


class Phone:
    """One simulated analog phone (by extension number or port)."""

    def __init__(self, control: SimControl, ext: str) -> None:
        self.control, self.ext = control, ext

    def off_hook(self) -> None:
        self.control.phone_off_hook(self.ext)

    def lift(self, timeout: float = 10.0) -> None:
        """Off hook, and back once the box's dial tone (any tone: stutter, congestion) reaches the ear:
        digits keyed before the box has seen the hook could be lost on a busy machine."""
        mark = self.control.tick()
        self.off_hook()
        wait_for(lambda: len(active_segment(decode(self.heard(since=mark)))) >= 3 * FRAME_SAMPLES, timeout,
                 f"a tone at {self.ext} after lifting it")

    def on_hook(self) -> None:
        self.control.phone_on_hook(self.ext)

    def flash(self, ms: int = 300) -> None:
        self.control.phone_flash(self.ext, ms)

    def dial(self, digits: str) -> None:
        self.control.phone_dial(self.ext, digits)

    def send_tone(self, freq: float, level: float = -10.0) -> None:
        self.control.phone_send_tone(self.ext, freq, level)

    def silence(self) -> None:
        self.control.phone_silence(self.ext)

    def heard(self, since: int | None = None) -> bytes:
        return self.control.phone_heard(self.ext, since=since)

    def state(self) -> dict[str, Any]:
        return self.control.phone_state(self.ext)

    def wait_ringing(self, timeout: float, what: str, before: int | None = None) -> None:
        """Wait until the phone rings: ringing now, or a burst counted since ``before`` (a ``rings()``;
        default: now). A 1 s burst begun and ended between two looks (a stalled poll) still counts, where
        waiting for ``state()["ringing"]`` would wait out the 4 s pause for the next one."""
        since = self.rings() if before is None else before
        wait_for(lambda: (st := self.state())["ringing"] or st["total_rings"] > since, timeout, what)

    def rings(self) -> int:
        """Ring bursts so far. Waiting for this to grow catches a burst that began and ended between two
        looks at ``state()["ringing"]`` (a 1 s burst, then 4 s of silence: a busy machine can miss it)."""
        return self.state()["total_rings"]


class World(SimControl):
    def __init__(self, sim: Any) -> None:
        super().__init__(str(sim.control_socket))

    def phone(self, ext: str) -> Phone:
        return Phone(self, ext)

    def internal_call(self, caller: str, callee: str, api: Any) -> tuple[Phone, Phone]:
        """``caller`` lifts the phone and dials ``callee``, which rings and answers; returns both phones
        once the daemon (``api``, an ``ApiClient``) reports the call answered."""
        a, b = self.phone(caller), self.phone(callee)
        before = b.rings()
        a.lift()
        a.dial(callee)
        b.wait_ringing(12, f"{callee} ringing", before)
        b.off_hook()
        wait_for(lambda: any(c.get("answer") for c in api.call("calls")), 5, "the call answered")
        return a, b

    def answered_call(self, line: str, ext: str, api: Any,
                      tones: tuple[float, float] | None = (1000.0, 400.0)) -> tuple[Phone, dict]:
        """The central office calls in on ``line``, extension ``ext`` rings and answers; returns the phone
        and the daemon's call (from ``api``, an ``ApiClient``) once answered. With ``tones`` (Hz) the
        caller on the line and the phone then each send theirs, until told otherwise."""
        phone = self.phone(ext)
        before = phone.rings()
        self.co_call(line, "13800138000")
        phone.wait_ringing(12, f"{ext} ringing", before)
        phone.off_hook()
        [call] = wait_for(lambda: [c for c in api.call("calls") if c.get("answer") and c["src_port"] == line], 5,
                          f"the call on {line} answered")
        if tones is not None:
            self.co_send_tone(line, tones[0])
            phone.send_tone(tones[1])
        return phone, call

    def co_keys(self, line: str, digits: str, timeout: float = 10.0) -> None:
        """The caller on CO line ``line`` keys ``digits``; back once the last has been sent whole (keys sent
        before that would cut it short, and a repeated key would run into one)."""
        self.co_dial(line, digits)
        wait_for(lambda: not self.co_state(line)["dialling"], timeout, f"{digits} keyed on {line}")

    def co_line_with_digits(self, digits: str) -> str | None:
        """The CO line whose current or last call dialled ``digits`` (complete), if any."""
        for line, st in self.co_state()["lines"].items():
            call = st.get("call") or {}
            if call.get("number") == digits or (st.get("in_call") and self.co_digits(line) == digits):
                return line
        return None

    def board_misses(self) -> tuple[int, int]:
        """(ticks so far, ticks the daemon answered late or not at all) at the simulated board."""
        st = self.status()
        return st["tick"], st["underruns"] + st["late_tx"]

    def missed_since(self, before: tuple[int, int]) -> int:
        """Ticks the daemon answered late or not at all since ``before`` (a ``board_misses``). Abuse must
        cost none: the board's clock and the daemon's tick loop both run SCHED_FIFO (the suite runs as
        root) and the board buffers two frames, so a busy machine cannot cost a frame, only the daemon's
        own stalls can."""
        return self.board_misses()[1] - before[1]

    def listen(self, heard: Callable[[int], bytes], seconds: float, after: float = 0.0, tries: int = 3) -> bytes:
        """``seconds`` of what ``heard`` (a ``Phone.heard``, or a line's) gets, by the simulator's clock,
        starting ``after`` seconds from now, from a stretch in which the board missed no frame of the box's:
        a frame the box never sent cuts a tone's burst short, and a cadence measured across it measures the
        machine's load, not the tone. Another stretch is taken if one was cut (missed frames are what the
        serial tests count: here the tone is measured)."""
        start = self.tick() + round(after * 1000 / FRAME_MS)
        frames = round(seconds * 1000 / FRAME_MS)
        for _ in range(tries):
            wait_for(lambda at=start: self.tick() >= at, after + 30, "the stretch to listen in to begin")
            before = self.board_misses()
            wait_for(lambda end=before[0] + frames: self.tick() >= end, seconds + 30, f"{seconds} s of audio")
            if self.missed_since(before) == 0:
                return heard(before[0])[: frames * FRAME_SAMPLES]
            start = self.tick()
        raise AssertionError(f"the board missed frames in each of {tries} stretches of {seconds} s")

    def tones_both_ways(self, phone: Phone, line: str, phone_hz: float = 600.0,
                        line_hz: float = 1000.0) -> tuple[float, float]:
        """The phone and the party on CO line ``line`` each send a tone for a second: the frequencies
        heard (at the phone, on the line); both parties go quiet again after."""
        self.co_send_tone(line, line_hz)
        phone.send_tone(phone_hz)
        time.sleep(0.4)
        mark = self.tick()
        time.sleep(1.0)
        heard = (tone_frequency(phone.heard(since=mark)), tone_frequency(self.co_heard(line, since=mark)))
        self.co_silence(line)
        phone.silence()
        return heard

    @staticmethod
    def cadence_ms(alaw: bytes, threshold_dbm0: float = -40.0) -> tuple[int, int]:
        """The median on and off times (ms) of the tone in ``alaw``, from its 20 ms frames' levels."""
        lin = decode(alaw).astype(np.float64)
        frames = lin[: len(lin) // 160 * 160].reshape(-1, 160)
        on = 10 * np.log10(np.mean(frames ** 2, axis=1) / (32768.0 ** 2 / 2) + 1e-12) + 3.14 > threshold_dbm0
        edges = np.flatnonzero(np.diff(on.astype(int))) + 1
        bounds = np.concatenate([[0], edges, [len(on)]])
        runs = [(bool(on[a]), int(b - a), a > 0 and b < len(on)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

        def typical(kind: bool) -> int:
            whole = [n for k, n, w in runs if k is kind and w]
            cut = [n for k, n, w in runs if k is kind and not w]  # cut by the window: a lower bound
            return int(np.median(whole)) * FRAME_MS if whole else max(cut, default=0) * FRAME_MS

        if len(runs) < 3:
            return (0, 0)
        return (typical(True), typical(False))
