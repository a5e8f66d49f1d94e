"""Benchmarks for China No.1 (MFC/R2) on E1.

* ``test_r2mf_receivers``: the per-tick cost of R2 MF detection over 30 and 120 channels, the
  project's own detector (what the engine runs) and spandsp's.
* ``test_thirty_simultaneous_setups``: the engine's CPU for 30 simultaneous No.1 call set-ups on one
  span (the box against its own No.1 stack, in one process on a virtual clock; only the box's ticks
  are timed).
* ``test_setup_time_box_vs_openr2``: call set-up time (seize to accept: the caller has the Group B
  "free" answer and waits only for the answer) of the same call from an OpenR2 caller to the box and
  to an OpenR2 callee, in the same run, real time (interop: needs libopenr2-dev).

Run: ``.venv/bin/pytest tests/bench --benchmark-enable -s``
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import pytest

from hal.dsp.g711 import alaw_to_linear, linear_to_alaw
from hal.dsp.r2mf import R2MfBank, R2MfSender
from hal.ports import E1_BEARER_TIMESLOTS
from signaling.events import CallAnswered
from sim.config import load_config as load_sim_config
from sim.world import SimWorld
from tests.interop.openr2.bridge import Harness, OpenR2Pair
from tests.interop.test_openr2 import Rig
from tests.support.inprocess import Box
from tests.support.no1peer import No1Peer, attach_inprocess
from tests.unit.daemon.runtime.test_no1_thirty_calls import EXTS, SPAN, _box_config, _sim_config

CALLS = 3  # every figure is whole ticks: three calls give the same medians as more


@pytest.mark.parametrize("engine", ["own", "spandsp"])
@pytest.mark.parametrize("channels", [30, 120])
def test_r2mf_receivers(benchmark, channels: int, engine: str) -> None:
    bank = R2MfBank(engine)
    for ch in range(channels):
        bank.listen(ch, True)
    tx = R2MfSender(True)
    tx.set(5)
    lin = alaw_to_linear(linear_to_alaw(np.tile(tx.generate(160), (channels, 1))))
    benchmark(lambda: bank.process(lin))
    assert bank._current[0] == 5


def test_thirty_simultaneous_setups(benchmark, tmp_path: Path) -> None:
    results: list[tuple[float, float, float]] = []

    def setups() -> None:
        world = SimWorld(load_sim_config(_sim_config(tmp_path)))
        for n in EXTS:
            world.phone(n).auto_answer_rings = 1
        box = Box(_box_config(tmp_path), world)
        spent = [0.0]
        on_tick = box.engine.on_tick

        def timed(tick) -> None:
            t0 = time.process_time()
            on_tick(tick)
            spent[0] += time.process_time() - t0

        box.engine.on_tick = timed
        peer = No1Peer(SPAN)
        attach_inprocess(box, peer, SPAN)
        box.run(0.2)
        spent[0] = 0.0
        start = box.world.tick
        for i, ts in enumerate(E1_BEARER_TIMESLOTS):
            peer.dial(ts, f"{12300 + i:05d}", caller=f"1380013{i:04d}")
        box.run_until(lambda: all(peer.events_of(ts, CallAnswered) for ts in E1_BEARER_TIMESLOTS), 20, "30 answered")
        results.append((spent[0], (box.world.tick - start) * 0.02, box.engine.tick_cost_max))

    benchmark.pedantic(setups, rounds=3, iterations=1)
    cpu, line_s, tick_max = min(results)
    benchmark.extra_info.update(engine_cpu_ms=round(cpu * 1000, 1), line_time_s=line_s,
                                tick_max_ms=round(tick_max * 1000, 2))
    print(f"\n30 simultaneous No.1 set-ups: box engine CPU {cpu * 1000:.0f} ms over {line_s:.2f} s of line time "
          f"({cpu / line_s * 100:.1f} % of a core); slowest tick {tick_max * 1000:.2f} ms")


@pytest.mark.interop
def test_setup_time_box_vs_openr2(tmp_path: Path) -> None:
    def seize_to_accept(h: Harness, ch: int) -> float:
        h.command(f"call {ch} - 12301")
        h.wait_event(ch, "accepted", 15)
        t = h.when(ch, "accepted") - h.when(ch, "dialing")
        h.command(f"hangup {ch}")
        h.wait_event(ch, "end", 10)
        h.events.clear()
        time.sleep(0.3)
        return t

    openr2: list[float] = []
    caller, callee = Harness(1), Harness(1, max_dnis=5, ani_first=False, skip_category=True, answer_ms=-1)
    pair = OpenR2Pair(caller, callee)
    try:
        time.sleep(0.2)
        openr2 = [seize_to_accept(caller, 1) for _ in range(CALLS)]
    finally:
        pair.close()
        caller.close()
        callee.close()

    def box_calls(debounce_s: float, tx_buffer_frames: int) -> list[float]:
        tmp = tmp_path / f"box-{debounce_s}-{tx_buffer_frames}"
        tmp.mkdir()
        sim_config = tmp / "sim.toml"
        sim_config.write_text(f"[board]\ntx_buffer_frames = {tx_buffer_frames}\n", encoding="utf-8")
        rig = Rig(tmp, Harness(2, max_dnis=5), sim_config, dnis_length=5, ani="none",
                  timers={"T_CAS_DEBOUNCE": debounce_s})
        try:
            return [seize_to_accept(rig.harness, 1) for _ in range(CALLS)]
        finally:
            rig.close()

    # OpenR2's pair talks peer to peer through the simulator: no CAS persistence check of its own and no
    # board buffer between them. The box on the same terms, then with its 20 ms CAS debounce, then as
    # shipped (the board's two frames of transmit buffer: latency that absorbs a late host tick, paid
    # on every compelled step the box's side sends)
    same = box_calls(0.0, 1)
    debounced = box_calls(0.02, 1)
    shipped = box_calls(0.02, 2)
    o, b, d, s = (statistics.median(x) for x in (openr2, same, debounced, shipped))
    print(f"\nseize -> accept, DNIS 12301, median of {CALLS} (min-max): OpenR2 -> OpenR2 {o * 1000:.0f} ms "
          f"({min(openr2) * 1000:.0f}-{max(openr2) * 1000:.0f}); OpenR2 -> box, no CAS debounce {b * 1000:.0f} ms "
          f"({min(same) * 1000:.0f}-{max(same) * 1000:.0f}); with the 20 ms CAS debounce {d * 1000:.0f} ms "
          f"({min(debounced) * 1000:.0f}-{max(debounced) * 1000:.0f}); as shipped, with the board's 2-frame "
          f"transmit buffer {s * 1000:.0f} ms ({min(shipped) * 1000:.0f}-{max(shipped) * 1000:.0f})")
    # two 20 ms ticks of tolerance: both sides move in whole ticks, and the box's R2 MF receiver waits one
    # block more before it calls a tone ended (a lost frame inside a tone must not end it)
    assert b <= o + 0.04, "with the same CAS settings the box must not set calls up more slowly than OpenR2"
    assert d <= b + 0.025, "the 20 ms CAS debounce costs one tick at the seizure, no more"
