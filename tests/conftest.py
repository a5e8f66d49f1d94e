"""Shared fixtures: the simulator and the daemon as separate processes (written once, used by e2e tests),
the whole box in one process on a virtual clock (``box``), a small tmpfs."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import inprocess
from tests.support.inprocess import Box
from tests.support.processes import (
    DEFAULT_CONFIG,
    DaemonProcess,
    SimProcess,
    default_config_text,
    edit_config,
)
from tests.support.users import RoleUsers


@pytest.fixture(autouse=True, scope="session")
def box_files_in_pytest_temp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """In-process boxes keep their files under pytest's base temporary directory, removed with it."""
    inprocess.TMP_ROOT = tmp_path_factory.getbasetemp()


@pytest.fixture
def box() -> Box:
    """The box in one process with the default configuration, its lines restarted (a test module that
    needs more on its box defines its own ``box``)."""
    b = Box()
    b.run(0.2)
    return b


E2E_CONFIG_EXTRA = """
[dialplan]
outbound_prefix = "9"
inter_digit_timeout_s = 2
first_digit_timeout_s = 10
no_answer_timeout_s = 8
busy_tone_s = 10
"""


def e2e_config(tmp: Path, ivr_lines: bool = False) -> Path:
    """The default travel-agency config with shorter dial-plan timeouts (so tests wait less)."""
    text = default_config_text(ivr_lines)
    head, _, rest = text.partition("[dialplan]")
    _, _, tail = rest.partition("\n[[line]]")
    path = tmp / "callbox.toml"
    path.write_text(head + E2E_CONFIG_EXTRA.strip() + "\n\n[[line]]" + tail, encoding="utf-8")
    return path


def ivr_e2e_config(tmp: Path, holidays: str = "[]") -> Path:
    """``e2e_config`` with the IVR answering PSTN-1 and PSTN-2, its flow a copy in ``tmp`` (a test may
    change it): the office open around the clock, except on ``holidays`` (a TOML list of dates)."""
    flow = (DEFAULT_CONFIG.parent / "ivr" / "travel-agency.toml").read_text(encoding="utf-8")
    flow = flow.replace('hours = { mon-fri = ["09:00-18:00"], sat = ["09:00-12:00"] }',
                        'hours = { mon-sun = ["00:00-24:00"] }').replace(
        'holidays = ["2026-10-01..2026-10-07", "2027-01-01"]', f"holidays = {holidays}")
    (tmp / "flow.toml").write_text(flow, encoding="utf-8")
    cfg = e2e_config(tmp, ivr_lines=True)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        f'"{DEFAULT_CONFIG.parent}/ivr/travel-agency.toml"', f'"{tmp / "flow.toml"}"'), encoding="utf-8")
    return cfg


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimProcess]:
    proc = SimProcess(tmp_path / "sim")
    yield proc
    proc.stop()


def running(d: DaemonProcess) -> Iterator[DaemonProcess]:
    """For a fixture: ``yield from running(DaemonProcess(...))`` starts it, and stops it after the test."""
    d.start()
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture
def daemon(tmp_path: Path, sim: SimProcess) -> Iterator[DaemonProcess]:
    yield from running(DaemonProcess(tmp_path, sim, e2e_config(tmp_path)))


@pytest.fixture
def ivr_daemon(tmp_path: Path, sim: SimProcess) -> Iterator[DaemonProcess]:
    """The daemon with ``ivr_e2e_config``."""
    yield from running(DaemonProcess(tmp_path, sim, ivr_e2e_config(tmp_path)))


@pytest.fixture
def acd_daemon(tmp_path: Path, sim: SimProcess) -> Iterator[DaemonProcess]:
    """The daemon with ``e2e_config``, PSTN-3's callers sent to the ``domestic`` queue."""
    path = e2e_config(tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('destination = ["8003", "8004", "8005", "8006", "8001", "8002"]',
                                 'destination = ["queue:domestic"]'), encoding="utf-8")
    yield from running(DaemonProcess(tmp_path, sim, path))


