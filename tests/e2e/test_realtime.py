"""End to end: the running daemon's tick loop (and the simulated board's clock) has real-time standing (SCHED_FIFO where permitted, as the
suite's root is) while every other thread, including the pools started during calls, runs normally;
``status`` reports the scheduling and the tick-cost percentiles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.processes import DaemonProcess, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e

SCHED_FIFO = 1


def _policies(pid: int) -> dict[int, int]:
    """Each thread's scheduling policy (field 41 of /proc/PID/task/TID/stat)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        out[int(tid)] = int(stat[38])
    return out


@pytest.mark.skipif(os.geteuid() != 0, reason="SCHED_FIFO needs root here (the suite runs as root in CI)")
def test_only_the_tick_loop_is_realtime_and_status_reports_the_tick_costs(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    a, b = w.internal_call("8001", "8002", daemon.api)
    a.on_hook()
    b.on_hook()
    wait_for(lambda: daemon.api.call("cdr.list", limit=5), 10, "the CDR written (the store's worker busy)")
    assert daemon.proc is not None
    policies = _policies(daemon.proc.pid)
    assert policies.pop(daemon.proc.pid) == SCHED_FIFO  # the main thread runs the event loop and the tick
    assert policies and set(policies.values()) == {0}, policies  # workers: SCHED_OTHER
    st = daemon.api.call("status")
    assert st["scheduling"] == "fifo 20"
    assert w.status()["scheduling"] == "fifo 30"  # the simulated board keeps time above the daemon
    assert daemon.sim.proc is not None and _policies(daemon.sim.proc.pid)[daemon.sim.proc.pid] == SCHED_FIFO
    cost = st["tick_cost"]
    assert cost["ticks"] > 50 and 0 < cost["p50_ms"] <= cost["p99_ms"] <= cost["p999_ms"] <= cost["worst_ms"]
