"""End to end: the daemon as a service — kill -9 recovery, bad config, a config that does not fit the
board (exit 2 naming file:line: key), a failed task or thread (logged, exit 1), a noisy board link, the
board lost and back (``alarm.raised`` then ``alarm.cleared`` BOARD_LOST, ``board.up``), systemd
notifications, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daemon.api.client import ApiClient
from tests.conftest import e2e_config
from tests.support.audio import tone_frequency
from tests.support.faults import faulty
from tests.support.processes import BIN, DaemonProcess, SimProcess, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e


def test_kill_9_during_a_call(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    # one finished call first: its CDR must survive untouched
    a, b = w.internal_call("8001", "8002", daemon.api)
    b.on_hook()
    wait_for(lambda: daemon.api.call("cdr.list"), 5, "first CDR")
    a.on_hook()
    before = daemon.api.call("cdr.list")

    w.co_call("1/2", "13912345678")
    phone = w.phone("8001")
    phone.wait_ringing(12, "8001 ringing")
    phone.off_hook()
    wait_for(lambda: any(c.get("answer") for c in daemon.api.call("calls")), 5, "inbound answered")
    daemon.kill9()
    phone.on_hook()
    daemon.start()
    cdrs = daemon.api.call("cdr.list")
    assert cdrs[: len(before)] == before  # earlier CDRs intact
    interrupted = [c for c in cdrs if c.get("interrupted")]
    assert len(interrupted) == 1
    assert interrupted[0]["caller"] == "13912345678" and interrupted[0]["disposition"] == "INTERRUPTED"
    assert not daemon.api.call("calls")
    # every line back to idle: the CO line was released, the phones are idle and usable again
    wait_for(lambda: w.co_state("1/2")["hook"] == "on", 3, "CO line 1/2 released")
    ports = {p["port"]: p for p in daemon.api.call("ports")}
    assert all("call" not in p for p in ports.values())
    w.co_call("1/1", "13800000001")
    wait_for(lambda: any(w.phone(n).state()["ringing"] for n in ("8001", "8002")), 8, "a new call rings")


def test_invalid_config_exits_nonzero_naming_file_key_line(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[box]\nname = "x"\n\n[[extension]]\nnumber = "8001"\nport = "two"\n', encoding="utf-8")
    r = subprocess.run([str(BIN / "callboxd"), "--config", str(cfg), "--state-dir", str(tmp_path / "s")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert f"{cfg}:6: extension[0].port:" in r.stderr


def _line_of(path: Path, needle: str, after: str = "") -> int:
    """The 1-based line of the first ``needle`` after the first ``after`` in ``path``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, ln in enumerate(lines) if after in ln) if after else 0
    return next(i for i, ln in enumerate(lines[start:], start) if needle in ln) + 1


TRUNK_ON_THE_HDLC_SPAN = '\n[[trunk]]\nname = "CT-E1"\nspan = 4\ntimeslots = "1-15"\n'


