"""The tick loop's thread takes SCHED_FIFO where permitted; worker threads and forked tools run normally;
where it is not permitted the daemon says so and carries on; the memory the tick frees stays in the
process. Run in child processes, so the test runner's own scheduling and heap are never touched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent("""
    import json, os, subprocess, sys
    from concurrent.futures import ThreadPoolExecutor
    from hal.realtime import freeze_heap, take_realtime

    got = take_realtime(int(sys.argv[1]))
    freeze_heap()
    policy = lambda: os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK
    worker = ThreadPoolExecutor(1).submit(policy).result()
    child = subprocess.run([sys.executable, "-c", "import os; print(os.sched_getscheduler(0))"],
                           capture_output=True, text=True, check=True).stdout.strip()
    print(json.dumps({"got": got, "loop": policy(), "worker": worker, "child": int(child)}))
""")


def _probe(priority: int, *prefix: str) -> dict:
    done = subprocess.run([*prefix, sys.executable, "-c", PROBE, str(priority)], capture_output=True, text=True,
                          cwd=os.getcwd(), env={**os.environ, "PYTHONPATH": os.getcwd()}, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(os.geteuid() != 0, reason="SCHED_FIFO needs root here (the suite runs as root in CI)")
def test_the_loop_thread_is_fifo_and_its_workers_and_children_are_not() -> None:
    r = _probe(20)
    assert r["got"] == "fifo 20"
    assert r["loop"] == os.SCHED_FIFO
    assert r["worker"] == os.SCHED_OTHER and r["child"] == os.SCHED_OTHER  # SCHED_RESET_ON_FORK


@pytest.mark.skipif(os.geteuid() != 0, reason="root without CAP_SYS_NICE and RLIMIT_RTPRIO: needs root to set up")
def test_where_fifo_is_not_permitted_the_box_runs_normally_and_says_why() -> None:
    r = _probe(20, "prlimit", "--rtprio=0:0", "setpriv", "--bounding-set=-sys_nice", "--inh-caps=-sys_nice")
    assert r["got"].startswith("normal (") and r["loop"] == os.SCHED_OTHER


def test_priority_zero_asks_for_nothing() -> None:
    r = _probe(0)
    assert r["got"] == "normal (realtime_priority = 0)" and r["loop"] == os.SCHED_OTHER


HEAP_PROBE = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from hal.realtime import keep_heap

    kept = keep_heap() if sys.argv[1] == "keep" else None
    faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        np.ones(40000)
    before = faults()
    for _ in range(200):  # a tick's temporaries: a few hundred KB each, freed in another order
        a = np.ones(40000); b = np.ones(20000); del a; c = np.ones(45000); del b, c
    print(kept, (faults() - before) / 200)
""")


def _faults_per_round(mode: str) -> tuple[str, float]:
    done = subprocess.run([sys.executable, "-c", HEAP_PROBE, mode], capture_output=True, text=True,
                          cwd=os.getcwd(), env={**os.environ, "PYTHONPATH": os.getcwd()}, timeout=60)
    assert done.returncode == 0, done.stderr
    kept, faults = done.stdout.split()
    return kept, float(faults)


def test_the_heap_keeps_what_the_tick_frees() -> None:
    kept, faults = _faults_per_round("keep")
    _, faults_without = _faults_per_round("default")
    print(f"page faults per round of temporaries: {faults:.1f} kept, {faults_without:.1f} with malloc's defaults")
    assert kept == "True"
    assert faults < 2  # pages already mapped are reused
    assert faults_without > 20  # (what it saves: the default gives freed pages back)
