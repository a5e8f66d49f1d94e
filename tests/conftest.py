"""Shared fixtures: the simulator and the daemon as separate processes (written once, used by e2e tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import DaemonProcess, SimProcess, default_config_text

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


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimProcess]:
    proc = SimProcess(tmp_path / "sim")
    yield proc
    proc.stop()


@pytest.fixture
def daemon(tmp_path: Path, sim: SimProcess) -> Iterator[DaemonProcess]:
    d = DaemonProcess(tmp_path, sim, e2e_config(tmp_path))
    d.start()
    yield d
    d.stop()
