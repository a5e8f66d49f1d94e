"""The board driver is chosen by ``[board] driver``: a registered name builds that driver from the
``[board]`` settings; an unknown one is a located configuration error."""

from __future__ import annotations

from pathlib import Path

import pytest

import drivers
from daemon.config.model import ConfigError, load_config
from drivers.sim.board import SimBoardDriver


class FakeBoard:
    """A driver registered by the test: records the settings it was built with."""

    def __init__(self, socket: str) -> None:
        self.name, self.spans, self.socket = "fake", [], socket


def _config(tmp_path: Path, driver: str) -> Path:
    p = tmp_path / "callbox.toml"
    p.write_text(f'[box]\nstate_dir = "{tmp_path / "state"}"\n\n[board]\ndriver = "{driver}"\n'
                 'socket = "/run/fake/board.sock"\n', encoding="utf-8")
    return p


def test_an_unknown_driver_is_a_located_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"callbox.toml:5: board.driver: must be one of sim, not 'dahdi'"):
        load_config(_config(tmp_path, "dahdi"))


def test_the_sim_driver_is_built_from_the_board_settings() -> None:
    board = drivers.open_driver("sim", socket="/run/x/board.sock")
    assert isinstance(board, SimBoardDriver) and board.path == "/run/x/board.sock"


def test_the_service_opens_the_configured_driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(drivers.DRIVERS, "fake", f"{__name__}:FakeBoard")
    from daemon.service import Service

    service = Service(load_config(_config(tmp_path, "fake")))
    try:
        assert isinstance(service.board, FakeBoard) and service.board.socket == "/run/fake/board.sock"
    finally:
        service.store.close()