@pytest.mark.parametrize(("edit", "key", "needle", "after", "message"), [
    (("port = \"2/8\"", "port = \"2/12\""), "extension[7].port", "port = \"2/12\"", "",
     "port 2/12 is not on the board (span 2 has 8 FXS ports (2/1 to 2/8))"),
    (("port = \"1/4\"", "port = \"2/9\""), "line[3].port", "port = \"2/9\"", "",
     "port 2/9 is not on the board"),
    (("port = \"1/4\"", "port = \"6/1\""), "line[3].port", "port = \"6/1\"", "",
     "port 6/1: the board has no span 6 (its spans: 1, 2, 3, 4)"),
    (("port = \"2/8\"", "port = \"1/5\""), "extension[7].port", "port = \"1/5\"", "",
     "port 1/5 is not on the board"),
    ((None, TRUNK_ON_THE_HDLC_SPAN), "trunk[0].span", "span = 4", "[[trunk]]",
     "trunk 'CT-E1' needs an E1 span with CAS signalling (No.1); span 4 is an E1 with HDLC signalling"),
])
def test_a_config_that_does_not_fit_the_board_exits_2_naming_file_line_key(
        tmp_path: Path, sim: SimProcess, edit: tuple, key: str, needle: str, after: str, message: str) -> None:
    """``callboxd --check`` cannot see the board; the daemon checks the config against the layout the
    board reports when it opens, and stops with exit 2 (no READY=1, nothing left running) naming the key."""
    cfg = e2e_config(tmp_path)
    old, new = edit
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace(old, new) if old else text + new, encoding="utf-8")
    check = subprocess.run([str(BIN / "callboxd"), "--config", str(cfg), "--check"],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    d = DaemonProcess(tmp_path, sim, cfg)
    d.start(wait_ready=False)
    try:
        assert d.exited(20) == 2
        notices = d.read_notices()
        assert "READY=1" not in notices
        assert any(n.startswith("STATUS=stopping after a failure (exit 2): configuration error: ") and key in n
                   for n in notices)  # what `systemctl status callboxd` shows
    finally:
        d.stop()
    assert f"{cfg}:{_line_of(cfg, needle, after)}: {key}: {message}" in d.log_text()


def test_a_board_that_comes_back_smaller_stops_the_daemon_with_exit_2(tmp_path: Path, sim: SimProcess) -> None:
    """The board lost and back with 6 phone ports instead of 8: extension 8007's port is gone."""
    cfg = e2e_config(tmp_path)
    d = DaemonProcess(tmp_path, sim, cfg)
    d.start()
    small = tmp_path / "small-board.toml"
    small.write_text('[[span]]\nid = 1\nkind = "fxo"\nports = 4\n\n[[span]]\nid = 2\nkind = "fxs"\nports = 6\n',
                     encoding="utf-8")
    try:
        sim.stop()
        again = SimProcess(sim.rundir, small)
        try:
            assert d.exited(20) == 2
        finally:
            again.stop()
    finally:
        d.stop()
    line = _line_of(cfg, 'port = "2/7"')
    assert (f"{cfg}:{line}: extension[6].port: port 2/7 is not on the board "
            "(span 2 has 6 FXS ports (2/1 to 2/6))") in d.log_text()


@pytest.mark.parametrize(("fault", "what"), [("tick", "task board loop"),
                                             ("writer", "thread recorder-writer")])
def test_a_failed_long_lived_task_or_thread_is_logged_and_ends_the_daemon_with_exit_1(
        tmp_path: Path, sim: SimProcess, fault: str, what: str) -> None:
    """A bug that ends the board loop or a recorder thread must not leave a daemon that looks alive
    and does nothing: its traceback is logged and the daemon exits 1 (systemd restarts it); the CDRs
    already written are kept and the next start is clean."""
    d = DaemonProcess(tmp_path, sim, e2e_config(tmp_path), program=faulty(fault))
    d.start(wait_ready=False)
    try:
        assert d.exited(20) == 1
        assert any(n.startswith("STATUS=stopping after a failure (exit 1)") for n in d.read_notices())
    finally:
        d.stop()
    log = d.log_text()
    assert f"{what} failed; stopping the daemon (exit 1)" in log
    assert "Traceback (most recent call last)" in log and "RuntimeError: injected fault in the" in log


def test_garbage_on_the_board_link_is_dropped(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    a, b = w.internal_call("8001", "8002", daemon.api)
    a.send_tone(900.0)
    ticks = daemon.api.call("status")["ticks"]
    for _ in range(5):
        w.inject_garbage(2000)
        time.sleep(0.1)
    time.sleep(0.5)
    st = daemon.api.call("status")
    assert st["link"]["dropped_bytes"] > 0 and st["ticks"] > ticks + 20
    assert len(daemon.api.call("calls")) == 1  # the call is still up
    mark = w.tick()
    time.sleep(0.8)
    assert tone_frequency(b.heard(since=mark)) == pytest.approx(900.0, rel=0.02)
    a.on_hook()
    b.on_hook()
    assert "dropped" in daemon.log_text() or "garbage" in daemon.log_text() or "bad" in daemon.log_text()


def test_board_lost_and_back_is_reported_and_calls_work_again(daemon: DaemonProcess, sim: SimProcess) -> None:
    with ApiClient(str(daemon.api_socket)) as events:
        events.call("subscribe", kinds=["board.", "alarm."])
        sim.stop()  # the board goes away (the simulator exits)
        lost = events.next_event("alarm.raised", timeout=5)
        assert (lost["span"], lost["alarm"]) == (0, "BOARD_LOST")
        assert daemon.api.call("status")["board"] is False
        again = SimProcess(sim.rundir)  # and comes back: the daemon reopens it by itself
        try:
            cleared = events.next_event("alarm.cleared", timeout=15)  # the alarm raised is cleared
            assert (cleared["span"], cleared["alarm"]) == (0, "BOARD_LOST")
            up = events.next_event("board.up", timeout=5)
            assert up.keys() == {"type", "kind"}  # board.up carries no fields
            assert daemon.api.call("status")["board"] is True
            w = World(again)
            a, b = w.internal_call("8001", "8002", daemon.api)  # on the new board
            a.send_tone(900.0)
            time.sleep(0.3)
            mark = w.tick()
            time.sleep(1.0)
            assert tone_frequency(b.heard(since=mark)) == pytest.approx(900.0, rel=0.02)
            a.on_hook()
            b.on_hook()
        finally:
            again.stop()


def test_systemd_notifications_and_cli(daemon: DaemonProcess) -> None:
    notices = daemon.read_notices()
    assert "READY=1" in notices
    assert any(n.startswith("STATUS=board up") for n in notices)
    out = subprocess.run([str(BIN / "callbox"), "--socket", str(daemon.api_socket), "status"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and "board: up" in out.stdout
    out = subprocess.run([str(BIN / "callbox"), "--socket", str(daemon.api_socket), "cdr", "list"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and "disposition" in out.stdout


def test_ready_only_once_the_board_is_open(tmp_path: Path) -> None:
    """Started before the simulator, the daemon waits (no READY=1), then becomes ready when it appears."""
    sim_dir = tmp_path / "sim"

    class Late(SimProcess):
        def __init__(self) -> None:  # not started yet: only the paths
            self.rundir = sim_dir
            self.board_socket = sim_dir / "board.sock"

    from tests.conftest import e2e_config

    d = DaemonProcess(tmp_path, Late(), e2e_config(tmp_path))  # type: ignore[arg-type]
    d.start(wait_ready=False, extra_env={"WATCHDOG_USEC": "2000000"})
    time.sleep(1.5)
    assert "READY=1" not in d.read_notices()
    assert d.proc.poll() is None
    sim = SimProcess(sim_dir)
    try:
        wait_for(lambda: "READY=1" in d.read_notices(), 15, "READY=1 after the board appears")
        wait_for(lambda: "WATCHDOG=1" in d.read_notices(), 5, "WATCHDOG=1 pings")
    finally:
        d.stop()
        sim.stop()
    assert sys.platform.startswith("linux")


def test_the_prompt_cache_is_pruned_to_its_size_the_least_recently_spoken_first(tmp_path: Path, daemon_with) -> None:
    """``[box] cache_max_mb``: answers of the past (old files, oldest first) go; the flows' prompts stay."""
    tts = tmp_path / "cache" / "tts"
    old = []
    for i in range(40):  # 4 MB of texts spoken long ago, the first the longest ago
        f = tts / f"{i:02x}" / f"old{i:02d}.alaw"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"\xd5" * 100_000)
        os.utime(f, (1_600_000_000 + i, 1_600_000_000 + i))
        old.append(f)
    d = daemon_with(box={"cache_dir": str(tmp_path / "cache"), "cache_max_mb": 2})
    wait_for(lambda: not old[0].exists(), 15, "the cache pruned")
    wait_for(lambda: "least recently spoken prompts removed" in d.log_text(), 5, "the pruning logged")
    kept = [f.exists() for f in old]
    assert kept == sorted(kept), "the least recently spoken went first"
    assert sum(f.stat().st_size for f in old if f.exists()) <= 2 << 20
    assert f"{kept.count(False)} least recently spoken prompts removed" in d.log_text()
    spoken = [f for f in tts.glob("*/*.alaw") if not f.name.startswith("old")]
    assert spoken, "the flows' prompts, synthesised at start, are kept"


def test_a_cache_it_cannot_write_is_an_error_in_the_log_and_the_box_goes_on(tmp_path: Path, daemon_with) -> None:
    """``[box] cache_dir`` on a path it cannot write: every synthesised prompt fails alike, said once,
    and calls still work."""
    not_a_dir = tmp_path / "cache"
    not_a_dir.write_text("a file, not a directory\n")
    d = daemon_with(box={"cache_dir": str(not_a_dir)})
    wait_for(lambda: "prompts could not be made" in d.log_text(), 15, "the failed prompts logged")
    failures = [ln for ln in d.log_text().splitlines() if "prompts could not be made" in ln]
    assert len(failures) == 1 and "ERROR" in failures[0] and "cache/tts" in failures[0], failures
    w = World(d.sim)
    caller, callee = w.internal_call("8001", "8002", d.api)
    callee.send_tone(1000.0)
    assert tone_frequency(w.listen(caller.heard, 1.0, after=0.4)) == pytest.approx(1000.0, rel=0.02)
