"""Recording policies: pure decisions, and what the Recorder records because of them (measured)."""

from __future__ import annotations

import pytest

from recorder import wav
from recorder.policy import CallInfo, RecordingPolicy, decide, demand_start, demand_stop
from tests.unit.recorder.conftest import Line
from tests.unit.recorder.signals import corr, linear, noise

CALL = CallInfo("c1", caller="13800138000", called="4008001234", trunk="span1", agent="8001",
                queue="sales", direction="inbound")


def test_all_records_everything() -> None:
    assert decide(CALL, RecordingPolicy()).record
    assert decide(CallInfo("c2"), RecordingPolicy("all")).reason == "all"


@pytest.mark.parametrize("policy, reason", [
    (RecordingPolicy("selected", trunks=frozenset({"span1"})), "trunk:span1"),
    (RecordingPolicy("selected", agents=frozenset({"8001"})), "agent:8001"),
    (RecordingPolicy("selected", queues=frozenset({"sales"})), "queue:sales"),
])
def test_selected_by_trunk_agent_queue(policy: RecordingPolicy, reason: str) -> None:
    assert decide(CALL, policy).record and decide(CALL, policy).reason == reason
    other = CallInfo("c2", trunk="span2", agent="8002", queue="support")
    assert not decide(other, policy).record


def test_on_demand_and_off() -> None:
    assert not decide(CALL, RecordingPolicy("on_demand")).record
    assert demand_start(CALL, RecordingPolicy("on_demand")).record
    assert demand_start(CALL, RecordingPolicy("selected")).record
    assert not demand_start(CALL, RecordingPolicy("off")).record
    assert not demand_start(CALL, RecordingPolicy("all", on_demand=False)).record
    assert demand_stop("all", RecordingPolicy()).record
    assert not demand_stop("all", RecordingPolicy(allow_stop=False)).record
    assert demand_stop("demand", RecordingPolicy(allow_stop=False)).record


def test_bad_mode_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="recording.mode"):
        RecordingPolicy("sometimes")  # type: ignore[arg-type]


def test_from_parties_ignores_unknown_and_missing() -> None:
    info = CallInfo.from_parties("x", {"caller": 13800138000, "agent": None, "extra": 1})
    assert info == CallInfo("x", caller="13800138000")


def test_recorder_by_agent(make_recorder) -> None:
    rec = make_recorder(policy=RecordingPolicy("selected", agents=frozenset({"8001"})))
    line = Line()
    sig = noise(1, 20)
    assert rec.start("a", {"agent": "8001"}, 1, 2)
    assert not rec.start("b", {"agent": "8002"}, 3, 4)
    line.run(rec, {1: sig, 2: sig, 3: sig, 4: sig}, 20)
    assert rec.stop("a") and not rec.stop("b")
    rec.flush()
    assert [r["call_id"] for r in rec.query()] == ["a"]
    assert rec.query(call_id="a")[0]["reason"] == "agent:8001"


def test_on_demand_start_and_stop_mid_call(make_recorder) -> None:
    """Only the part between the feature code's start and stop is recorded: measured by position."""
    rec = make_recorder(policy=RecordingPolicy("on_demand"))
    caller, agent = noise(1, 300), noise(2, 300)
    line = Line()
    line.bridges.append((1, 2))
    sends = {1: caller, 2: agent}
    assert not rec.start("c", {"agent": "8001"}, 1, 2)  # bridged: the policy does not record it
    line.run(rec, sends, 100)
    assert rec.start("c", {"agent": "8001"}, 1, 2, on_demand=True)  # *1 at tick 100
    line.run(rec, sends, 100)
    assert rec.stop("c", on_demand=True)  # *2 at tick 200
    line.run(rec, sends, 50)
    assert rec.start("c", {"agent": "8001"}, 1, 2, on_demand=True)  # again at 250
    line.run(rec, sends, 50)
    rec.stop("c")  # the call ends at 300
    rec.flush()
    rows = rec.query(call_id="c")
    assert [(r["id"], r["status"], r["reason"]) for r in rows] == [("c-1", "complete", "demand"),
                                                                    ("c-2", "complete", "demand")]
    first = wav.read(rec.path("c-1"))[1]
    second = wav.read(rec.path("c-2"))[1]
    assert len(first) == 100 * 160 and len(second) == 50 * 160
    sent_c, sent_a = linear(caller), linear(agent)
    assert corr(sent_c[100 * 160:200 * 160], first[:, 0]) > 0.9
    assert corr(sent_a[100 * 160:200 * 160], first[:, 1]) > 0.9
    assert corr(sent_c[250 * 160:], second[:, 0]) > 0.9
    assert abs(corr(sent_c[:100 * 160], first[:, 0])) < 0.1  # not the part before *1


def test_policy_can_forbid_pausing_automatic_recordings(make_recorder) -> None:
    rec = make_recorder(policy=RecordingPolicy("all", allow_stop=False))
    assert rec.start("c", {}, 1, 2)
    assert not rec.stop("c", on_demand=True) and rec.recording("c")
    assert rec.stop("c")  # the call ending always stops it


def test_selected_agents_match_by_extension_number_too() -> None:
    """``agents`` may name an extension: a call whose agent 1003 is logged in at 8003 matches "8003"."""
    policy = RecordingPolicy("selected", agents=frozenset({"8003"}))
    call = CallInfo("c3", agent="1003", extension="8003")
    assert decide(call, policy) == decide(CallInfo("c4", agent="8003"), policy)
    assert decide(call, policy).reason == "agent:8003"
    assert not decide(CallInfo("c5", agent="1003", extension="8004"), policy).record
