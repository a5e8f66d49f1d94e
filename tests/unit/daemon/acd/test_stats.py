"""Statistics: the service-level formula, short abandons, agent time split at interval and day
boundaries, pause time by reason, occupancy, and intervals stored in LMDB."""

from pathlib import Path

import pytest

from daemon.acd.agents import AgentChanged, AgentState
from daemon.acd.stats import IntervalStore, QueueCounts, Stats
from daemon.store.database import Store

S = AgentState
T0 = 1_763_856_000.0  # 08:00 China time, on an interval boundary


def test_service_level_formula() -> None:
    st = Stats(T0, service_level_s=lambda q: 20.0)
    for w in (5, 20, 21, 60):
        st.answered("q", w)
    st.abandoned("q", 3)  # short: out of the formula
    st.abandoned("q", 30)
    st.overflowed("q", 90)
    q = st.current.queue("q")
    # 2 answered within 20 s / (4 answered + 1 abandoned + 1 overflowed)
    assert q.service_level() == pytest.approx(33.33) and q.avg_wait_s() == 26.5 and q.longest_wait_s == 90
    assert (q.abandoned, q.short_abandoned) == (1, 1)
    assert QueueCounts().service_level() is None and QueueCounts().avg_wait_s() is None


def ev(agent: str, old: S, new: S, t: float, reason: str = "", pause: str | None = None) -> AgentChanged:
    return AgentChanged(agent, old, new, T0 + t, reason, pause)


def test_agent_time_split_at_interval_boundary_and_stored(tmp_path: Path) -> None:
    store = IntervalStore(Store(tmp_path).env)
    closed: list[dict] = []
    st = Stats(T0, on_interval=lambda rec: (closed.append(rec), store.put(rec)))
    st.agent_changed(ev("1", S.LOGGED_OUT, S.IDLE, 0, "login"))
    st.agent_changed(ev("1", S.IDLE, S.RESERVED, 100, "offer"))
    st.agent_changed(ev("1", S.RESERVED, S.BUSY, 105, "accepted"))
    st.agent_changed(ev("1", S.BUSY, S.WRAP_UP, 850, "hangup"))
    st.agent_changed(ev("1", S.WRAP_UP, S.PAUSED, 950, "pause", "2"))
    st.agent_changed(ev("1", S.PAUSED, S.PAUSED, 1000, "reason:2", "1"))
    st.agent_changed(ev("1", S.IDLE, S.IDLE, 1000))  # harmless: same state
    assert st.roll(T0 + 899) == []
    st.roll(T0 + 1800)
    a, b = closed[0]["agents"]["1"], closed[1]["agents"]["1"]
    assert (a["idle_s"], a["reserved_s"], a["talk_s"], a["wrap_s"], a["answered"]) == (100, 5, 745, 50, 1)
    assert a["occupancy"] == pytest.approx(795 / 900, abs=1e-4)
    assert b["wrap_s"] == 50 and b["pause_s"] == {"2": 50.0} and b["idle_s"] == 800
    assert [r["start"] for r in store.scan()] == [T0, T0 + 900]
    assert [r["start"] for r in store.scan(since=T0 + 1)] == [T0 + 900]


def test_today_resets_at_local_midnight() -> None:
    st = Stats(T0)  # 08:00 local: local midnight is 16 h later
    st.offered("q")
    st.roll(T0 + 16 * 3600 - 1)
    assert st.today.queue("q").offered == 1
    st.roll(T0 + 16 * 3600)
    assert st.today.queues == {} and st.today.start == T0 + 16 * 3600


def test_live_counts_time_up_to_now_without_changing_state() -> None:
    st = Stats(T0)
    st.agent_changed(ev("1", S.LOGGED_OUT, S.IDLE, 0, "login"))
    st.agent_changed(ev("1", S.IDLE, S.PAUSED, 10, "pause", "1"))
    live = st.live(T0 + 70)
    assert live["interval"]["agents"]["1"]["pause_s"] == {"1": 60.0}
    assert live["today"]["agents"]["1"]["idle_s"] == 10
    assert st.live(T0 + 70) == live  # no side effect


def test_clock_jump_does_not_write_years_of_empty_intervals() -> None:
    closed: list[dict] = []
    st = Stats(0.0, on_interval=closed.append)
    st.agent_changed(AgentChanged("1", S.LOGGED_OUT, S.IDLE, 10.0, "login"))
    st.roll(T0 + 5)  # from 1970 to 2025 in one step
    assert len(closed) == 1 and st.current.start == T0 and st.today.start == T0 - 8 * 3600
    st.roll(T0 + 900)
    assert len(closed) == 2 and closed[1]["agents"]["1"]["idle_s"] == 900
