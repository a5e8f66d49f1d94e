"""The [[trunk]] section (E1 No.1 trunks): defaults, per-trunk settings reaching the signalling, and
every mistake located by file, key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.config.model import ConfigError, load_config, parse_timeslots
from daemon.runtime.engine import Engine
from daemon.runtime.line_setup import no1_trunk_config
from sim.world import SimWorld
from tests.support.inprocess import WorldBoard

BASE = '[[extension]]\nnumber = "8001"\nport = "2/1"\n\n[[line]]\nport = "1/1"\n\n'


def _load(tmp_path: Path, trunk: str):
    p = tmp_path / "callbox.toml"
    p.write_text(BASE + trunk, encoding="utf-8")
    return load_config(p)


def test_defaults_and_the_signalling_settings(tmp_path: Path) -> None:
    cfg = _load(tmp_path, '[[trunk]]\nname = "CT"\nspan = 3\ndestination = ["8001"]\nka = 2\nkd = 3\n'
                          'dnis_timeout_s = 3\nglare = "hold"\n[trunk.timers]\nT_SEIZE_ACK = 4\n')
    (t,) = cfg.trunks
    assert len(t.ports()) == 30 and t.direction == "both" and t.ani == "first" and t.max_ani == 20
    assert cfg.line_by_port("3/17").name == "CT/17" and cfg.trunk_by_port("3/31") is t
    tc = no1_trunk_config(t)
    assert (tc.variant.ka, tc.variant.kd, tc.glare) == (2, 3, "hold")
    assert tc.variant.timer("T_SEIZE_ACK") == 4.0 and tc.variant.timer("T_END_OF_DNIS") == 3.0
    assert tc.variant.timer("T_MF_CYCLE") == 5.0


def test_timeslot_lists() -> None:
    assert parse_timeslots("1-3, 17") == (1, 2, 3, 17)
    with pytest.raises(ValueError):
        parse_timeslots("3-1")
    with pytest.raises(ValueError):
        parse_timeslots("1..5")


@pytest.mark.parametrize(("trunk", "key", "line", "words"), [
    ('[[trunk]]\nname = "CT"\nspan = 3\ntimeslots = "14-17"\n', "trunk[0].timeslots", 11, "16"),
    ('[[trunk]]\nname = "CT"\nspan = 3\ntimeslots = [1, 1]\n', "trunk[0].timeslots", 11, "distinct"),
    ('[[trunk]]\nname = "CT"\nspan = 3\ndirection = "sideways"\n', "trunk[0].direction", 11, "one of"),
    ('[[trunk]]\nname = "CT"\nspan = 3\ndestination = ["9999"]\n', "trunk[0].destination", 11, "not a configured"),
    ('[[trunk]]\nname = "CT"\nspan = 3\nka = 16\n', "trunk[0].ka", 11, "1..15"),
    ('[[trunk]]\nname = "CT"\nspan = 3\nmf_level_dbm0 = 0\n', "trunk[0].mf_level_dbm0", 11, "between"),
    ('[[trunk]]\nname = "CT"\nspan = 3\ntimers = { T_NOPE = 1 }\n', "trunk[0].timers.T_NOPE", 11, "unknown timer"),
    ('[[trunk]]\nname = "CT"\nspan = 3\ntimers = { T_MF_CYCLE = -1 }\n', "trunk[0].timers.T_MF_CYCLE", 11, ">= 0"),
    ('[[trunk]]\nname = "CT"\nspan = 1\ntimeslots = "1"\n', "trunk[0].timeslots", 11, "already used"),
    ('[[trunk]]\nname = "CT"\nspan = 3\ntimeslots = "1"\n[[trunk]]\nname = "CT"\nspan = 3\ntimeslots = "2"\n',
     "trunk[1].name", 13, "twice"),
    ('[[trunk]]\nname = "CT"\nspan = 3\ncolour = "red"\n', "trunk[0].colour", 11, "unknown key"),
    ('[[trunk]]\nname = "CT"\n', "trunk[0].span", 8, "required"),
])
def test_mistakes_are_located(tmp_path: Path, trunk: str, key: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, trunk)
    e = err.value
    assert (e.key, e.line) == (key, line), str(e)
    assert words in e.message


def test_a_reloaded_trunk_config_reaches_the_timeslots_for_the_next_call(tmp_path: Path) -> None:
    cfg = _load(tmp_path, '[[trunk]]\nname = "CT"\nspan = 3\ntimeslots = "1-2"\n')
    eng = Engine(cfg, WorldBoard(SimWorld()), lambda *a: None)
    eng.attach()
    machine = eng.ports["3/1"].machine
    assert machine.v.timer("T_SEIZE_ACK") == 8.0 and machine.config.glare == "yield"
    new = _load(tmp_path, '[[trunk]]\nname = "CT"\nspan = 3\ntimeslots = "1-2"\nglare = "hold"\n'
                          'timers = { T_SEIZE_ACK = 3 }\n')
    assert sorted(eng.apply_config(new)) == ["3/1", "3/2"]
    assert eng.ports["3/1"].machine is machine  # same machine, new settings
    assert machine.v.timer("T_SEIZE_ACK") == 3.0 and machine.config.glare == "hold"
    assert eng.apply_config(new) == []
