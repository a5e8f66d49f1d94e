"""Statistics, live and per interval (15 minutes by default), per queue and per agent.

Per queue a call is counted *offered* in the interval it joins the queue, and counted once more in
the interval its queue outcome happens: *answered* (wait = answer − entered), *abandoned* (the caller
hung up while waiting; under ``short_abandon_s`` it is a *short abandon*, reported apart and not an
abandon), or *overflowed* (left for another destination). With T the service-level threshold:

    service level % = 100 × answered within T / (answered + abandoned + overflowed)

(short abandons excluded from both sides; no calls → None). Average wait is over answered calls;
longest wait is over every outcome.

Per agent, time is the time spent in each state, split exactly at interval boundaries: talk (busy),
wrap-up, idle, reserved (ringing), pause per reason code; answered counts offers accepted; missed
counts offers refused or timed out (an offer *cancelled* because another agent answered in ring-all
or the caller hung up is not counted). Occupancy = (talk + wrap) / (talk + wrap + idle + reserved).

A closed interval is one record ``{"start", "end", "queues": {...}, "agents": {...}}`` stored by
``IntervalStore`` under the same 12-byte time-ordered key layout as ``daemon.store.database`` (so
``Store.scan`` reads it too).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field

import lmdb
import msgpack

from daemon.acd.agents import AgentChanged, AgentState

DB_NAME = b"acd_intervals"
_KEY = struct.Struct(">QI")  # the layout of daemon.store.database's time-ordered keys


@dataclass
class QueueCounts:
    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    overflowed: int = 0
    wait_answered_s: float = 0.0
    longest_wait_s: float = 0.0

    def service_level(self) -> float | None:
        handled = self.answered + self.abandoned + self.overflowed
        return None if handled == 0 else round(100.0 * self.answered_in_sl / handled, 2)

    def avg_wait_s(self) -> float | None:
        return None if self.answered == 0 else round(self.wait_answered_s / self.answered, 3)

    def to_dict(self) -> dict:
        return {**asdict(self), "service_level": self.service_level(), "avg_wait_s": self.avg_wait_s()}


@dataclass
class AgentCounts:
    answered: int = 0
    missed: int = 0
    talk_s: float = 0.0
    wrap_s: float = 0.0
    idle_s: float = 0.0
    reserved_s: float = 0.0
    pause_s: dict[str, float] = field(default_factory=dict)  # reason code → seconds

    def occupancy(self) -> float | None:
        staffed = self.talk_s + self.wrap_s + self.idle_s + self.reserved_s
        return None if staffed <= 0 else round((self.talk_s + self.wrap_s) / staffed, 4)

    def to_dict(self) -> dict:
        return {**asdict(self), "occupancy": self.occupancy()}


@dataclass
class Bucket:
    start: float
    end: float
    queues: dict[str, QueueCounts] = field(default_factory=dict)
    agents: dict[str, AgentCounts] = field(default_factory=dict)

    def queue(self, name: str) -> QueueCounts:
        return self.queues.setdefault(name, QueueCounts())

    def agent(self, agent_id: str) -> AgentCounts:
        return self.agents.setdefault(agent_id, AgentCounts())

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end,
                "queues": {k: v.to_dict() for k, v in sorted(self.queues.items())},
                "agents": {k: v.to_dict() for k, v in sorted(self.agents.items())}}


class Stats:
    """Counts into the current interval and today's totals; ``roll(now)`` closes intervals. The queue
    outcome methods count into the current interval: call ``roll(now)`` before them (the engine does
    on every input); ``agent_changed`` rolls by itself."""

    def __init__(self, now: float, *, interval_s: float = 900.0, utc_offset_s: float = 8 * 3600,
                 short_abandon_s: float = 5.0, service_level_s: Callable[[str], float] = lambda q: 20.0,
                 on_interval: Callable[[dict], None] = lambda rec: None) -> None:
        self.interval_s = interval_s
        self.offset = utc_offset_s
        self.short_abandon_s = short_abandon_s
        self.sl_s = service_level_s
        self.on_interval = on_interval
        self.current = Bucket(*self._bounds(now, interval_s))
        self.today = Bucket(*self._bounds(now, 86400.0))
        self._agent: dict[str, tuple[AgentState, float, str | None]] = {}  # id → (state, since, pause reason)

    def _bounds(self, now: float, length: float) -> tuple[float, float]:
        start = (now + self.offset) // length * length - self.offset
        return start, start + length

    def _buckets(self) -> tuple[Bucket, Bucket]:
        return self.current, self.today

    # --- queue outcomes --------------------------------------------------------------------------------

    def offered(self, queue: str) -> None:
        for b in self._buckets():
            b.queue(queue).offered += 1

    def answered(self, queue: str, wait_s: float) -> None:
        for b in self._buckets():
            q = b.queue(queue)
            q.answered += 1
            q.answered_in_sl += wait_s <= self.sl_s(queue)
            q.wait_answered_s += wait_s
            q.longest_wait_s = max(q.longest_wait_s, wait_s)

    def abandoned(self, queue: str, wait_s: float) -> None:
        for b in self._buckets():
            q = b.queue(queue)
            if wait_s < self.short_abandon_s:
                q.short_abandoned += 1
            else:
                q.abandoned += 1
                q.longest_wait_s = max(q.longest_wait_s, wait_s)

    def overflowed(self, queue: str, wait_s: float) -> None:
        for b in self._buckets():
            q = b.queue(queue)
            q.overflowed += 1
            q.longest_wait_s = max(q.longest_wait_s, wait_s)

    # --- agent time -----------------------------------------------------------------------------------

    def agent_changed(self, ev: AgentChanged) -> None:
        self.roll(ev.now)  # time before an interval boundary belongs to the interval that ended
        state, since, reason = self._agent.get(ev.agent, (AgentState.LOGGED_OUT, ev.now, None))
        self._add_time(ev.agent, state, reason, ev.now - since)
        if ev.reason in ("accepted", "transferred"):  # once per agent who took the call
            for b in self._buckets():
                b.agent(ev.agent).answered += 1
        elif ev.reason in ("refused", "timed_out"):
            for b in self._buckets():
                b.agent(ev.agent).missed += 1
        self._agent[ev.agent] = (ev.new, ev.now, ev.pause_reason if ev.new is AgentState.PAUSED else None)

    def _add_time(self, agent: str, state: AgentState, reason: str | None, seconds: float,
                  buckets: Iterable[Bucket] | None = None) -> None:
        if seconds <= 0 or state is AgentState.LOGGED_OUT:
            return
        for b in buckets or self._buckets():
            a = b.agent(agent)
            match state:
                case AgentState.BUSY:
                    a.talk_s += seconds
                case AgentState.WRAP_UP:
                    a.wrap_s += seconds
                case AgentState.IDLE:
                    a.idle_s += seconds
                case AgentState.RESERVED:
                    a.reserved_s += seconds
                case AgentState.PAUSED:
                    key = reason or "?"
                    a.pause_s[key] = a.pause_s.get(key, 0.0) + seconds

    def _flush_agents(self, until: float, buckets: Iterable[Bucket]) -> None:
        buckets = list(buckets)
        for agent, (state, since, reason) in list(self._agent.items()):
            if until > since:
                self._add_time(agent, state, reason, until - since, buckets)
                self._agent[agent] = (state, until, reason)

    # --- intervals ------------------------------------------------------------------------------------

    def next_boundary(self) -> float:
        return self.current.end

    def roll(self, now: float) -> list[dict]:
        """Close every interval that ended by ``now`` (each is handed to ``on_interval``)."""
        closed: list[dict] = []
        while now >= self.current.end:
            end = self.current.end
            day_ends = end >= self.today.end
            self._flush_agents(end, [self.current, self.today])
            rec = self.current.to_dict()
            closed.append(rec)
            self.on_interval(rec)
            self.current = Bucket(end, end + self.interval_s)
            if day_ends:
                self.today = Bucket(*self._bounds(end, 86400.0))
            if now >= end + 86400.0:
                # the clock jumped (set at boot, or the box was suspended): no empty intervals for
                # the gap; counting starts again in the interval holding ``now``
                self.current = Bucket(*self._bounds(now, self.interval_s))
                self.today = Bucket(*self._bounds(now, 86400.0))
                for agent, (state, _, reason) in self._agent.items():
                    self._agent[agent] = (state, self.current.start, reason)
        return closed

    def live(self, now: float) -> dict:
        """The current interval and today so far, agent time counted up to ``now``."""
        out = {}
        for name, b in (("interval", self.current), ("today", self.today)):
            snap = Bucket(b.start, b.end, {k: QueueCounts(**asdict(v)) for k, v in b.queues.items()},
                          {k: AgentCounts(**{**asdict(v), "pause_s": dict(v.pause_s)}) for k, v in b.agents.items()})
            for agent, (state, since, reason) in self._agent.items():
                self._add_time(agent, state, reason, now - since, [snap])
            out[name] = snap.to_dict()
        return out


class IntervalStore:
    """Closed intervals in a named LMDB database of the daemon's environment (sync writes)."""

    def __init__(self, env: lmdb.Environment, db_name: bytes = DB_NAME) -> None:
        self.env = env
        self.db = env.open_db(db_name)

    @staticmethod
    def key(start: float) -> bytes:
        return _KEY.pack(int(start * 1_000_000), 0)

    def put(self, record: dict) -> None:
        with self.env.begin(write=True, db=self.db) as txn:
            txn.put(self.key(record["start"]), msgpack.packb(record))

    def scan(self, since: float = 0.0, until: float | None = None) -> Iterator[dict]:
        lo = self.key(since)
        hi = self.key(until) if until is not None else b"\xff" * 12
        with self.env.begin(db=self.db) as txn:
            cur = txn.cursor()
            ok = cur.set_range(lo)
            while ok and cur.key() < hi:
                yield msgpack.unpackb(cur.value(), strict_map_key=False)
                ok = cur.next()
