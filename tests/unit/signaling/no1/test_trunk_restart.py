"""A restarted No.1 timeslot sends nothing until it knows the far end's bits, then answers them in protocol
order: a far end still holding a call sees seize-ack (its clear-back) before our idle, never idle first."""

from __future__ import annotations

from hal.events import SetCas
from signaling.events import CallOffered
from signaling.no1.trunk import No1Trunk, TrunkState
from signaling.no1.variant import CHINA
from tests.unit.signaling.no1.link import Link

IDLE, SEIZE, ACK, ANSWER = 0b1011, 0b0011, 0b1111, 0b0111


def restarted(far_bits: int | None) -> tuple[Link, No1Trunk]:
    """A fresh machine restarted at once; the board reports the far end's ``far_bits`` (None: no report)."""
    a = No1Trunk("1/1")
    link = Link(a, None)
    if far_bits is not None:
        link.b.cas_tx = far_bits
    a.restart(link.now)
    return link, a


def sent_bits(link: Link) -> list[int]:
    return [o.bits for o in link.a.outputs if isinstance(o, SetCas)]


def test_a_far_end_still_holding_a_call_gets_seize_ack_then_idle_after_its_clear_forward() -> None:
    link, a = restarted(SEIZE)
    link.run(0.1)
    assert sent_bits(link) == [ACK]  # to a forward side in an answered call: clear-back; it clears forward
    link.b.cas_tx = IDLE
    link.run(0.1)
    assert sent_bits(link) == [ACK, IDLE] and a.is_idle
    assert not [e for e in link.a.events() if isinstance(e, CallOffered)]


def test_a_clear_forward_inside_the_debounce_still_gets_the_idle_it_waits_for() -> None:
    link, a = restarted(SEIZE)
    link.step()  # the seizure reported, not yet settled ...
    link.b.cas_tx = IDLE  # ... and the far end clears forward
    link.run(0.1)
    assert sent_bits(link) == [IDLE] and a.state is TrunkState.IDLE and a.is_idle


def test_nothing_is_sent_before_the_far_end_is_known() -> None:
    link, a = restarted(None)
    link.run(CHINA.timer("T_RESYNC") - 0.1)
    assert sent_bits(link) == [] and a.state is TrunkState.RESTARTING and not a.is_idle
    link.run(0.2)  # no report: the far end is taken as idle
    assert sent_bits(link) == [IDLE] and a.is_idle


def test_an_idle_far_end_gets_idle() -> None:
    link, a = restarted(IDLE)
    link.b.cas_tx = 0b1010  # the board reports the bits even when they are idle (C/D ignored)
    link.run(0.1)
    assert sent_bits(link) == [IDLE] and a.is_idle


def test_a_far_end_that_answered_our_call_is_cleared_forward() -> None:
    link, a = restarted(ANSWER)
    link.run(0.1)
    assert sent_bits(link) == [IDLE] and a.state is TrunkState.RELEASING and not a.is_idle
    link.b.cas_tx = IDLE
    link.run(0.1)
    assert a.is_idle


def test_a_blocking_far_end_stays_blocked_until_it_unblocks() -> None:
    link, a = restarted(ACK)
    link.run(0.1)
    assert sent_bits(link) == [IDLE] and a.state is TrunkState.BLOCKED and not a.is_idle
    link.b.cas_tx = IDLE
    link.run(0.1)
    assert a.is_idle
