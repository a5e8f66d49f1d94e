"""The ACD engine: agents, queues, routing, customers and statistics tied together.

Sans-I/O: the daemon calls the input methods (``call_arrived``, ``answered``, ``ring_failed``,
``hangup``, ``callback_accepted``, agent requests, ``tick``) with ``now``, and the engine acts
through the small ``Host`` interface (ring, stop ring, connect, music, announcements, overflow) and
publishes events for the API. It never reads a clock or sleeps; ``next_wakeup()`` says when it next
needs ``tick``. docs/acd.md lists exactly what the daemon must call and when.

``now`` is seconds since the epoch as the ACD sees it (the daemon passes its loop clock mapped to
the epoch, so a virtual clock runs the ACD fast too); local time for time-of-day rules, "today" and
intervals is ``now + [acd] utc_offset_min``.

Invariant (``invariant_errors``): an agent is reserved exactly when it has an outstanding offer, and
that offer is for a call waiting in a queue that lists the agent as ringing, and the other way round.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from daemon.acd.agent_store import AgentStore
from daemon.acd.agents import (
    Agent,
    AgentChanged,
    AgentError,
    Agents,
    AgentState,
    NoSuchExtension,
    OfferOutcome,
)
from daemon.acd.callbacks import CallbackStore
from daemon.acd.config import AcdConfig, Overflow
from daemon.acd.customers import Customers
from daemon.acd.queues import Announce, Entry, EntryKind, Music, OverflowDue, Queue
from daemon.acd.stats import IntervalStore, Stats
from daemon.acd.strategies import Caller, Candidate, Memory, apply_rules, pick_why

log = logging.getLogger(__name__)


class Host(Protocol):
    """What the ACD asks of call control (implemented by the daemon over ``daemon.calls.control``)."""

    def now(self) -> float: ...
    def extension_exists(self, extension: str) -> bool: ...
    def ring(self, extension: str, call: str, caller: str | None, name: str | None) -> None: ...
    def stop_ring(self, extension: str, call: str) -> None: ...
    def connect(self, call: str, extension: str, agent_id: str | None) -> None: ...
    def dial_back(self, call: str, extension: str, number: str) -> None: ...
    def play_music(self, call: str, file: str) -> None: ...
    def announce(self, call: str, position: int | None, ewt_s: int | None) -> None: ...
    def offer_callback(self, call: str) -> None: ...
    def overflow(self, call: str, to: Overflow) -> None: ...


@dataclass
class Talk:
    call: str
    queue: str
    extension: str
    agent: str | None  # None: answered at an always-ring extension
    answered: float
    callback: Entry | None = None  # a callback being dialled back: put back in its queue if that fails
    transferred: bool = False  # taken over from another agent (its handle time was counted then)


def _input(fn: Callable[..., Any]) -> Callable[..., Any]:
    """An engine input. A Host method that calls back into the engine (say ``ring`` reporting a
    failed ring at once) would re-enter it half-way through a decision: such a call is queued and
    run as soon as the current input has finished (it then returns None; errors are logged)."""
    @functools.wraps(fn)
    def wrapper(self: Engine, *args: Any, **kw: Any) -> Any:
        if self._running:
            self._deferred.append((fn, args, kw))
            return None
        self._running = True
        try:
            result = fn(self, *args, **kw)
            while self._deferred:
                f, a, k = self._deferred.pop(0)
                try:
                    f(self, *a, **k)
                except AgentError as exc:
                    log.warning("acd: deferred %s%r: %s", f.__name__, a, exc)
            return result
        finally:
            self._running = False
            self._deferred.clear()
    return wrapper


def _has_digits(number: str | None) -> bool:
    return bool(number) and any(ch.isdigit() for ch in number)


def _inline(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


class Engine:
    def __init__(self, config: AcdConfig, host: Host, *, customers: Customers | None = None,
                 intervals: IntervalStore | None = None, callbacks: CallbackStore | None = None,
                 agent_store: AgentStore | None = None,
                 submit: Callable[..., Any] = _inline,
                 publish: Callable[..., None] = lambda kind, **data: None,
                 now: float | None = None) -> None:
        self.config = config
        self.host = host
        self.customers = customers
        self.intervals = intervals
        self.callbacks = callbacks
        self.agent_store = agent_store
        self._stored: dict[str, tuple[str, str | None]] = {}  # agent → (extension, pause) as last written
        self.submit = submit  # runs slow writes (LMDB) off the tick: submit(fn, *args)
        self.publish = publish
        s = config.settings
        self.offset = s.utc_offset_min * 60
        start = host.now() if now is None else now
        self._now = start  # the latest input's time
        self.agents = Agents(config.agents, s, day_of=lambda t: int((t + self.offset) // 86400))
        self.queues = {q.name: Queue(q, s.recent_calls) for q in config.queues}
        self.memory = {q.name: Memory() for q in config.queues}
        self.entries: dict[str, Entry] = {}
        self.talking: dict[str, Talk] = {}
        self.bell_busy: dict[str, str] = {}  # always-ring extension → call it rings for
        self._order: dict[str, int] = {}
        self._members: dict[str, list[str]] = {}
        self._index_members()
        self._seq = itertools.count()
        self._running = False  # inside an input (see ``_input``)
        self._deferred: list[tuple[Callable[..., Any], tuple, dict]] = []
        self.stats = Stats(start, interval_s=s.interval_min * 60, utc_offset_s=self.offset,
                           short_abandon_s=s.short_abandon_s,
                           service_level_s=self._sl_s, on_interval=self._interval_closed)
        if agent_store is not None:
            self._restore_agents(agent_store.load(), start)
        if callbacks is not None:
            self._restore_callbacks(callbacks.load())

    # --- calls ------------------------------------------------------------------------------------

    @_input
    def call_arrived(self, call: str, queue: str, caller: str | None, now: float) -> bool:
        """An inbound call enters ``queue`` (from the IVR or a line's destination). False: no such
        queue, or the call is already in the ACD (the daemon routes it elsewhere)."""
        q = self.queues.get(queue)
        if q is None or call in self.entries or call in self.talking:
            return False
        self._roll(now)
        rec = self._customer(caller)
        who = Caller(caller, known=bool(rec and rec["calls"] > 0), level=rec["level"] if rec else 0,
                     last_agent=rec["last_agent"] if rec else None)
        if self.customers is not None and _has_digits(caller):
            self.submit(self.customers.record_call, caller, now)
        entry = Entry(call, queue, who, 0, now, next(self._seq), now, customer=rec)
        self._join(q, entry, now)
        self._dispatch(now)
        return True

    @_input
    def answered(self, call: str, extension: str, now: float) -> bool:
        """``extension`` answered the ring for ``call``. False: no offer was outstanding there (a
        late answer after a stop ring): the daemon must release that extension's leg."""
        entry = self.entries.get(call)
        if entry is None:
            return False
        self._roll(now)
        agent = self.agents.at_extension(extension)
        if agent is not None and agent.offer is not None and agent.offer.call == call:
            entry.ringing.discard(agent.id)
            self._agent_events(self.agents.resolve_offer(agent.id, call, OfferOutcome.ACCEPTED, now))
        elif extension in entry.bells:
            agent = None
            entry.bells.discard(extension)
            self.bell_busy.pop(extension, None)
        else:
            return False
        self._cancel_entry_rings(entry, now)
        q = self.queues[entry.queue]
        q.leave(call)
        del self.entries[call]
        wait = now - entry.entered
        self.stats.answered(q.name, wait)
        self.talking[call] = Talk(call, q.name, extension, agent.id if agent else None, now,
                                  entry if entry.kind is EntryKind.CALLBACK else None)
        if entry.kind is EntryKind.CALLBACK:
            entry.attempts += 1
            if self.callbacks is not None:
                self.submit(self.callbacks.delete, call)
            self.host.dial_back(call, extension, entry.callback_number or "")
        else:
            self.host.connect(call, extension, agent.id if agent and q.config.announce_agent_id else None)
        number = entry.callback_number or entry.caller.number
        if agent is not None and self.customers is not None and _has_digits(number):
            self.submit(self.customers.record_answer, number, agent.id, now)
        self.publish("call.connected", call=call, queue=q.name, extension=extension,
                     agent=agent.id if agent else None, wait_s=round(wait, 3), callback=not entry.live)
        self._queue_changed(q, now)
        self._dispatch(now)
        return True

    @_input
    def ring_failed(self, call: str, extension: str, now: float) -> None:
        """The ring at ``extension`` failed or was rejected (busy, off-hook, line fault): a missed
        ring for the agent there; the call goes on to another agent."""
        entry = self.entries.get(call)
        if entry is None:
            return
        self._roll(now)
        agent = self.agents.at_extension(extension)
        if agent is not None and agent.id in entry.ringing:
            entry.ringing.discard(agent.id)
            entry.skipped.add(agent.id)
            self._agent_events(self.agents.resolve_offer(agent.id, call, OfferOutcome.REFUSED, now))
        if extension in entry.bells:
            entry.bells.discard(extension)
            entry.bells_failed.add(extension)
            self.bell_busy.pop(extension, None)
        if not entry.ringing:
            entry.ring_deadline = None
        self._dispatch(now)

    @_input
    def hangup(self, call: str, now: float) -> None:
        """The call ended: the caller hung up while waiting or ringing (an abandon), or the
        conversation ended (either side; the agent goes to wrap-up), or a callback was cancelled."""
        self._roll(now)
        talk = self.talking.pop(call, None)
        if talk is not None:
            q = self.queues[talk.queue]
            wrap = 0.0
            if talk.agent is not None:
                cfg = self.agents.get(talk.agent).config
                wrap = cfg.wrap_up_s if cfg.wrap_up_s is not None else q.config.wrap_up_s
                self._agent_events(self.agents.end_call(talk.agent, call, now, wrap))
            if not talk.transferred:
                q.record_handle(now - talk.answered + wrap)
            self.publish("call.ended", call=call, queue=q.name, agent=talk.agent, talk_s=round(now - talk.answered, 3))
            self._dispatch(now)
            return
        entry = self.entries.get(call)
        if entry is not None:
            self._remove_entry(entry, now)

    @_input
    def transfer_answered(self, call: str, queue: str, extension: str, now: float) -> bool:
        """A call of ``queue`` that its agent handed on (``hangup`` was called for their part) was
        answered at ``extension``: an agent logged in there is now busy with it, counted as answered
        (``agent.state`` reason ``transferred``); its ``hangup`` ends that agent's part (wrap-up).
        False: nobody who can take it is logged in there (the call goes on outside the ACD)."""
        if call in self.talking or call in self.entries or queue not in self.queues:
            return False
        agent = self.agents.at_extension(extension)
        if agent is None:
            return False
        self._roll(now)
        events = self.agents.take_call(agent.id, call, now)
        if not events:
            return False
        self._agent_events(events)
        self.talking[call] = Talk(call, queue, extension, agent.id, now, transferred=True)
        return True

    def _remove_entry(self, entry: Entry, now: float) -> None:
        """A waiting entry leaves its queue: a caller abandoned, or a callback was cancelled."""
        del self.entries[entry.call]
        q = self.queues[entry.queue]
        self._cancel_entry_rings(entry, now)
        q.leave(entry.call)
        if entry.live:
            wait = now - entry.entered
            self.stats.abandoned(q.name, wait)
            self.publish("call.abandoned", call=entry.call, queue=q.name, wait_s=round(wait, 3),
                         short=wait < self.config.settings.short_abandon_s)
        else:
            if self.callbacks is not None:
                self.submit(self.callbacks.delete, entry.call)
            self.publish("callback.cancelled", call=entry.call, queue=q.name)
        self._queue_changed(q, now)
        self._dispatch(now)

    @_input
    def callback_accepted(self, call: str, number: str | None, now: float) -> bool:
        """The waiting caller asked to be called back at ``number`` (None: their caller ID) and will
        hang up: the entry keeps its place; when it reaches an agent, the agent's extension rings and,
        once answered, ``Host.dial_back`` dials the customer. Call ``hangup`` for the caller's leg only
        if it is still in ``talking`` (it is not: the entry is no longer live)."""
        entry = self.entries.get(call)
        if entry is not None:
            number = number or entry.caller.number
        if entry is None or not entry.live or not number:
            return False
        self._roll(now)
        entry.kind = EntryKind.CALLBACK
        entry.callback_number = number
        entry.next_announce = None
        for ext in sorted(entry.bells):  # night bells ring for callers on the line only
            self._stop_bell(ext)
        q = self.queues[entry.queue]
        self._store_callback(q, entry)
        self.publish("callback.queued", call=call, queue=q.name, number=number, position=q.position(call))
        self._queue_changed(q, now)
        self._dispatch(now)
        return True

    @_input
    def dial_back_failed(self, call: str, now: float) -> bool:
        """The customer did not answer the dial-back (no answer, busy, unreachable): the agent is free
        again at once (no wrap-up: there was no conversation) and, while the queue's
        ``callback_retries`` allow, the callback goes back to its place, offered again after
        ``callback_retry_s`` (``callback.failed`` says which). False if ``call`` is no dial-back."""
        talk = self.talking.get(call)
        if talk is None or talk.callback is None:
            return False
        del self.talking[call]
        self._roll(now)
        entry, q = talk.callback, self.queues.get(talk.queue)
        if talk.agent is not None:
            self._agent_events(self.agents.end_call(talk.agent, call, now, 0.0))
        retry = q is not None and entry.attempts <= q.config.callback_retries
        if retry:
            entry.not_before = now + q.config.callback_retry_s
            entry.ringing.clear()
            entry.skipped.clear()
            entry.ring_deadline = None
            q.entries.append(entry)
            self.entries[call] = entry
            self._store_callback(q, entry)
        self.publish("callback.failed", call=call, queue=talk.queue, number=entry.callback_number,
                     attempts=entry.attempts, retry_at=entry.not_before if retry else None)
        if q is not None:
            self._queue_changed(q, now)
        self._dispatch(now)
        return True

    @_input
    def cancel_callback(self, call: str, now: float) -> bool:
        """A supervisor drops a waiting callback (the customer called again, or asked not to be
        called): False if ``call`` is not a callback still waiting (or ringing an agent)."""
        entry = self.entries.get(call)
        if entry is None or entry.live:
            return False
        self._roll(now)
        self._remove_entry(entry, now)
        return True

    # --- agents (feature codes, API) -----------------------------------------------------------------

    @_input
    def login(self, agent_id: str, pin: str, extension: str, now: float) -> None:
        """Raises ``AgentError`` (wrong PIN, desk in use by an agent on a call, ...); ``NoSuchExtension``
        for an extension number that is not configured (it could never be rung)."""
        if not self.host.extension_exists(extension):
            raise NoSuchExtension(f"no extension {extension}")
        self._roll(now)
        self._agent_events(self.agents.login(agent_id, pin, extension, now))
        self._stop_bell(extension)  # an agent's phone now: no longer a night bell
        self._dispatch(now)

    @_input
    def logout(self, agent_id: str, now: float) -> None:
        self._roll(now)
        self._agent_events(self.agents.logout(agent_id, now))
        self._withdraw_offer(self.agents.get(agent_id), now)
        self._dispatch(now)

    @_input
    def pause(self, agent_id: str, reason: str, now: float) -> None:
        self._roll(now)
        self._agent_events(self.agents.pause(agent_id, reason, now))
        self._withdraw_offer(self.agents.get(agent_id), now)
        self._dispatch(now)

    @_input
    def resume(self, agent_id: str, now: float) -> None:
        self._roll(now)
        self._agent_events(self.agents.resume(agent_id, now))
        self._dispatch(now)

    @_input
    def extension_in_use(self, extension: str, in_use: bool, now: float) -> None:
        """The phone at ``extension`` went off-hook for, or finished, a call that is not the ACD's
        (an agent dialling out, an internal call): a logged-in agent there is not offered calls
        meanwhile (their state does not change)."""
        agent = self.agents.at_extension(extension)
        if agent is None or agent.phone_busy == in_use:
            return
        self._roll(now)
        agent.phone_busy = in_use
        self.publish("agent.phone", agent=agent.id, extension=extension, in_use=in_use, when=now)
        if not in_use:
            self._dispatch(now)

    def agent_at(self, extension: str) -> Agent | None:
        return self.agents.at_extension(extension)

    # --- time -------------------------------------------------------------------------------------

    @_input
    def tick(self, now: float) -> None:
        """Do everything due by ``now``: wrap-ups ending, offers timing out, announcements, max-wait
        overflows, sticky fallbacks, interval ends. Call it at ``next_wakeup()`` (or every second)."""
        self._roll(now)
        self._agent_events(self.agents.tick(now))
        for entry in list(self.entries.values()):
            if entry.ringing and entry.ring_deadline is not None and now >= entry.ring_deadline:
                for aid in sorted(entry.ringing):
                    agent = self.agents.get(aid)
                    if agent.extension:
                        self.host.stop_ring(agent.extension, entry.call)
                    entry.skipped.add(aid)
                    self._agent_events(self.agents.resolve_offer(aid, entry.call, OfferOutcome.TIMED_OUT, now))
                entry.ringing.clear()
                entry.ring_deadline = None
        for q in self.queues.values():
            for d in q.tick(now, self._staffed(q.name)):
                if isinstance(d, Announce):
                    self.host.announce(d.call, d.position, d.ewt_s)
                    self.publish("call.announce", call=d.call, queue=q.name, position=d.position, ewt_s=d.ewt_s)
                elif isinstance(d, OverflowDue) and d.call in self.entries:
                    self._overflow(self.entries[d.call], d.reason, now)
        self._dispatch(now)

    def next_wakeup(self) -> float:
        times = [self.stats.next_boundary()]
        a = self.agents.next_wakeup()
        if a is not None:
            times.append(a)
        for q in self.queues.values():
            t = q.next_wakeup()
            if t is not None:
                times.append(t)
        times += [e.replan_at for e in self.entries.values() if e.replan_at is not None and not e.ringing]
        times += [e.not_before for e in self.entries.values() if e.not_before is not None]
        hours = self._next_hours_change(self._now) if self.entries else None
        if hours is not None:
            times.append(hours)
        return min(times)

    # --- configuration ------------------------------------------------------------------------------

    #: ``[acd]`` settings read only at start (the statistics intervals are cut by them)
    START_ONLY = ("utc_offset_min", "interval_min", "recent_calls")

    @_input
    def reconfigure(self, config: AcdConfig, now: float) -> list[str]:
        """Apply a changed ACD configuration live, without dropping a call: queues and agents take
        their new settings at once (waiting callers keep their places; the next decision uses the new
        strategy, rules, timers and announcements), new ones are added, and members are recomputed.
        A removed queue with callers still waiting keeps serving them (and goes at the next
        reconfiguration or restart); for removed agents see ``Agents.reconfigure``. Returns the
        ``[acd]`` settings that changed but take effect only at the next start (``START_ONLY``: the
        running values are kept)."""
        self._roll(now)
        old = self.config.settings
        later = [f"acd.{f}" for f in self.START_ONLY if getattr(old, f) != getattr(config.settings, f)]
        settings = dataclasses.replace(config.settings, **{f: getattr(old, f) for f in self.START_ONLY})
        self.config = config = dataclasses.replace(config, settings=settings)
        self.stats.short_abandon_s = settings.short_abandon_s
        self._agent_events(self.agents.reconfigure(config.agents, settings, now))
        for agent in list(self.agents):  # an extension removed under a logged-in agent: logged out there
            if agent.extension and not self.host.extension_exists(agent.extension):
                log.warning("acd: agent %s is logged in at extension %s, which is no longer configured: "
                            "logged out", agent.id, agent.extension)
                self._agent_events(self.agents.logout(agent.id, now, "extension_gone"))
                self._withdraw_offer(agent, now)
        for name, q in list(self.queues.items()):
            if config.queue(name) is None and not q.entries:
                del self.queues[name], self.memory[name]
        for qc in config.queues:
            if qc.name in self.queues:
                self.queues[qc.name].config = qc
            else:
                self.queues[qc.name] = Queue(qc, settings.recent_calls)
                self.memory[qc.name] = Memory()
        self._index_members()
        for q in self.queues.values():
            self._queue_changed(q, now)
        self._dispatch(now)
        return later

    def _index_members(self) -> None:
        """Each queue's member agents (a removed queue still draining keeps the agents still here)."""
        config = self.config
        self._order = {a.id: i for i, a in enumerate(config.agents)}
        members = {q.name: [a.id for a in config.members(q)] for q in config.queues}
        for name in self.queues:
            members.setdefault(name, [a for a in self._members.get(name, []) if a in self._order])
        self._members = members

    # --- reading (API) ------------------------------------------------------------------------------

    def snapshot(self, now: float) -> dict:
        """Agents serving / idle / paused and every queue's waiting calls (the supervisor's view)."""
        agents = [{"id": a.id, "name": a.config.name, "state": str(a.state), "extension": a.extension,
                   "since": a.since, "pause_reason": a.pause_reason, "call": a.call or (a.offer and a.offer.call),
                   "supervisor": a.config.supervisor} for a in self.agents]
        queues = {name: self._queue_live(q, now) for name, q in self.queues.items()}
        return {"agents": agents, "queues": queues, "stats": self.stats.live(now)}

    def invariant_errors(self) -> list[str]:
        errs: list[str] = []
        for a in self.agents:
            reserved = a.state is AgentState.RESERVED
            if reserved != (a.offer is not None):
                errs.append(f"agent {a.id} is {a.state} with offer {a.offer}")
            if a.offer is not None:
                e = self.entries.get(a.offer.call)
                if e is None or a.id not in e.ringing:
                    errs.append(f"agent {a.id} has an offer for {a.offer.call}, which is not ringing it")
        for e in self.entries.values():
            for aid in e.ringing:
                a = self.agents.get(aid)
                if a.offer is None or a.offer.call != e.call:
                    errs.append(f"call {e.call} lists {aid} as ringing, but the agent has no such offer")
            if e.ringing and e.ring_deadline is None:
                errs.append(f"call {e.call} rings agents with no deadline")
        for ext, call in self.bell_busy.items():
            if call not in self.entries or ext not in self.entries[call].bells:
                errs.append(f"always-ring {ext} is held by {call}, which does not ring it")
        return errs

    # --- internals --------------------------------------------------------------------------------------

    def _store_callback(self, q: Queue, entry: Entry) -> None:
        if self.callbacks is not None:
            self.submit(self.callbacks.put, {
                "call": entry.call, "queue": q.name, "number": entry.callback_number, "priority": entry.priority,
                "entered": entry.entered, "arrived": entry.arrived, "level": entry.caller.level,
                "last_agent": entry.caller.last_agent, "customer": entry.customer,
                "attempts": entry.attempts, "not_before": entry.not_before})

    def _restore_callbacks(self, rows: list[dict]) -> None:
        """Put the callbacks stored before a restart back in their queues, at their places."""
        for row in rows:
            q = self.queues.get(row["queue"])
            if q is None or row["call"] in self.entries:
                log.warning("acd: stored callback %s for %s: no such queue now; kept in the store",
                            row["call"], row["number"])
                continue
            caller = Caller(row["number"], known=True, level=row.get("level", 0), last_agent=row.get("last_agent"))
            entry = Entry(row["call"], q.name, caller, row["priority"], row["entered"], next(self._seq),
                          row["arrived"], kind=EntryKind.CALLBACK, callback_number=row["number"],
                          customer=row.get("customer"), attempts=row.get("attempts", 0),
                          not_before=row.get("not_before"))
            q.entries.append(entry)
            self.entries[entry.call] = entry
            self.publish("callback.restored", call=entry.call, queue=q.name, number=row["number"])

    def _sl_s(self, queue: str) -> float:
        q = self.queues.get(queue)
        sl = q.config.service_level_s if q is not None else None
        return sl if sl is not None else self.config.settings.service_level_s

    def _roll(self, now: float) -> None:
        self._now = now
        self.stats.roll(now)

    def _interval_closed(self, record: dict) -> None:
        if self.intervals is not None:
            self.submit(self.intervals.put, record)
        self.publish("stats.interval", **record)

    def _customer(self, number: str | None) -> dict | None:
        if self.customers is None or not number:
            return None
        try:
            rec = self.customers.get(number)
        except ValueError:
            return None  # a caller ID with no digits
        return rec.to_dict() if rec is not None else None

    def _join(self, q: Queue, entry: Entry, now: float) -> None:
        entry.queue = q.name
        plan = apply_rules(q.config.rules, q.config.strategy, self._candidates(q.name, now), entry.caller, 0.0,
                           self._minute(now))
        entry.priority = q.config.priority + plan.boost
        self.entries[entry.call] = entry
        self.stats.offered(q.name)
        decisions = q.join(entry, now)
        self.publish("call.queued", call=entry.call, queue=q.name, caller=entry.caller.number,
                     priority=entry.priority, position=q.position(entry.call), customer=entry.customer,
                     rules=list(plan.applied))
        for d in decisions:
            if isinstance(d, Music):
                self.host.play_music(d.call, d.file)
            elif isinstance(d, OverflowDue):
                self._overflow(entry, d.reason, now)
        if entry.call in self.entries:
            self._queue_changed(q, now)

    def _overflow(self, entry: Entry, reason: str, now: float) -> None:
        q = self.queues[entry.queue]
        to = q.config.overflow
        if to.kind == "queue" and entry.hops >= len(self.queues):
            to = Overflow("hangup")  # a loop of full queues: give up rather than bounce for ever
        self.publish("call.overflow", call=entry.call, queue=q.name, reason=reason, to=str(to),
                     wait_s=round(now - entry.entered, 3))
        if to.kind == "callback":
            entry.callback_offered = True
            self.host.offer_callback(entry.call)
            return
        self._cancel_entry_rings(entry, now)
        q.leave(entry.call)
        del self.entries[entry.call]
        self.stats.overflowed(q.name, now - entry.entered)
        self._queue_changed(q, now)
        if to.kind == "queue":
            target = self.queues[to.target]
            moved = Entry(entry.call, target.name, entry.caller, 0, now, next(self._seq), entry.arrived,
                          customer=entry.customer, hops=entry.hops + 1)
            self._join(target, moved, now)
        else:
            self.host.overflow(entry.call, to)

    def _candidates(self, queue: str, now: float) -> list[Candidate]:
        """The queue's staffed members (logged in, not paused) as routing sees them (counters from an
        earlier day read 0). Rules narrow among these, so a sticky agent who is paused is not waited
        for, and a time-of-day group whose agents are all paused or out falls through."""
        out = []
        day = self.agents.day_of(now)
        for aid in self._members[queue]:
            a = self.agents.by_id[aid]
            if a.state in (AgentState.LOGGED_OUT, AgentState.PAUSED):
                continue
            today = a.day == day
            out.append(Candidate(a.id, self._order[a.id], a.idle_since,
                                 a.answered_today if today else 0, a.rings_today if today else 0,
                                 a.talk_today if today else 0.0, a.config.skills, a.config.groups,
                                 a.missed_today if today else 0))
        return out

    def _minute(self, now: float) -> int:
        return int((now + self.offset) % 86400 // 60)

    def _staffed(self, queue: str) -> int:
        return sum(1 for aid in self._members[queue]
                   if self.agents.by_id[aid].state not in (AgentState.LOGGED_OUT, AgentState.PAUSED))

    def _bells_due(self, q: Queue, now: float) -> bool:
        """Whether the queue's always-ring extensions ring now (``always_ring_when``): always, when no
        member is staffed (every one logged out or paused), outside ``open_hours``, or either."""
        when = q.config.always_ring_when
        if when == "always":
            return True
        unstaffed = when in ("no_agents", "no_agents_or_closed") and self._staffed(q.name) == 0
        minute = self._minute(now)
        closed = when in ("closed", "no_agents_or_closed") and not any(r.contains(minute) for r in q.config.open_hours)
        return unstaffed or closed

    def _next_hours_change(self, now: float) -> float | None:
        """The next time (after ``now``) a queue with callers waiting opens or closes for its bells."""
        day0 = now - (now + self.offset) % 86400  # local midnight today, as epoch seconds
        times = []
        for q in self.queues.values():
            if q.config.always_ring and q.config.always_ring_when != "always" and any(e.live for e in q.entries):
                for r in q.config.open_hours:
                    for minute in (r.start, r.end):
                        if minute is not None:
                            t = day0 + minute * 60
                            times.append(t if t > now else t + 86400)
        return min(times) if times else None

    def _dispatch(self, now: float) -> None:
        """Offer waiting calls to available agents, highest priority and longest waiting first."""
        minute = self._minute(now)
        for ext, call in list(self.bell_busy.items()):  # bells no longer due stop first
            if not self._bells_due(self.queues[self.entries[call].queue], now):
                self._stop_bell(ext)
        for entry in sorted(self.entries.values(), key=Entry.order_key):
            q = self.queues[entry.queue]
            if entry.not_before is not None:
                if now < entry.not_before:
                    continue  # a callback waiting to be tried again
                entry.not_before = None
            if not entry.ringing:
                self._offer(q, entry, now, minute)
            if entry.live and entry.call in self.entries and q.config.always_ring and self._bells_due(q, now):
                self._ring_bells(q, entry, now)

    def _offer(self, q: Queue, entry: Entry, now: float, minute: int) -> None:
        members = self._candidates(q.name, now)
        plan = apply_rules(q.config.rules, q.config.strategy, members, entry.caller, now - entry.entered, minute,
                           frozenset(entry.skipped))
        entry.replan_at = entry.entered + plan.replan_after_s if plan.replan_after_s is not None else None
        pool = set(plan.pool)
        avail = [c for c in members if c.id in pool and self.agents.by_id[c.id].can_ring(now)]
        fresh = [c for c in avail if c.id not in entry.skipped]
        if not fresh and avail:
            entry.skipped.clear()  # every available agent has missed this call once: go round again
            fresh = avail
        chosen, why = pick_why(plan.strategy, fresh, self.memory[q.name], q.config.skill, order=q.config.order,
                               last_agent=entry.caller.last_agent)
        if not chosen:
            return
        deadline = now + q.config.ring_timeout_s
        entry.ring_deadline = deadline
        for aid in chosen:
            agent = self.agents.by_id[aid]
            ext = agent.extension
            assert ext is not None
            self._agent_events(self.agents.reserve(aid, entry.call, now, deadline))
            entry.ringing.add(aid)
            self.host.ring(ext, entry.call, entry.callback_number or entry.caller.number, self._display(entry))
            self.publish("call.offered", call=entry.call, queue=q.name, agent=aid, extension=ext,
                         caller=entry.callback_number or entry.caller.number, customer=entry.customer,
                         wait_s=round(now - entry.entered, 3), callback=not entry.live, rules=list(plan.applied),
                         decided_by=why)

    @staticmethod
    def _display(entry: Entry) -> str | None:
        """The caller-ID name shown on the ringing phone: the customer's name, if known."""
        return (entry.customer or {}).get("name") or None

    def _ring_bells(self, q: Queue, entry: Entry, now: float) -> None:
        for ext in q.config.always_ring:
            if ext in self.bell_busy or ext in entry.bells or ext in entry.bells_failed:
                continue
            if self.agents.at_extension(ext) is not None:
                continue  # an agent is logged in there: it is their phone, offered through them
            self.bell_busy[ext] = entry.call
            entry.bells.add(ext)
            self.host.ring(ext, entry.call, entry.caller.number, self._display(entry))
            self.publish("call.offered", call=entry.call, queue=q.name, agent=None, extension=ext,
                         caller=entry.caller.number, customer=entry.customer, wait_s=round(now - entry.entered, 3),
                         callback=False, rules=[], decided_by=None, bell=True)

    def _stop_bell(self, extension: str) -> None:
        call = self.bell_busy.pop(extension, None)
        if call is not None:
            self.host.stop_ring(extension, call)
            self.entries[call].bells.discard(extension)

    def _cancel_entry_rings(self, entry: Entry, now: float) -> None:
        """Stop every ring still going for ``entry``: offers resolve as cancelled (not missed)."""
        for aid in sorted(entry.ringing):
            agent = self.agents.get(aid)
            if agent.extension:
                self.host.stop_ring(agent.extension, entry.call)
            self._agent_events(self.agents.resolve_offer(aid, entry.call, OfferOutcome.CANCELLED, now))
        entry.ringing.clear()
        entry.ring_deadline = None
        for ext in sorted(entry.bells):
            self.host.stop_ring(ext, entry.call)
            self.bell_busy.pop(ext, None)
        entry.bells.clear()

    def _withdraw_offer(self, agent: Agent, now: float) -> None:
        """A pause or logout came while the agent's phone rang: stop it; the pending request applies."""
        if agent.offer is None:
            return
        call = agent.offer.call
        if agent.extension:
            self.host.stop_ring(agent.extension, call)
        entry = self.entries.get(call)
        if entry is not None:
            entry.ringing.discard(agent.id)
            if not entry.ringing:
                entry.ring_deadline = None
        self._agent_events(self.agents.resolve_offer(agent.id, call, OfferOutcome.CANCELLED, now))

    def _agent_events(self, events: list[AgentChanged]) -> None:
        for ev in events:
            self.stats.agent_changed(ev)
            self.publish("agent.state", agent=ev.agent, old=str(ev.old), state=str(ev.new), reason=ev.reason,
                         pause_reason=ev.pause_reason, extension=ev.extension, call=ev.call, when=ev.now)
        if self.agent_store is not None:
            for aid in dict.fromkeys(ev.agent for ev in events):
                self._store_agent(aid)

    def _store_agent(self, agent_id: str) -> None:
        """Write the agent's login (extension, pause) if it changed since it was last written."""
        agent = self.agents.by_id.get(agent_id)
        row = None
        if agent is not None and agent.state is not AgentState.LOGGED_OUT and agent.extension:
            row = (agent.extension, agent.pause_reason if agent.state is AgentState.PAUSED else None)
        if self._stored.get(agent_id) == row:
            return
        if row is None:
            self._stored.pop(agent_id, None)
            self.submit(self.agent_store.delete, agent_id)
        else:
            self._stored[agent_id] = row
            self.submit(self.agent_store.put, agent_id, *row)

    def _restore_agents(self, rows: dict[str, dict], now: float) -> None:
        """Log the agents stored before a restart back in (``agent.state`` with reason ``restored``). A
        login at an extension no longer configured is dropped (a warning, and ``agent.state`` logged_out
        with reason ``extension_gone``): it could never be rung."""
        for aid, row in sorted(rows.items()):
            self._stored[aid] = (row["extension"], row.get("pause_reason"))  # what the store holds
            if not self.host.extension_exists(row["extension"]):
                log.warning("acd: agent %s was logged in at extension %s, which is no longer configured: "
                            "not logged back in", aid, row["extension"])
                self.publish("agent.state", agent=aid, old=str(AgentState.LOGGED_OUT),
                             state=str(AgentState.LOGGED_OUT), reason="extension_gone", pause_reason=None,
                             extension=row["extension"], call=None, when=now)
                self._store_agent(aid)
                continue
            self._agent_events(self.agents.restore(aid, row["extension"], row.get("pause_reason"), now))
            self._store_agent(aid)  # not restored (no longer configured, or the desk taken): forgotten

    def _queue_live(self, q: Queue, now: float) -> dict:
        waiting = [e for e in q.ordered() if e.live]
        return {
            "waiting": len(waiting), "callbacks": len(q.entries) - len(waiting),
            "longest_wait_s": round(max((now - e.entered for e in waiting), default=0.0), 3),
            "staffed": self._staffed(q.name),
            "idle": sum(1 for aid in self._members[q.name] if self.agents.by_id[aid].available),
            "calls": [{"call": e.call, "caller": e.caller.number, "priority": e.priority, "kind": str(e.kind),
                       "wait_s": round(now - e.entered, 3), "ringing": sorted(e.ringing), "attempts": e.attempts,
                       "retry_at": e.not_before} for e in q.ordered()],
        }

    def _queue_changed(self, q: Queue, now: float) -> None:
        live = self._queue_live(q, now)
        live.pop("calls")
        self.publish("queue.stats", queue=q.name, live=live, interval=self.stats.current.queue(q.name).to_dict())


__all__ = ["AgentError", "Engine", "Host", "NoSuchExtension", "Talk"]
