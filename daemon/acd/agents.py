"""Agents and their state machine: logged_out → idle ⇄ reserved → busy → wrap_up → idle, and paused.

An agent logs in at any extension (hot-desking) with their ID and PIN. While idle they may be
*reserved* for one call (an offer: their extension rings). Every offer resolves exactly once:

* ``accepted``  → busy (talking);
* ``refused`` / ``timed_out`` → idle (a missed ring is counted; with ``pause_after_missed`` set, that
  many missed rings in a row pause the agent instead). A refused ring (the phone could not be rung
  at all) also holds the agent back from new offers for a while (``RING_RETRY_S``, doubling with
  each refusal in a row up to ``RING_RETRY_MAX_S``): a broken phone is not rung again on the spot;
* ``cancelled`` (answered elsewhere in ring-all, the caller hung up, a pause or logout came in) →
  idle, and nothing is counted against the agent.

A queued call another agent handed on and this agent answered (``take_call``) makes them busy from
idle, wrap-up or a pause (which applies again after the call).

``reserved`` holds if and only if the agent has an outstanding offer (``agent.offer``). A pause or
logout asked for while reserved or busy is kept as *pending* and applied when the offer resolves or
the call ends. Every change is returned as ``AgentChanged`` events (stats and the API consume them).
All methods take ``now`` (seconds since the epoch, as the engine sees it); nothing here reads a clock.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from daemon.acd.config import AcdSettings, AgentConfig


class AgentState(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    IDLE = "idle"
    RESERVED = "reserved"  # an offer is outstanding: the agent's extension rings
    BUSY = "busy"  # talking
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class OfferOutcome(enum.StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"  # the extension rejected the ring (busy, off-hook, failed)
    TIMED_OUT = "timed_out"  # not answered within the queue's ring timeout
    CANCELLED = "cancelled"  # not the agent's doing: answered elsewhere, caller gone, pause/logout


S = AgentState
TRANSITIONS: dict[AgentState, frozenset[AgentState]] = {
    S.LOGGED_OUT: frozenset({S.IDLE}),
    S.IDLE: frozenset({S.RESERVED, S.BUSY, S.PAUSED, S.LOGGED_OUT}),  # busy: a transferred call answered
    S.RESERVED: frozenset({S.BUSY, S.IDLE, S.PAUSED, S.LOGGED_OUT}),
    S.BUSY: frozenset({S.WRAP_UP, S.IDLE, S.PAUSED, S.LOGGED_OUT}),
    S.WRAP_UP: frozenset({S.IDLE, S.BUSY, S.PAUSED, S.LOGGED_OUT}),
    S.PAUSED: frozenset({S.IDLE, S.BUSY, S.LOGGED_OUT}),
}


RING_RETRY_S = 2.0  # the first back-off after a refused ring; doubles with each refusal in a row
RING_RETRY_MAX_S = 60.0


class AgentError(Exception):
    """A request an agent (or the API) made that cannot be done now; the message says why."""


class WrongPin(AgentError):
    """A login with a PIN that is not the agent's."""


class NoSuchExtension(AgentError):
    """A login at an extension number that is not configured."""


@dataclass(frozen=True)
class AgentChanged:
    agent: str
    old: AgentState
    new: AgentState
    now: float
    reason: str = ""  # login | logout | offer | accepted | refused | timed_out | cancelled | hangup | ...
    pause_reason: str | None = None
    extension: str | None = None
    call: str | None = None


@dataclass
class Offer:
    call: str
    started: float
    deadline: float


@dataclass
class Agent:
    config: AgentConfig
    state: AgentState = AgentState.LOGGED_OUT
    since: float = 0.0  # when the current state began
    extension: str | None = None
    pause_reason: str | None = None
    offer: Offer | None = None
    call: str | None = None  # the call being talked on / wrapped up
    wrap_until: float | None = None
    pending: tuple[str, str | None] | None = None  # ("pause", reason) | ("logout", None)
    idle_since: float = 0.0  # last call end, login or resume (a missed offer does not reset it)
    missed_in_row: int = 0
    refused_in_row: int = 0  # rings the extension refused in a row (back-off: ``ring_retry_at``)
    ring_retry_at: float | None = None  # not offered a call before this (its last ring was refused)
    phone_busy: bool = False  # the extension is in use for a call that is not the ACD's (the daemon says)
    # today's counters (reset at local midnight), used by the routing strategies
    day: int = -1
    answered_today: int = 0
    rings_today: int = 0  # offers made, whatever the outcome
    missed_today: int = 0
    talk_today: float = 0.0
    answer_at: float | None = None

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def available(self) -> bool:
        """Idle, no pending pause or logout, phone not in use: may be offered a call."""
        return self.state is AgentState.IDLE and self.pending is None and not self.phone_busy

    def can_ring(self, now: float) -> bool:
        """Available, at an extension, and not backing off after a refused ring."""
        return self.available and bool(self.extension) and (self.ring_retry_at is None or now >= self.ring_retry_at)


