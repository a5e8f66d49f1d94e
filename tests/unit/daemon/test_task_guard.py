"""TaskGuard: a long-lived task or thread that fails is logged with its traceback and stops the daemon
with the exit status systemd acts on (2 for a configuration error, 1 otherwise)."""

import asyncio
import configparser
import logging
import threading
from pathlib import Path

import pytest

from daemon.config.checks import ConfigError
from daemon.task_guard import EXIT_CONFIG, EXIT_FAILURE, TaskGuard


async def _forever() -> None:
    await asyncio.Event().wait()


def test_a_failed_task_stops_with_exit_1_and_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> TaskGuard:
        guard = TaskGuard()
        other = guard.spawn(_forever(), "idle")

        async def fail() -> None:
            await asyncio.sleep(0)
            raise KeyError("boom")

        guard.spawn(fail(), "board loop")
        await asyncio.wait_for(guard.stopped.wait(), 5)
        await guard.cancel_all()
        assert other.cancelled()
        return guard

    with caplog.at_level(logging.INFO):
        guard = asyncio.run(go())
    assert guard.exit_code == EXIT_FAILURE
    rec = next(r for r in caplog.records if "task board loop failed" in r.getMessage())
    assert rec.levelno == logging.CRITICAL and rec.exc_info and rec.exc_info[0] is KeyError


def test_a_config_error_stops_with_exit_2_and_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> TaskGuard:
        guard = TaskGuard()

        async def fail() -> None:
            raise ConfigError("/etc/callbox/callbox.toml", "extension[7].port", 40, "port 2/12 is not on the board")

        guard.spawn(fail(), "board loop")
        await asyncio.wait_for(guard.stopped.wait(), 5)
        return guard

    guard = asyncio.run(go())
    assert guard.exit_code == EXIT_CONFIG
    rec = next(r for r in caplog.records if "configuration error" in r.getMessage())
    assert "/etc/callbox/callbox.toml:40: extension[7].port: port 2/12" in rec.getMessage() and not rec.exc_info


def test_a_thread_that_dies_stops_with_exit_1(caplog: pytest.LogCaptureFixture) -> None:
    before = threading.excepthook

    async def go() -> TaskGuard:
        guard = TaskGuard()
        guard.watch_threads()

        def run() -> None:
            raise OSError("disk gone")

        t = threading.Thread(target=run, name="recorder-writer")
        t.start()
        await asyncio.wait_for(guard.stopped.wait(), 5)
        t.join()
        guard.unwatch_threads()
        return guard

    guard = asyncio.run(go())
    assert guard.exit_code == EXIT_FAILURE and threading.excepthook is before
    assert any("thread recorder-writer failed" in r.getMessage() and r.exc_info for r in caplog.records)


def test_stop_and_cancelled_tasks_are_not_failures() -> None:
    async def go() -> TaskGuard:
        guard = TaskGuard()
        guard.spawn(_forever(), "watchdog")
        guard.spawn(asyncio.sleep(0), "returns")
        await asyncio.sleep(0.01)
        guard.stop()
        await guard.stopped.wait()
        await guard.cancel_all()
        return guard

    assert asyncio.run(go()).exit_code == 0


def test_the_unit_restarts_a_failed_daemon_but_not_a_config_error() -> None:
    """systemd acts on the exit statuses: exit 1 (a failure) restarts the daemon, exit 2 (a config error,
    which a restart cannot fix) leaves the unit failed instead of looping."""
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(Path(__file__).resolve().parents[3] / "packaging" / "callboxd.service", encoding="utf-8")
    service = unit["Service"]
    assert service["Restart"] == "on-failure"
    assert str(EXIT_CONFIG) in service["RestartPreventExitStatus"].split()
    assert str(EXIT_FAILURE) not in service["RestartPreventExitStatus"].split()
