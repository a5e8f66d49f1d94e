"""sd_notify: the datagrams a service manager would receive; logging that never blocks the caller."""

import io
import logging
import socket
import sys
import threading
from pathlib import Path

import pytest

from daemon.systemd import sd_notify, setup_logging, watchdog_interval


def test_sd_notify_sends_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notify"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    assert sd_notify("READY=1", "STATUS=ok")
    assert s.recv(100) == b"READY=1\nSTATUS=ok"
    s.close()


def test_without_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert sd_notify("READY=1") is False
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "10000000")
    assert watchdog_interval() == 5.0


def test_sd_notify_never_blocks_on_a_reader_that_fell_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notify.sock"
    reader = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    reader.bind(str(path))  # bound, never read: its queue fills after a few datagrams
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    results = [sd_notify(f"STATUS=busy {i}") for i in range(200)]  # a blocking send would hang here
    assert results[0] and not all(results)  # the first went through; the overflow was dropped
    reader.close()


def test_logging_never_waits_for_a_blocked_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """A log line from the tick is queued: with stderr blocked (a pipe nobody reads), ``log.info``
    returns at once and the line is written once stderr takes it again; the queue is drained at stop."""
    unblocked, written = threading.Event(), threading.Event()
    lines: list[str] = []

    class BlockedStderr(io.StringIO):
        def write(self, s: str) -> int:
            unblocked.wait(30)
            lines.append(s)
            written.set()
            return len(s)

    monkeypatch.setattr(sys, "stderr", BlockedStderr())
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        assert setup_logging("stderr", "info") == "stderr"
        logging.getLogger("callbox.calls").info("call c1: offered on PSTN-1 (1/1) from 13800138000")
        assert not lines  # back from info() while the writer still waits on stderr
        unblocked.set()
        assert written.wait(10) and "INFO callbox.calls: call c1: offered" in lines[0]
        logging.getLogger("callbox.calls").info("call c1: ended")
        front = root.handlers[0]
        front.listener.stop()  # as at exit: what is queued is written
        assert any("call c1: ended" in s for s in lines)
    finally:
        for h in root.handlers[:]:
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
