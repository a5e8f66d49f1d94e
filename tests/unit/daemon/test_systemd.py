"""sd_notify: the datagrams a service manager would receive."""

import socket
from pathlib import Path

import pytest

from daemon.systemd import sd_notify, watchdog_interval


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
