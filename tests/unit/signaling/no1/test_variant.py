"""Variants are data: China = ITU + a table of differences; per-trunk overrides."""

from __future__ import annotations

import pytest

from signaling.events import Cause
from signaling.no1.variant import CHINA, ITU


def test_china_line_bits_have_c_and_d_set() -> None:
    assert [CHINA.bits(s) for s in ("idle", "seize", "seize_ack", "answer", "clear_back", "blocked")] == [
        0b1011, 0b0011, 0b1111, 0b0111, 0b1111, 0b1111]
    assert ITU.bits("idle") == 0b1001


def test_china_differs_from_itu_only_where_the_standard_does() -> None:
    assert ITU.a_signal("send_category") == 5 and CHINA.a_signal("send_category") == 6
    assert CHINA.b_signal("free_charge") == 1 and CHINA.b_signal("busy") == 2
    assert ITU.b_signal("busy") == 3 and ITU.b_signal("free_charge") == 6
    assert CHINA.group_i["end_of_dnis"] is None and ITU.group_i["end_of_dnis"] == 15
    assert CHINA.b_for_cause(Cause.UNALLOCATED_NUMBER) == 5 and CHINA.b_for_cause(Cause.USER_BUSY) == 2
    assert CHINA.timers == ITU.timers and CHINA.line_ab == ITU.line_ab


def test_per_trunk_overrides() -> None:
    v = CHINA.with_overrides(timers={"T_END_OF_DNIS": 3.0}, ka=2, kd=3)
    assert v.timer("T_END_OF_DNIS") == 3.0 and v.timer("T_SEIZE_ACK") == 8.0 and (v.ka, v.kd) == (2, 3)
    assert CHINA.timer("T_END_OF_DNIS") == 5.0
    with pytest.raises(KeyError):
        CHINA.with_overrides(timers={"T_NOPE": 1.0})
