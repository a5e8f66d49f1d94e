"""An agent's phone that cannot be rung never makes the ACD spin: a login at an extension that is not
configured is refused, a stored login at one is dropped after a restart, an extension removed under a
logged-in agent logs them out, and a ring the phone refuses backs the agent off (the next agent is
tried; alone, the call stays queued and is offered again later, less and less often)."""

from pathlib import Path

import pytest

from daemon.acd.agent_store import AgentStore
from daemon.acd.agents import RING_RETRY_MAX_S, AgentState, NoSuchExtension
from daemon.acd.config import parse_acd_text
from daemon.store.database import Store
from tests.unit.daemon.acd.support import T0, Rig
from tests.unit.daemon.acd.test_engine import SALES, login_both

RING_LIMIT = 200  # a host refusing every ring: far more rings than this is the ACD spinning


def refusing(r: Rig, *extensions: str) -> None:
    """The host reports a ring at ``extensions`` as failed at once (a phone that cannot ring), as
    ``AcdService.ring`` does; more than ``RING_LIMIT`` rings fail the test instead of spinning."""
    plain_ring = r.host.ring

    def ring(extension: str, call: str, caller: str | None, name: str | None) -> None:
        plain_ring(extension, call, caller, name)
        assert len(r.host.of("ring")) < RING_LIMIT, "the ACD keeps ringing a phone that cannot ring"
        if extension in extensions:
            r.engine.ring_failed(call, extension, r.host.t)
    r.host.ring = ring


def test_a_refused_ring_backs_the_agent_off_and_the_call_stays_queued() -> None:
    r = Rig(SALES)
    refusing(r, "8001")
    r.engine.login("1001", "", "8001", r.at(0))
    r.engine.call_arrived("c1", "sales", "13800000001", r.at(10))
    assert r.rings() == [(10, "8001", "c1")]  # refused: not offered again on the spot
    assert r.engine.entries["c1"].ringing == set() and r.engine.invariant_errors() == []
    r.at(200)
    times = [t for t, _, _ in r.rings()]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps[:5] == [2, 4, 8, 16, 32] and set(gaps[5:]) == {RING_RETRY_MAX_S}
    assert r.engine.snapshot(r.host.t)["queues"]["sales"]["waiting"] == 1
    r.engine.login("1001", "", "8003", r.at(201))  # the agent moves to a phone that rings: offered at once
    assert r.rings()[-1] == (201, "8003", "c1")


def test_a_refused_ring_goes_on_to_the_next_agent() -> None:
    r = Rig(SALES)
    refusing(r, "8001")
    login_both(r)
    r.engine.call_arrived("c1", "sales", "13800000001", r.at(10))
    assert r.rings() == [(10, "8001", "c1"), (10, "8002", "c1")]
    r.engine.answered("c1", "8002", r.at(11))
    r.engine.call_arrived("c2", "sales", "13800000002", r.at(11.5))
    assert r.rings()[-1] != (11.5, "8001", "c2")  # 1001 still backing off
    r.at(12)
    assert r.rings()[-1] == (12, "8001", "c2")
    a = r.engine.agents.get("1001")
    assert a.refused_in_row == 2 and a.ring_retry_at == T0 + 16  # 12 + 4: the second refusal in a row


def test_a_login_at_an_extension_that_is_not_configured_is_refused() -> None:
    r = Rig(SALES)
    r.host.missing.add("9999")
    with pytest.raises(NoSuchExtension, match="9999"):
        r.engine.login("1001", "", "9999", r.at(0))
    assert r.engine.agents.get("1001").state is AgentState.LOGGED_OUT and r.kinds("agent.state") == []


def test_a_stored_login_at_an_extension_no_longer_configured_is_dropped(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = Store(tmp_path)
    r = Rig(SALES, agent_store=AgentStore(store.env))
    login_both(r)
    store.close()  # the daemon stops; 8002 is then removed from the config

    store = Store(tmp_path)
    r2 = Rig(SALES, missing=("8002",), agent_store=AgentStore(store.env))
    states = {a.id: (a.state, a.extension) for a in r2.engine.agents}
    assert states == {"1001": (AgentState.IDLE, "8001"), "1002": (AgentState.LOGGED_OUT, None)}
    assert [(d["agent"], d["state"], d["reason"], d["extension"]) for d in r2.kinds("agent.state")] == [
        ("1001", "idle", "restored", "8001"), ("1002", "logged_out", "extension_gone", "8002")]
    assert "agent 1002 was logged in at extension 8002, which is no longer configured" in caplog.text
    assert sorted(AgentStore(store.env).load()) == ["1001"]  # forgotten: not dropped again at each start


def test_an_extension_removed_under_a_logged_in_agent_logs_them_out() -> None:
    r = Rig(SALES)
    login_both(r)
    r.host.missing.add("8002")
    r.engine.reconfigure(parse_acd_text(SALES), r.at(5))
    assert r.engine.agents.get("1002").state is AgentState.LOGGED_OUT
    assert [(d["agent"], d["reason"]) for d in r.kinds("agent.state")][-1] == ("1002", "extension_gone")
    r.engine.call_arrived("c1", "sales", "13800000001", r.at(10))
    assert r.rings() == [(10, "8001", "c1")]
