"""Tick statistics: percentiles and the worst tick from the per-tick histogram."""

from __future__ import annotations

import pytest

from daemon.runtime.tick_stats import TickStats


def test_percentiles_and_the_worst_tick() -> None:
    st = TickStats()
    for _ in range(990):
        st.add(0.0004)  # 0.4 ms: the usual tick
    for _ in range(9):
        st.add(0.003)
    st.add(0.0312)  # one stall longer than a frame
    s = st.summary()
    assert s["ticks"] == 1000 and s["over_20ms"] == 1
    assert s["p50_ms"] == pytest.approx(0.45, abs=0.051)
    assert s["p99_ms"] == pytest.approx(0.45, abs=0.051)
    assert s["p999_ms"] == pytest.approx(3.05, abs=0.051)
    assert s["worst_ms"] == pytest.approx(31.2)


def test_a_tick_beyond_the_histogram_is_counted_and_kept_as_the_worst() -> None:
    st = TickStats()
    st.add(0.5)
    assert st.summary() == {"ticks": 1, "p50_ms": 500.0, "p99_ms": 500.0, "p999_ms": 500.0,
                            "worst_ms": 500.0, "over_20ms": 1}


def test_no_ticks_yet() -> None:
    assert TickStats().summary()["p99_ms"] == 0.0
