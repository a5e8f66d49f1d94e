"""The demo as a newcomer runs it (``scripts/demo.sh``): within its run a caller goes through the IVR
with keys, waits in a queue (music on, an announcement heard) and is answered by an agent the demo
logged in, at any hour of the day; the daemon's log tells each call once per step; and it stops
cleanly — by ``--duration``, SIGTERM or Ctrl-C — with exit 0, no traceback and nothing left
running."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.processes import ROOT, wait_for

pytestmark = pytest.mark.e2e

DEMO = ROOT / "scripts" / "demo.sh"


def _left_running(rundir: Path) -> list[str]:
    """Command lines of processes still running with ``rundir`` in them (the simulator, the daemon)."""
    out = []
    for pid in os.listdir("/proc"):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(rundir) in cmd and "pytest" not in cmd:
            out.append(cmd)
    return out


def _steps(out: str, number: str) -> list[str]:
    """What the demo told about the caller ``number``, in order."""
    return [line.split(" ", 2)[2] for line in out.splitlines()
            if re.match(r"\d\d:\d\d:\d\d ", line) and number in line and len(line.split(" ", 2)) == 3]


def test_the_demo_shows_callers_through_the_ivr_queue_and_agents(tmp_path: Path) -> None:
    rundir = tmp_path / "demo"
    proc = subprocess.run([str(DEMO), "--duration", "60", "--rate", "20", "--seed", "11", "--rundir", str(rundir)],
                          capture_output=True, text=True, timeout=240)
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr + out
    assert "Traceback" not in out + proc.stderr and out.rstrip().endswith("demo: stopped")
    assert not _left_running(rundir)
    for agent in ("1001", "1002", "1005"):
        assert re.search(rf"agent {agent} \S+ logged in at 80\d\d", out)

    # one caller's whole way: rings in, presses keys, waits in a queue with music, an agent answers
    callers = re.findall(r"(\d{11}) rings in on PSTN-\d", out)
    assert callers
    served = []
    for number in callers:
        steps = _steps(out, number)
        kinds = [("keys" if "presses" in s else "queued" if "waits in queue" in s and "music on" in s
                  else "answered" if re.search(r"answered by agent 10\d\d", s) else None) for s in steps]
        if "keys" in kinds and "queued" in kinds and "answered" in kinds:
            assert kinds.index("keys") < kinds.index("queued") < kinds.index("answered")
            served.append(number)
    assert served, out
    assert re.search(r"hears: position \d+, about \d+ min wait", out)  # a queue announcement

    # the daemon's log: one line per step of a call, none twice, no flood
    log = (rundir / "callboxd.log").read_text(encoding="utf-8")
    calls = [ln for ln in log.splitlines() if " callbox.calls: " in ln]
    assert all(" INFO " in ln for ln in calls)
    offered = re.findall(r"call (\S+): offered on PSTN-\d \(1/\d\) from \d{11}", log)
    assert len(offered) >= len(served) >= 1
    call = next(c for c in offered if re.search(rf"call {re.escape(c)}: answered by agent 10\d\d at 80\d\d", log))
    assert re.search(rf"call {re.escape(call)}: queued in \w+ at position \d", log)
    mine = [ln.split(": ", 2)[2] for ln in calls if f"call {call}:" in ln]
    assert len(mine) == len(set(mine)) <= 5  # offered, queued, answered, (abandoned), ended
    assert len(calls) <= 6 * len(offered) and len(log.splitlines()) <= len(calls) + 40


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_the_demo_stops_cleanly_on_sigterm_ctrl_c_and_a_closed_terminal(tmp_path: Path, how: signal.Signals) -> None:
    rundir = tmp_path / "demo"
    proc = subprocess.Popen([str(DEMO), "--rate", "30", "--rundir", str(rundir)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        def a_call() -> bool:
            # the demo ending before any call is a failure to show, with what it printed, not a long wait
            assert proc.poll() is None, "the demo exited early: " + "".join(proc.communicate())
            return (rundir / "callboxd.log").exists() and "offered on" in (rundir / "callboxd.log").read_text()

        wait_for(a_call, 120, "a call in the demo")
        time.sleep(1.0)
        # Ctrl-C and a closed terminal (SIGHUP) reach the terminal's whole process group; SIGTERM (systemd,
        # kill) the demo only
        os.killpg(proc.pid, how) if how in (signal.SIGINT, signal.SIGHUP) else proc.send_signal(how)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err + out
    assert "Traceback" not in out + err and "demo: stopped" in out
    assert not _left_running(rundir)
