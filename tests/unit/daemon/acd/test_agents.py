"""Agent state machine: login (hot-desking), pause/resume, offers that always resolve, wrap-up."""

import pytest

from daemon.acd.agents import AgentError, Agents, AgentState, OfferOutcome
from daemon.acd.config import AcdSettings, AgentConfig

S = AgentState


def board(**settings) -> Agents:
    cfgs = [AgentConfig("1023", "王芳", pin="4711"), AgentConfig("1024", "李明")]
    return Agents(cfgs, AcdSettings(pause_reasons=(("1", "lunch"), ("2", "training")), **settings))


def test_login_checks_pin_and_hot_desks() -> None:
    ag = board()
    with pytest.raises(AgentError, match="PIN"):
        ag.login("1023", "0000", "8001", 0)
    ev = ag.login("1023", "4711", "8001", 1)
    assert [(e.old, e.new, e.extension) for e in ev] == [(S.LOGGED_OUT, S.IDLE, "8001")]
    ag.login("1023", "4711", "8002", 2)  # moves desks
    assert ag.get("1023").extension == "8002" and ag.at_extension("8001") is None
    ev = ag.login("1024", "", "8002", 3)  # takes over the desk: the idle agent there is logged out
    assert [(e.agent, e.new) for e in ev] == [("1023", S.LOGGED_OUT), ("1024", S.IDLE)]
    assert ag.at_extension("8002").id == "1024"


def test_full_cycle_with_wrap_up() -> None:
    ag = board()
    ag.login("1024", "", "8002", 0)
    ag.reserve("1024", "c1", 10, 25)
    assert ag.get("1024").state is S.RESERVED and ag.get("1024").offer.call == "c1"
    ag.resolve_offer("1024", "c1", OfferOutcome.ACCEPTED, 12)
    assert ag.get("1024").state is S.BUSY
    ag.end_call("1024", "c1", 72, wrap_s=10)
    a = ag.get("1024")
    assert a.state is S.WRAP_UP and ag.next_wakeup() == 82
    assert ag.tick(81) == []
    assert [e.new for e in ag.tick(82)] == [S.IDLE]
    assert (a.answered_today, a.talk_today, a.idle_since) == (1, 60.0, 82)


@pytest.mark.parametrize("outcome, missed", [(OfferOutcome.REFUSED, 1), (OfferOutcome.TIMED_OUT, 1),
                                             (OfferOutcome.CANCELLED, 0)])
def test_failed_offer_returns_to_idle(outcome: OfferOutcome, missed: int) -> None:
    ag = board()
    ag.login("1024", "", "8002", 0)
    ag.reserve("1024", "c1", 10, 25)
    ev = ag.resolve_offer("1024", "c1", outcome, 25)
    a = ag.get("1024")
    assert [e.new for e in ev] == [S.IDLE] and a.offer is None and a.available
    assert a.missed_today == missed and a.rings_today == 1
    assert a.idle_since == 0  # a missed ring does not make the agent "longest idle" again
    assert ag.resolve_offer("1024", "c1", OfferOutcome.ACCEPTED, 26) == []  # stale: ignored


def test_missed_rings_pause_only_when_configured() -> None:
    ag = board(pause_after_missed=2)
    ag.login("1024", "", "8002", 0)
    for i, expect in enumerate([S.IDLE, S.PAUSED]):
        ag.reserve("1024", f"c{i}", i, i + 15)
        ag.resolve_offer("1024", f"c{i}", OfferOutcome.TIMED_OUT, i + 15)
        assert ag.get("1024").state is expect
    assert ag.get("1024").pause_reason == "missed"


def test_pause_while_busy_is_pending_and_skips_wrap_up() -> None:
    ag = board()
    ag.login("1024", "", "8002", 0)
    ag.reserve("1024", "c1", 1, 16)
    ag.resolve_offer("1024", "c1", OfferOutcome.ACCEPTED, 2)
    assert ag.pause("1024", "1", 3) == [] and ag.get("1024").state is S.BUSY and not ag.get("1024").available
    ev = ag.end_call("1024", "c1", 10, wrap_s=30)
    assert [(e.new, e.pause_reason) for e in ev] == [(S.PAUSED, "1")]
    with pytest.raises(AgentError, match="unknown pause reason"):
        ag.pause("1024", "9", 11)
    ev = ag.pause("1024", "2", 12)  # change of reason
    assert ev[0].pause_reason == "2" and ag.get("1024").since == 12
    assert [e.new for e in ag.resume("1024", 20)] == [S.IDLE]


def test_logout_while_reserved_waits_for_offer() -> None:
    ag = board()
    ag.login("1024", "", "8002", 0)
    ag.reserve("1024", "c1", 1, 16)
    assert ag.logout("1024", 2) == []
    ev = ag.resolve_offer("1024", "c1", OfferOutcome.CANCELLED, 2)
    assert [e.new for e in ev] == [S.LOGGED_OUT] and ag.get("1024").extension is None


def test_cannot_reserve_unavailable_agent() -> None:
    ag = board()
    with pytest.raises(AgentError):
        ag.reserve("1024", "c1", 0, 15)
    ag.login("1024", "", "8002", 0)
    ag.pause("1024", "1", 1)
    with pytest.raises(AgentError):
        ag.reserve("1024", "c1", 2, 15)


def test_today_counters_reset_at_midnight() -> None:
    ag = board()
    ag.login("1024", "", "8002", 0)
    ag.reserve("1024", "c1", 100, 115)
    ag.resolve_offer("1024", "c1", OfferOutcome.TIMED_OUT, 115)
    assert ag.get("1024").missed_today == 1
    ag.reserve("1024", "c2", 86400 + 5, 86400 + 20)
    assert ag.get("1024").missed_today == 0 and ag.get("1024").rings_today == 1