@dataclass
class Agents:
    """Every configured agent's state; the only place agent state changes."""

    configs: Iterable[AgentConfig]
    settings: AcdSettings = field(default_factory=AcdSettings)
    day_of: Callable[[float], int] = lambda now: int(now // 86400)
    by_id: dict[str, Agent] = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {c.id: Agent(c) for c in self.configs}
        self._reasons = dict(self.settings.pause_reasons)

    # --- lookups -----------------------------------------------------------------------------------

    def get(self, agent_id: str) -> Agent:
        agent = self.by_id.get(agent_id)
        if agent is None:
            raise AgentError(f"no agent {agent_id}")
        return agent

    def at_extension(self, extension: str) -> Agent | None:
        return next((a for a in self.by_id.values() if a.extension == extension
                     and a.state is not AgentState.LOGGED_OUT), None)

    def __iter__(self) -> Iterator[Agent]:
        return iter(self.by_id.values())

    def pause_reason_label(self, code: str) -> str:
        return self._reasons.get(code, code)

    def reconfigure(self, configs: Iterable[AgentConfig], settings: AcdSettings, now: float) -> list[AgentChanged]:
        """Apply a new agent list and ``[acd]`` settings without touching calls: a kept agent keeps its
        state with its new settings; a new one starts logged out; a removed one that is logged out goes
        at once, one still logged in is logged out (after the call it is on) and goes at the next
        reconfiguration or restart."""
        self.settings = settings
        self._reasons = dict(settings.pause_reasons)
        wanted = {c.id: c for c in configs}
        events: list[AgentChanged] = []
        for aid, agent in list(self.by_id.items()):
            if aid in wanted:
                agent.config = wanted[aid]
            elif agent.state is AgentState.LOGGED_OUT:
                del self.by_id[aid]
            else:
                events += self.logout(aid, now)
        for aid, cfg in wanted.items():
            self.by_id.setdefault(aid, Agent(cfg))
        return events

    # --- requests (feature codes, API) --------------------------------------------------------------

    def login(self, agent_id: str, pin: str, extension: str, now: float) -> list[AgentChanged]:
        """Log ``agent_id`` in at ``extension``. An idle or paused agent already at that extension is
        logged out (hot-desking); an agent logged in elsewhere moves here if not on a call."""
        agent = self.get(agent_id)
        if agent.config.pin and pin != agent.config.pin:
            raise WrongPin(f"agent {agent_id}: wrong PIN")
        out: list[AgentChanged] = []
        other = self.at_extension(extension)
        if other is not None and other is not agent:
            if other.state not in (AgentState.IDLE, AgentState.PAUSED, AgentState.WRAP_UP):
                raise AgentError(f"extension {extension} has agent {other.id} logged in and on a call")
            out += self._logged_out(other, now, "replaced")
        if agent.state is AgentState.LOGGED_OUT:
            agent.extension = extension
            agent.idle_since = now
            out += self._set(agent, AgentState.IDLE, now, "login")
        elif agent.state in (AgentState.RESERVED, AgentState.BUSY):
            raise AgentError(f"agent {agent_id} is on a call at extension {agent.extension}")
        elif agent.extension != extension:
            agent.extension = extension
            agent.refused_in_row, agent.ring_retry_at = 0, None  # the back-off was the old phone's
            out.append(AgentChanged(agent.id, agent.state, agent.state, now, "moved", agent.pause_reason,
                                    extension))
        return out

    def restore(self, agent_id: str, extension: str, pause_reason: str | None, now: float) -> list[AgentChanged]:
        """Log an agent back in as stored before a restart (no PIN: they had given it), paused again if
        they were. Nothing if the agent is no longer configured or the extension already has an agent."""
        agent = self.by_id.get(agent_id)
        if agent is None or agent.state is not AgentState.LOGGED_OUT or self.at_extension(extension) is not None:
            return []
        agent.extension = extension
        agent.idle_since = now
        out = self._set(agent, AgentState.IDLE, now, "restored")
        if pause_reason is not None:
            out += self._paused(agent, pause_reason, now, "restored")
        return out

    def logout(self, agent_id: str, now: float, why: str = "logout") -> list[AgentChanged]:
        agent = self.get(agent_id)
        if agent.state is AgentState.LOGGED_OUT:
            return []
        if agent.state in (AgentState.RESERVED, AgentState.BUSY):
            agent.pending = ("logout", None)  # applied when the offer resolves / the call ends
            return []
        return self._logged_out(agent, now, why)

    def pause(self, agent_id: str, reason: str, now: float) -> list[AgentChanged]:
        agent = self.get(agent_id)
        if reason not in self._reasons and reason != self.settings.missed_pause_reason:
            raise AgentError(f"unknown pause reason {reason!r} (configured: {', '.join(self._reasons)})")
        match agent.state:
            case AgentState.LOGGED_OUT:
                raise AgentError(f"agent {agent_id} is not logged in")
            case AgentState.RESERVED | AgentState.BUSY:
                agent.pending = ("pause", reason)
                return []
            case AgentState.PAUSED:
                if agent.pause_reason == reason:
                    return []
                old = agent.pause_reason
                agent.pause_reason = reason  # a change of reason: the time so far counts to the old one
                ev = AgentChanged(agent.id, agent.state, agent.state, now, f"reason:{old}", reason,
                                  agent.extension)
                agent.since = now
                return [ev]
            case _:
                agent.wrap_until = None
                agent.call = None
                return self._paused(agent, reason, now)

    def resume(self, agent_id: str, now: float) -> list[AgentChanged]:
        agent = self.get(agent_id)
        if agent.pending is not None and agent.pending[0] == "pause":
            agent.pending = None
            return []
        if agent.state is not AgentState.PAUSED:
            return []
        agent.idle_since = now
        return self._set(agent, AgentState.IDLE, now, "resume")

    # --- offers and calls (the engine) ---------------------------------------------------------------

    def reserve(self, agent_id: str, call: str, now: float, deadline: float) -> list[AgentChanged]:
        agent = self.get(agent_id)
        if not agent.available:
            raise AgentError(f"agent {agent_id} is {agent.state} and cannot be offered a call")
        self._roll(agent, now)
        agent.offer = Offer(call, now, deadline)
        agent.rings_today += 1
        return self._set(agent, AgentState.RESERVED, now, "offer", call=call)

    def resolve_offer(self, agent_id: str, call: str, outcome: OfferOutcome, now: float) -> list[AgentChanged]:
        """The one way out of ``reserved``. Stale resolutions (another call, no offer) are ignored."""
        agent = self.get(agent_id)
        if agent.offer is None or agent.offer.call != call:
            return []
        agent.offer = None
        self._roll(agent, now)
        if outcome is OfferOutcome.ACCEPTED:
            agent.call = call
            agent.answer_at = now
            agent.answered_today += 1
            agent.missed_in_row = 0
            agent.refused_in_row, agent.ring_retry_at = 0, None
            return self._set(agent, AgentState.BUSY, now, "accepted", call=call)
        if outcome is OfferOutcome.REFUSED:
            agent.refused_in_row += 1
            agent.ring_retry_at = now + min(RING_RETRY_S * 2 ** (agent.refused_in_row - 1), RING_RETRY_MAX_S)
        elif outcome is OfferOutcome.TIMED_OUT:  # the phone did ring
            agent.refused_in_row, agent.ring_retry_at = 0, None
        if outcome in (OfferOutcome.REFUSED, OfferOutcome.TIMED_OUT):
            agent.missed_today += 1
            agent.missed_in_row += 1
            limit = self.settings.pause_after_missed
            if limit and agent.missed_in_row >= limit and agent.pending is None:
                agent.missed_in_row = 0
                return self._paused(agent, self.settings.missed_pause_reason, now, str(outcome))
        return self._after_call(agent, now, str(outcome), call)

    def take_call(self, agent_id: str, call: str, now: float) -> list[AgentChanged]:
        """The agent answered a queued call transferred to their extension (by another agent or the
        API): busy with it (reason ``transferred``, counted as answered) from idle, wrap-up or a pause
        (which applies again when the call ends). Nothing while reserved, busy or logged out."""
        agent = self.get(agent_id)
        if agent.state not in (AgentState.IDLE, AgentState.WRAP_UP, AgentState.PAUSED):
            return []
        self._roll(agent, now)
        if agent.state is AgentState.PAUSED and agent.pending is None:
            agent.pending = ("pause", agent.pause_reason)
        agent.wrap_until = None
        agent.call = call
        agent.answer_at = now
        agent.answered_today += 1
        return self._set(agent, AgentState.BUSY, now, "transferred", call=call)

    def end_call(self, agent_id: str, call: str, now: float, wrap_s: float) -> list[AgentChanged]:
        """The agent's call ended: wrap-up for ``wrap_s`` (the agent's own setting wins over the
        queue's; the engine passes the result), or straight to idle."""
        agent = self.get(agent_id)
        if agent.state is not AgentState.BUSY or agent.call != call:
            return []
        self._roll(agent, now)
        if agent.answer_at is not None:
            agent.talk_today += now - agent.answer_at
            agent.answer_at = None
        if agent.pending is None and wrap_s > 0:
            agent.wrap_until = now + wrap_s
            return self._set(agent, AgentState.WRAP_UP, now, "hangup", call=call)
        agent.call = None
        return self._after_call(agent, now, "hangup", call)

    def tick(self, now: float) -> list[AgentChanged]:
        out: list[AgentChanged] = []
        for agent in self.by_id.values():
            if agent.ring_retry_at is not None and now >= agent.ring_retry_at:
                agent.ring_retry_at = None  # back-off over (the refusals in a row still count)
            if agent.state is AgentState.WRAP_UP and agent.wrap_until is not None and now >= agent.wrap_until:
                call = agent.call
                agent.wrap_until = None
                agent.call = None
                agent.idle_since = now
                out += self._set(agent, AgentState.IDLE, now, "wrap_up_done", call=call)
        return out

    def next_wakeup(self) -> float | None:
        times = [a.wrap_until for a in self.by_id.values() if a.state is AgentState.WRAP_UP and a.wrap_until]
        times += [a.ring_retry_at for a in self.by_id.values() if a.ring_retry_at is not None]
        return min(times) if times else None

    # --- internals -------------------------------------------------------------------------------------

    def _roll(self, agent: Agent, now: float) -> None:
        day = self.day_of(now)
        if day != agent.day:
            agent.day = day
            agent.answered_today = agent.rings_today = agent.missed_today = 0
            agent.talk_today = 0.0

    def _after_call(self, agent: Agent, now: float, reason: str, call: str | None) -> list[AgentChanged]:
        pending, agent.pending = agent.pending, None
        if agent.state is AgentState.BUSY:
            agent.idle_since = now
        if pending is not None and pending[0] == "logout":
            return self._logged_out(agent, now, reason)
        if pending is not None and pending[0] == "pause":
            return self._paused(agent, pending[1] or "0", now, reason)
        return self._set(agent, AgentState.IDLE, now, reason, call=call)

    def _paused(self, agent: Agent, reason: str, now: float, why: str = "pause") -> list[AgentChanged]:
        agent.pause_reason = reason
        return self._set(agent, AgentState.PAUSED, now, why)

    def _logged_out(self, agent: Agent, now: float, why: str) -> list[AgentChanged]:
        agent.wrap_until = None
        agent.call = None
        agent.pending = None
        agent.phone_busy = False
        agent.refused_in_row, agent.ring_retry_at = 0, None
        ev = self._set(agent, AgentState.LOGGED_OUT, now, why)
        agent.extension = None
        return ev

    def _set(self, agent: Agent, new: AgentState, now: float, reason: str,
             call: str | None = None) -> list[AgentChanged]:
        old = agent.state
        if new not in TRANSITIONS[old]:
            raise RuntimeError(f"agent {agent.id}: no transition {old} -> {new} ({reason})")
        ev = AgentChanged(agent.id, old, new, now, reason, agent.pause_reason if old is AgentState.PAUSED
                          or new is AgentState.PAUSED else None, agent.extension, call)
        if new is not AgentState.PAUSED:
            agent.pause_reason = None
        agent.state = new
        agent.since = now
        assert (agent.state is AgentState.RESERVED) == (agent.offer is not None), agent
        return [ev]
