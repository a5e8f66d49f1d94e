"""The demo: start the simulated board and the daemon with the default travel-agency config,
switch on the simulated caller traffic, and show the live view until Ctrl-C (or --duration).

Everything it starts lives under var/demo/ in the repository and is stopped on exit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"


def wait_for(path: Path, proc: subprocess.Popen, what: str, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            sys.exit(f"demo: {what} exited with {proc.returncode}")
        if time.monotonic() > end:
            sys.exit(f"demo: {what} did not start (no {path})")
        time.sleep(0.1)


def main() -> int:
    ap = argparse.ArgumentParser(description="callbox demo")
    ap.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    ap.add_argument("--rate", type=float, default=6.0, help="simulated calls per minute")
    args = ap.parse_args()

    run = ROOT / "var" / "demo"
    if run.exists():
        shutil.rmtree(run)
    (run / "sim").mkdir(parents=True)
    procs: list[subprocess.Popen] = []

    def cleanup(*_: object) -> None:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()

    signal.signal(signal.SIGTERM, lambda *a: (cleanup(), sys.exit(0)))
    try:
        sim = subprocess.Popen([str(BIN / "callbox-sim"), "--rundir", str(run / "sim")],
                               stdout=open(run / "sim.log", "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
        procs.append(sim)
        wait_for(run / "sim" / "control.sock", sim, "callbox-sim")
        daemon = subprocess.Popen(
            [str(BIN / "callboxd"), "--config", str(ROOT / "packaging" / "callbox.toml"),
             "--state-dir", str(run / "state"), "--board-socket", str(run / "sim" / "board.sock"),
             "--api-socket", str(run / "api.sock"), "--log", "stderr"],
            stdout=open(run / "callboxd.log", "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
        procs.append(daemon)
        wait_for(run / "api.sock", daemon, "callboxd")
        sys.path.insert(0, str(ROOT))
        from sim.control import SimControl

        SimControl(str(run / "sim" / "control.sock")).call("traffic.start", rate_per_min=args.rate)
        print(f"demo: simulator and daemon running under {run}; logs: sim.log, callboxd.log")
        time.sleep(1.0)
        cmd = [str(BIN / "callbox"), "--socket", str(run / "api.sock"), "watch"]
        if args.duration:
            cmd += ["--duration", str(args.duration)]
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 0
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
