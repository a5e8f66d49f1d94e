"""Queues: who waits, in what order, what they hear, and when they overflow.

A queue holds *entries*: live calls (a caller on the line) and callbacks (a caller who asked to be
called back and hung up; the callback keeps the place the call had). Entries are served in the
order (higher priority first, then earlier ``entered``, then arrival sequence); priority is the
queue's own plus any VIP boost.

The queue decides, it does not act: ``join`` and ``tick`` return decisions (``Music``, ``Announce``,
``Overflow``-due) that the engine turns into calls on the host. Estimated wait (docs/acd.md):

    EWT = position × AHT / staffed    (None when no member is staffed)

where AHT is the mean handle time (talk + wrap-up) of the queue's last ``recent_calls`` answered
calls (``default_handle_s`` until there is one), and staffed counts the queue's logged-in members
who are not paused.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from dataclasses import dataclass, field

from daemon.acd.config import QueueConfig
from daemon.acd.strategies import Caller


class EntryKind(enum.StrEnum):
    CALL = "call"  # the caller is on the line
    CALLBACK = "callback"  # the caller hung up; an agent will be connected, then the caller dialled


@dataclass
class Entry:
    call: str
    queue: str
    caller: Caller
    priority: int
    entered: float  # joined this queue (a callback keeps it: its place in the queue)
    seq: int
    arrived: float  # reached the ACD (first queue)
    kind: EntryKind = EntryKind.CALL
    callback_number: str | None = None
    next_announce: float | None = None
    callback_offered: bool = False  # overflow "callback" was offered: no second overflow
    ringing: set[str] = field(default_factory=set)  # agents with an outstanding offer for this entry
    ring_deadline: float | None = None
    skipped: set[str] = field(default_factory=set)  # agents who missed this call's ring
    bells: set[str] = field(default_factory=set)  # always-ring extensions ringing for this entry
    bells_failed: set[str] = field(default_factory=set)
    customer: dict | None = None  # the customer record when the call arrived (screen pop)
    hops: int = 0  # queue-to-queue overflows so far
    replan_at: float | None = None  # when routing's plan for this entry changes (sticky timeout)
    attempts: int = 0  # a callback's dial-backs so far
    not_before: float | None = None  # a callback whose dial-back failed waits until then to be offered

    def order_key(self) -> tuple:
        return (-self.priority, self.entered, self.seq)

    @property
    def live(self) -> bool:
        return self.kind is EntryKind.CALL


@dataclass(frozen=True)
class Announce:
    """Tell the caller their position and estimated wait (whole seconds; None if unknown), then
    resume music on hold."""

    call: str
    position: int | None
    ewt_s: int | None


@dataclass(frozen=True)
class Music:
    call: str
    file: str


@dataclass(frozen=True)
class OverflowDue:
    call: str
    reason: str  # max_wait | max_length


class Queue:
    def __init__(self, config: QueueConfig, recent_calls: int = 20) -> None:
        self.config = config
        self.entries: list[Entry] = []
        self.handle_times: deque[float] = deque(maxlen=recent_calls)

    @property
    def name(self) -> str:
        return self.config.name

    def ordered(self) -> list[Entry]:
        return sorted(self.entries, key=Entry.order_key)

    def live_count(self) -> int:
        return sum(1 for e in self.entries if e.live)

    def get(self, call: str) -> Entry | None:
        return next((e for e in self.entries if e.call == call), None)

    def join(self, entry: Entry, now: float) -> list[Music | OverflowDue]:
        """Add ``entry``; a full queue (``max_length`` live calls) overflows it at once."""
        cfg = self.config
        full = cfg.max_length and self.live_count() >= cfg.max_length
        self.entries.append(entry)
        if full:
            return [OverflowDue(entry.call, "max_length")]
        if cfg.announce_every_s > 0 and (cfg.announce_position or cfg.announce_wait):
            entry.next_announce = now + cfg.announce_first_s
        return [Music(entry.call, cfg.music)]

    def leave(self, call: str) -> Entry | None:
        entry = self.get(call)
        if entry is not None:
            self.entries.remove(entry)
        return entry

    def position(self, call: str) -> int | None:
        """1-based place among every entry (callbacks keep their place, so they count)."""
        for i, e in enumerate(self.ordered(), 1):
            if e.call == call:
                return i
        return None

    def aht(self) -> float:
        return sum(self.handle_times) / len(self.handle_times) if self.handle_times else self.config.default_handle_s

    def record_handle(self, seconds: float) -> None:
        self.handle_times.append(seconds)

    def ewt(self, position: int, staffed: int) -> int | None:
        if staffed <= 0:
            return None
        return math.ceil(position * self.aht() / staffed)

    def tick(self, now: float, staffed: int) -> list[Announce | OverflowDue]:
        """Due announcements and overflows. A call whose agent is ringing hears no announcement (it
        is due again once the offer resolves) but still overflows at ``max_wait_s``: a call rung round
        agents who never answer must not wait for ever."""
        cfg = self.config
        out: list[Announce | OverflowDue] = []
        for pos, e in enumerate(self.ordered(), 1):
            if not e.live:
                continue
            if cfg.max_wait_s and not e.callback_offered and now - e.entered >= cfg.max_wait_s:
                out.append(OverflowDue(e.call, "max_wait"))
                continue
            if e.ringing:
                continue
            if e.next_announce is not None and now >= e.next_announce:
                while e.next_announce <= now:
                    e.next_announce += cfg.announce_every_s
                out.append(Announce(e.call, pos if cfg.announce_position else None,
                                    self.ewt(pos, staffed) if cfg.announce_wait else None))
        return out

    def next_wakeup(self) -> float | None:
        times: list[float] = []
        for e in self.entries:
            if e.ring_deadline is not None and e.ringing:
                times.append(e.ring_deadline)
            if not e.live:
                continue
            if self.config.max_wait_s and not e.callback_offered:
                times.append(e.entered + self.config.max_wait_s)
            if e.next_announce is not None and not e.ringing:
                times.append(e.next_announce)
        return min(times) if times else None
