"""The PIN guard on a virtual clock: wrong PINs bring a growing delay, then a lockout per subject and
per source; the right PIN is refused while held back; a supervisor's unlock or the lock's end lifts
it; every failure is audited and published, and the PIN itself never is."""

from __future__ import annotations

import pytest

from daemon.calls.pin_guard import PinGuard, PinLimits, Refusal


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def guard() -> tuple[PinGuard, Clock, list, list]:
    clock, events, audited = Clock(), [], []
    g = PinGuard(PinLimits(max_failures=5, lockout_s=900, delay_s=1), clock,
                 lambda kind, **d: events.append((kind, d)), audited.append)
    return g, clock, events, audited


def attempt(g: PinGuard, pin: str, subject: str = "agent:1001", source: str = "api:uid 65534"):
    return g.check(subject, source, lambda: pin == "4826", "api")


def test_wrong_pins_bring_a_growing_delay_then_a_lockout_that_refuses_the_right_pin(guard) -> None:
    g, clock, events, audited = guard
    assert attempt(g, "0000") is False
    assert attempt(g, "0000") is False  # a typo may be retyped at once; from the second failure, a pause
    delays = []
    for _ in range(3):
        early = attempt(g, "4826")  # the right PIN, too soon after the failure: refused unchecked
        assert isinstance(early, Refusal) and not early.locked
        delays.append(early.retry_in_s)
        clock.t += early.retry_in_s
        assert attempt(g, "0000") is False
    assert delays == [1, 2, 4]
    locked = attempt(g, "4826")
    assert isinstance(locked, Refusal) and locked.locked and locked.retry_in_s == 900
    assert "locked" in str(locked) and "4826" not in str(locked)
    clock.t += 899
    assert isinstance(attempt(g, "4826"), Refusal)
    assert [(d["subject"], d["failures"], d["remaining"]) for k, d in events if k == "pin.failed"] == [
        ("agent:1001", n, 5 - n) for n in range(1, 6)]
    assert [d["key"] for k, d in events if k == "pin.locked"] == ["agent:1001", "api:uid 65534"]
    assert len(audited) == 5 and audited[0] == {"who": "api:uid 65534", "role": "-", "op": "pin.failed",
                                                "args": {"subject": "agent:1001", "via": "api"}}
    assert "0000" not in repr(events + audited) and "4826" not in repr(events + audited)
    clock.t += 1  # the lock's time is up
    assert attempt(g, "4826") is True
    assert [(d["key"], d["by"]) for k, d in events if k == "pin.unlocked"] == [
        ("agent:1001", "timeout"), ("api:uid 65534", "timeout")]


def test_a_source_guessing_at_many_agents_is_locked_and_a_supervisor_unlocks_it(guard) -> None:
    g, clock, events, _ = guard
    for n in range(5):  # one wrong PIN at each of five agents: no agent is locked, the source is
        assert attempt(g, "0000", subject=f"agent:100{n}") is False
        clock.t += 100
    refused = attempt(g, "4826", subject="agent:1009")
    assert isinstance(refused, Refusal) and refused.key == "api:uid 65534" and refused.locked
    assert attempt(g, "4826", subject="agent:1009", source="port:2/3") is True  # another source is not
    assert [lock["key"] for lock in g.locks()] == ["api:uid 65534"]
    assert g.unlock("api:uid 65534", "supervisor") and not g.unlock("api:uid 65534", "supervisor")
    assert attempt(g, "4826", subject="agent:1009") is True
    assert events[-1] == ("pin.unlocked", {"key": "api:uid 65534", "by": "supervisor"})


def test_the_right_pin_clears_the_subject_but_not_the_source_and_old_failures_are_forgotten(guard) -> None:
    g, clock, events, _ = guard
    for _ in range(3):
        assert attempt(g, "0000") is False
        clock.t += 10
    assert attempt(g, "4826") is True  # the agent's own count starts again; the source's does not
    for n in range(2):
        assert attempt(g, "0000", subject=f"agent:200{n}") is False
        clock.t += 10
    assert isinstance(attempt(g, "4826", subject="agent:2009"), Refusal)  # 3 + 2 failures from this source
    clock.t += 900
    assert attempt(g, "0000", subject="agent:3000") is False  # a count with no failure for 900 s is gone
    last = events[-1][1]
    assert (last["subject"], last["failures"], last["source_failures"]) == ("agent:3000", 1, 1)
