"""The demo: the simulated board and the daemon running the travel agency, with callers going through
the IVR, waiting in the ACD's queues and being answered by agents, shown live until Ctrl-C (or
SIGTERM, or ``--duration``).

It runs the shipped configuration (packaging/callbox.toml) as a copy under var/demo/ with what a demo
needs: the office open around the clock (its flow's schedule, also in a copy), every CO line answered
by the IVR, queue announcements after 10 s, the PINs the shipped file leaves to the installer set
as the installer's step sets them (``daemon.config.pin_setup``), and three agents logged in at their
configured extensions with the PINs the copy then holds.
The simulated callers press menu keys (1 then 1 or 2, 2 or 3), wait, and give up after a minute or
two; the agents' phones answer and hang up after a short talk. The shipped files are not changed.

Everything it starts lives under var/demo/ in the repository (``--rundir``; logs: sim.log,
callboxd.log) and is stopped on exit; it exits 0 after a clean stop, without a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
sys.path.insert(0, str(ROOT))

from daemon.api.client import ApiClient  # noqa: E402
from daemon.config.editing import edit_text, validate  # noqa: E402
from daemon.config.model import ConfigError  # noqa: E402
from daemon.config.pin_setup import fill  # noqa: E402
from daemon.flows.flow_edit import edit_flow_text  # noqa: E402
from mgmt_tui.app import wants_ascii  # noqa: E402
from mgmt_tui.live import SUBSCRIBE, Activity, screen  # noqa: E402
from mgmt_tui.views import box_zone  # noqa: E402
from sim.control import SimControl  # noqa: E402

FLOW = "travel-agency"
AGENTS = ("1001", "1002", "1005")  # domestic+booking, outbound+booking, complaints: callers will queue
ANNOUNCE_FIRST_S, ANNOUNCE_EVERY_S = 10, 20
LEGEND = "IVR keys: 1 routes (then 1 domestic, 2 outbound), 2 booking, 3 complaints"
TRAFFIC = {  # sim/traffic.py: callers' keys ("," = listen to the next menu first), times in seconds
    "ivr_digits": ["1,1", "1,2", "2", "2", "3"], "ivr_delay_s": 3.0, "patience_s": [20, 40],
    "talk_s": [80, 150], "phone_talk_s": [15, 35], "answer_rings": [1, 2]}


class Stop(Exception):
    """Ctrl-C, SIGTERM or a closed terminal (SIGHUP): stop the demo cleanly."""


def _stop(*_: object) -> None:
    raise Stop


def demo_config(run: Path) -> Path:
    """The demo's configuration and flow: copies of the shipped ones under ``run``, edited with the
    daemon's own editors (comments kept). Returns the configuration's path."""
    config_text, _ = fill((ROOT / "packaging" / "callbox.toml").read_text(encoding="utf-8"))  # the installer's step
    data = tomllib.loads(config_text)
    flow_src = ROOT / "packaging" / data["ivr"]["flows"][FLOW]
    flow = run / "ivr" / flow_src.name
    flow.parent.mkdir(parents=True, exist_ok=True)
    schedule = tomllib.loads(flow_src.read_text(encoding="utf-8"))["nodes"]["hours"]["schedule"]
    flow.write_text(edit_flow_text(flow_src.read_text(encoding="utf-8"), [
        {"key": f"schedules.{schedule}.hours", "value": {"mon-sun": ["00:00-24:00"]}},  # open at any hour
        {"key": f"schedules.{schedule}.holidays", "value": []},
        {"key": f"schedules.{schedule}.workdays", "value": []}]), encoding="utf-8")
    changes: list[dict[str, Any]] = [
        {"key": "box.state_dir", "value": str(run / "state")},
        {"key": "box.cache_dir", "value": str(run / "cache")},
        {"key": "ivr.flows", "value": {FLOW: str(flow)}}]
    changes += [{"key": f"line[{ln['port']}].ivr", "value": FLOW} for ln in data.get("line", [])]
    for q in data.get("queue", []):
        changes += [{"key": f"queue[{q['name']}].announce_first_s", "value": ANNOUNCE_FIRST_S},
                    {"key": f"queue[{q['name']}].announce_every_s", "value": ANNOUNCE_EVERY_S}]
    path = run / "callbox.toml"
    text = edit_text(config_text, changes)
    try:
        validate(text, path)
    except ConfigError as exc:
        raise SystemExit(f"demo: the demo's configuration is refused: {exc}") from None
    path.write_text(text, encoding="utf-8")
    return path


def wait_for(what: str, ready: Callable[[], bool], proc: subprocess.Popen, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            raise SystemExit(f"demo: {what} exited with {proc.returncode} (see the logs)")
        if time.monotonic() > end:
            raise SystemExit(f"demo: {what} did not start in {timeout:.0f} s (see the logs)")
        time.sleep(0.1)


def _answers(socket: Path) -> bool:
    """Whether the daemon's API socket takes a connection and answers ``status``."""
    try:
        with ApiClient(str(socket), timeout=5.0) as api:
            api.call("status")
        return True
    except OSError:
        return False


def log_agents_in(api: ApiClient, config: Path) -> dict[str, str]:
    """Log the demo's agents in at their configured extensions with the configuration's PINs; their
    names by ID."""
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    names = {}
    for a in data.get("agent", []):
        names[a["id"]] = a.get("name", "")
        if a["id"] in AGENTS:
            api.call("agent.login", agent=a["id"], pin=str(a.get("pin", "")), extension=a["extension"])
    return names


