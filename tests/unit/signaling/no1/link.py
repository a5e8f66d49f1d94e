"""Two No.1 trunk machines, or one machine and a scripted far end, joined by an ideal E1 timeslot.

``Link`` steps virtual time in 20 ms ticks: each side's ``SetCas`` reaches the other as a
``CasChange`` and its ``SendMf`` as what the other's R2 MF receiver hears, one tick later (the
receiver only hears while its ``Detect`` is on, as in the media layer).
"""

from __future__ import annotations

from typing import Any

from hal.events import CasChange, SetCas
from signaling.events import CallEvent
from signaling.media import Detect, SendMf
from signaling.no1.trunk import No1Trunk

TICK = 0.02


class Side:
    """One end: a trunk machine, or a scripted far end (``machine=None``) driven by the test."""

    def __init__(self, machine: No1Trunk | None, port: str) -> None:
        self.m = machine
        self.port = port
        self.outputs: list[Any] = []  # everything the machine emitted, in order
        self.cas_tx = 0b1011
        self.mf_tx = 0
        self.listening = False
        self.heard_mf: list[int] = []  # scripted side: every MF change it heard
        self.heard_cas: list[int] = []

    def drain(self) -> None:
        if self.m is None:
            return
        for out in self.m.take_outputs():
            self.outputs.append(out)
            if isinstance(out, SetCas):
                self.cas_tx = out.bits
            elif isinstance(out, SendMf):
                self.mf_tx = out.signal
            elif isinstance(out, Detect) and out.detector.startswith("r2mf"):
                self.listening = out.on

    def events(self) -> list:
        return [o for o in self.outputs if isinstance(o, CallEvent)]


class Link:
    def __init__(self, a: No1Trunk | None, b: No1Trunk | None) -> None:
        self.now = 0.0
        self.a = Side(a, "1/1")
        self.b = Side(b, "2/1")
        self._seen = {id(self.a): (self.b.cas_tx, 0), id(self.b): (self.a.cas_tx, 0)}

    def step(self) -> None:
        for side in (self.a, self.b):
            side.drain()
        for me, other in ((self.a, self.b), (self.b, self.a)):
            last_cas, last_mf = self._seen[id(me)]
            cas, mf = other.cas_tx, other.mf_tx
            if cas != last_cas:
                me.heard_cas.append(cas)
                if me.m is not None:
                    me.m.handle_board_event(CasChange(me.port, cas), self.now)
            heard_mf = mf if (me.listening or me.m is None) else 0
            if heard_mf != last_mf:
                me.heard_mf.append(heard_mf)
                if me.m is not None:
                    me.m.handle_mf(heard_mf, self.now)
            self._seen[id(me)] = (cas, heard_mf)
        for side in (self.a, self.b):
            if side.m is not None and side.m.deadline is not None and side.m.deadline <= self.now:
                side.m.handle_timer(self.now)
            side.drain()
        self.now = round(self.now + TICK, 6)

    def run(self, seconds: float) -> None:
        for _ in range(round(seconds / TICK)):
            self.step()

    def run_until(self, pred, seconds: float = 30.0) -> float:
        start = self.now
        for _ in range(round(seconds / TICK)):
            if pred():
                return self.now - start
            self.step()
        raise AssertionError(f"condition not met within {seconds} s (virtual)")
