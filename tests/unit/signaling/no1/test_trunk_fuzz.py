"""Whatever the far end and call control do to a No.1 timeslot, in any order, the machine never raises
(but ``WrongState`` for a request of call control's that its state does not allow, which leaves it
untouched), only ever sends valid China line signals, tells call control about each call at most once, and is
idle again once the far end is idle and quiet for long enough (hypothesis, virtual time)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hal.events import CasChange, SetCas
from signaling.events import CallOffered, CallReleased, Cause
from signaling.machine import WrongState
from signaling.no1.trunk import No1Trunk, TrunkConfig, TrunkState
from signaling.no1.variant import CHINA

P = "3/1"
VALID_TX = {CHINA.bits(s) for s in CHINA.line_ab}
op = st.one_of(
    st.tuples(st.just("cas"), st.one_of(st.sampled_from([0b1011, 0b0011, 0b1111, 0b0111]), st.integers(0, 15))),
    st.tuples(st.just("mf"), st.integers(0, 15)),
    st.tuples(st.just("wait"), st.sampled_from([0.02, 0.04, 0.2, 1.0, 6.0, 9.0])),
    st.tuples(st.just("dial"), st.sampled_from(["12301", "1", ""])),
    st.tuples(st.just("release"), st.sampled_from(list(Cause))),
    st.tuples(st.sampled_from(["answer", "accept", "block", "unblock", "oos", "ins"]), st.none()),
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(op, max_size=40), st.sampled_from(["in", "out", "both"]), st.sampled_from([0, 5]),
       st.sampled_from(["first", "after", "none"]))
def test_any_sequence_ends_idle(ops: list, direction: str, dnis_length: int, ani: str) -> None:
    m = No1Trunk(P, TrunkConfig(direction=direction, dnis_length=dnis_length, ani=ani))
    now = 0.0
    outs: list = []

    def run_timers() -> None:
        if m.deadline is not None and m.deadline <= now:
            m.handle_timer(now)

    def request(fn, *args) -> None:  # noqa: ANN001
        outs.extend(m.take_outputs())
        state, timers = m.state, m.deadline
        try:
            fn(*args)
        except WrongState as err:
            assert err.port == P and err.state == str(state)
            assert m.take_outputs() == [] and (m.state, m.deadline) == (state, timers)

    for kind, arg in ops:
        if kind == "cas":
            m.handle_board_event(CasChange(P, arg), now)
        elif kind == "mf":
            m.handle_mf(arg, now)
        elif kind == "wait":
            end = now + arg
            while now < end:
                now = round(now + 0.02, 6)
                run_timers()
        elif kind == "dial":
            request(m.dial, arg, now, "138")
        elif kind == "release":
            request(m.release, arg, now)
        elif kind == "answer":
            request(m.answer, now)
        elif kind == "accept":
            request(m.accept, now)
        elif kind == "block":
            request(m.block, now)
        elif kind == "unblock":
            request(m.unblock, now)
        elif kind == "oos":
            m.out_of_service(now)
        elif kind == "ins":
            m.in_service(now)
        outs += m.take_outputs()
    # the far end goes idle and quiet; call control lets go
    m.in_service(now)
    m.unblock(now)
    m.handle_mf(0, now)
    m.handle_board_event(CasChange(P, CHINA.bits("idle")), now)
    request(m.release, Cause.NORMAL_CLEARING, now)
    for _ in range(200 * 50):
        now = round(now + 0.02, 6)
        run_timers()
        if m.deadline is None:
            break
    outs += m.take_outputs()
    assert m.state is TrunkState.IDLE, (m.state, m.line.state)
    assert all(o.bits in VALID_TX for o in outs if isinstance(o, SetCas))
    offered = sum(isinstance(o, CallOffered) for o in outs)
    released = sum(isinstance(o, CallReleased) for o in outs)
    assert released <= offered + sum(1 for k, _ in ops if k == "dial")