def show(lines: list[str], tty: bool) -> None:
    if tty:
        sys.stdout.write("\x1b[H\x1b[2J" + "\n".join(lines))
    else:
        sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def watch(api: ApiClient, activity: Activity, title: str, duration: float | None, tty: bool, ascii_mode: bool,
          rows: int) -> None:
    """The live view until ``duration`` is over (or Stop): on a terminal the whole screen redrawn every
    second; in a pipe (a log, a test) each new line of what happens as it happens."""
    end = None if duration is None else time.monotonic() + duration
    next_draw = 0.0
    while end is None or time.monotonic() < end:
        wait = 0.5 if end is None else max(0.0, min(0.5, end - time.monotonic()))
        for ev in api.wait_events(wait):
            line = activity.feed(ev)
            if line is not None and not tty:
                show([line], tty)
        if tty and time.monotonic() >= next_draw:
            next_draw = time.monotonic() + 1.0
            cdrs = api.call("cdr.list", limit=3, newest_first=True)
            snap = api.call("acd.snapshot")
            show(screen(title, api.call("status"), snap, activity, cdrs, time.time(), LEGEND, ascii_mode, rows), tty)


def stop_all(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
    for p in reversed(procs):
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def main() -> int:
    ap = argparse.ArgumentParser(description="callbox demo: a travel agency's call center, simulated")
    ap.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    ap.add_argument("--rate", type=float, default=8.0, help="simulated calls per minute (default 8)")
    ap.add_argument("--seed", type=int, default=None, help="make the callers' choices repeatable")
    ap.add_argument("--rundir", type=Path, default=ROOT / "var" / "demo",
                    help="where the demo's files, sockets and logs go (emptied first; default var/demo)")
    args = ap.parse_args()

    for sig in STOP_SIGNALS:  # Ctrl-C, kill or systemd, and the terminal (or SSH session) going away
        signal.signal(sig, _stop)
    run = args.rundir.resolve()
    if run.exists():
        shutil.rmtree(run)
    (run / "sim").mkdir(parents=True)
    procs: list[subprocess.Popen] = []
    activity: Activity | None = None
    tty = sys.stdout.isatty()
    rows = shutil.get_terminal_size((80, 24)).lines if tty else 24
    try:
        config = demo_config(run)
        with open(run / "sim.log", "w") as sim_log, open(run / "callboxd.log", "w") as daemon_log:
            # the children ignore Ctrl-C from the terminal: the demo stops them in order
            quiet = {"stdin": subprocess.DEVNULL, "stderr": subprocess.STDOUT, "start_new_session": True}
            procs.append(sim := subprocess.Popen([str(BIN / "callbox-sim"), "--rundir", str(run / "sim")],
                                                 stdout=sim_log, **quiet))
            # both sockets: the board's comes after the control socket, and a daemon started before it
            # finds no board
            wait_for("callbox-sim", lambda: all((run / "sim" / f"{s}.sock").exists() for s in ("control", "board")),
                     sim)
            procs.append(daemon := subprocess.Popen(
                [str(BIN / "callboxd"), "--config", str(config), "--state-dir", str(run / "state"),
                 "--board-socket", str(run / "sim" / "board.sock"), "--api-socket", str(run / "api.sock"),
                 "--log", "stderr"], stdout=daemon_log, **quiet))
            # the socket's file appears before the daemon listens on it: wait for an answer, not the file
            wait_for("callboxd", lambda: _answers(run / "api.sock"), daemon)
        api = ApiClient(str(run / "api.sock"), timeout=30.0)
        wait_for("the board", lambda: bool(api.call("status").get("board")), daemon)
        api.call("subscribe", kinds=SUBSCRIBE)
        activity = Activity(agents=log_agents_in(api, config), zone=box_zone(api.call("status")))
        SimControl(str(run / "sim" / "control.sock")).call(
            "traffic.start", rate_per_min=args.rate, **TRAFFIC, **({} if args.seed is None else {"seed": args.seed}))
        title = str(api.call("status").get("name") or "callbox")
        print(f"demo: simulator and daemon running under {run}\ndemo: their logs there: sim.log, callboxd.log")
        print(f"demo: agents {', '.join(AGENTS)} logged in; callers ring at about {args.rate:g} a minute")
        print(f"demo: {LEGEND}")
        watch(api, activity, title, args.duration, tty, wants_ascii(), rows)
    except (Stop, KeyboardInterrupt):
        pass
    except (OSError, ConnectionError) as exc:  # the daemon went away: say so, no traceback
        print(f"\ndemo: lost the daemon ({exc}); see {run / 'callboxd.log'}", file=sys.stderr)
        return 1
    finally:
        for sig in STOP_SIGNALS:  # a second Ctrl-C must not break the clean-up
            signal.signal(sig, signal.SIG_IGN)
        with contextlib.suppress(Exception):
            SimControl(str(run / "sim" / "control.sock")).call("traffic.stop")
        stop_all(procs)
    if activity is not None:
        c = activity.counts
        print(f"\ndemo: {c['offered']} calls, {c['keys']} IVR keys, {c['queued']} queued, {c['answered']} answered "
              f"by agents, {c['abandoned']} gave up\ndemo: the daemon's log: {run / 'callboxd.log'}")
    print("demo: stopped")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