@pytest.fixture
def reachable_daemon(tmp_path: Path, sim: SimProcess) -> Iterator[DaemonProcess]:
    """The daemon with its socket where any local user reaches it (a world-readable directory outside
    ``tmp_path``, the socket mode 0666): for clients run as another user (``nobody``) in role tests."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run a client as another user")
    workdir = Path(tempfile.mkdtemp(prefix="callbox-roles-"))
    os.chmod(workdir, 0o755)
    d = DaemonProcess(workdir, sim, e2e_config(tmp_path))
    try:
        d.start()
        os.chmod(d.api_socket, 0o666)
        yield d
    finally:
        d.stop()
        shutil.rmtree(workdir, ignore_errors=True)


UNIT = DEFAULT_CONFIG.parent / "callboxd.service"


def unit_settings() -> dict[str, str]:
    """The shipped systemd unit's ``Key=value`` settings."""
    return dict(line.split("=", 1) for line in UNIT.read_text(encoding="utf-8").splitlines()
                if "=" in line and not line.startswith(("#", ";")))


@pytest.fixture
def role_users() -> Iterator[RoleUsers]:
    """A throw-away user in each API role group, and one in none (``tests.support.users``)."""
    users = RoleUsers()
    try:
        yield users
    finally:
        users.remove()


@pytest.fixture
def unit_daemon(tmp_path: Path, sim: SimProcess) -> Iterator[Callable[..., DaemonProcess]]:
    """A factory: ``unit_daemon(api={...})`` starts the daemon (``e2e_config`` edited as by
    ``daemon_with``) with its socket in a directory made as the shipped unit makes ``/run/callbox``
    (``RuntimeDirectoryMode``; owned by the daemon's user and group, here root), so other users reach
    the socket exactly as far as the unit lets them."""
    base = Path(tempfile.mkdtemp(prefix="callbox-run-"))
    os.chmod(base, 0o755)  # /run
    started: list[DaemonProcess] = []

    def start(**tables: dict[str, Any]) -> DaemonProcess:
        rundir = base / f"callbox{len(started)}"
        rundir.mkdir()
        os.chmod(rundir, int(unit_settings()["RuntimeDirectoryMode"], 8))
        d = DaemonProcess(rundir, sim, edit_config(e2e_config(tmp_path), **tables))
        started.append(d)
        d.start()
        return d

    yield start
    for d in started:
        d.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def daemon_with(tmp_path: Path, sim: SimProcess) -> Iterator[Callable[..., DaemonProcess]]:
    """A factory: ``daemon_with(recording={...})`` starts the daemon with ``e2e_config`` edited by
    ``edit_config`` (tables of keys to set); stopped after the test."""
    started: list[DaemonProcess] = []

    def start(**tables: dict[str, Any]) -> DaemonProcess:
        d = DaemonProcess(tmp_path, sim, edit_config(e2e_config(tmp_path), **tables))
        started.append(d)
        d.start()
        return d

    yield start
    for d in started:
        d.stop()


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """A factory: ``tmpfs("4m")`` mounts a tmpfs of that size in ``tmp_path`` and returns it (skips the
    test where mounting needs root); unmounted after the test, lazily if something still holds it."""
    mounts: list[Path] = []

    def mount(size: str) -> Path:
        mnt = tmp_path / f"tmpfs-{len(mounts)}"
        mnt.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
        mounts.append(mnt)
        return mnt

    yield mount
    for mnt in reversed(mounts):
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=False)


# the parts of the suite by how long a test of theirs lasts, longest first: the end-to-end tests wait on
# the simulator's real 20 ms clock (seconds to a minute each), the in-process call flows run a virtual
# clock through the whole engine, the rest are quick
LONGEST_FIRST = ("tests/e2e/", "tests/interop/", "tests/unit/daemon/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Benchmarks measure time: like every ``serial`` test they run alone, after the parallel part.
    Long tests are collected first (files kept whole and in order), so that the parallel part's workers,
    handed tests in that order, start them early and fill in with short ones instead of ending on one."""
    for item in items:
        if item.nodeid.startswith("tests/bench/"):
            item.add_marker(pytest.mark.serial)

    def part(item: pytest.Item) -> int:
        return next((i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)),
                    len(LONGEST_FIRST))

    items.sort(key=part)
