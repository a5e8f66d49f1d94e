"""The config against the board's layout: every port reference the board lacks is a located error."""

from pathlib import Path

import pytest

from daemon.config.layout import check_layout
from daemon.config.model import ConfigError, load_config
from hal.ports import build_spans
from sim.config import load_config as load_sim_config
from tests.support.processes import default_config_text

BOARD = build_spans(load_sim_config().layout)  # the simulator's default: 4 FXO, 8 FXS, E1 CAS, E1 HDLC


def _config(tmp_path: Path, old: str, new: str):
    path = tmp_path / "callbox.toml"
    text = default_config_text(ivr_lines=True)  # PINs set as the installer does
    path.write_text(text.replace(old, new, 1) if old else text + new, encoding="utf-8")
    return path, load_config(path)


def test_the_default_config_fits_the_default_board(tmp_path: Path) -> None:
    check_layout(_config(tmp_path, "", "")[1], BOARD)


@pytest.mark.parametrize(("old", "new", "key", "words"), [
    ('port = "2/8"', 'port = "2/12"', "extension[7].port", "port 2/12 is not on the board (span 2 has 8 FXS"),
    ('port = "2/8"', 'port = "1/9"', "extension[7].port", "port 1/9 is not on the board (span 1 has 4 FXO"),
    ('port = "2/8"', 'port = "3/5"', "extension[7].port", "port 3/5 is an E1 port, an extension needs FXS"),
    ('port = "1/4"', 'port = "9/1"', "line[3].port", "the board has no span 9"),
    ('port = "1/4"', 'port = "2/9"', "line[3].port", "port 2/9 is not on the board"),
    ("", '\n[[trunk]]\nname = "T"\nspan = 4\n', "trunk[0].span", "span 4 is an E1 with HDLC signalling"),
    ("", '\n[[trunk]]\nname = "T"\nspan = 5\n', "trunk[0].span", "the board has no span 5"),
])
def test_a_port_reference_the_board_lacks_names_file_line_key(tmp_path: Path, old: str, new: str, key: str,
                                                               words: str) -> None:
    path, cfg = _config(tmp_path, old, new)
    with pytest.raises(ConfigError) as err:
        check_layout(cfg, BOARD)
    lines = path.read_text(encoding="utf-8").splitlines()
    needle = new.strip().splitlines()[-1]
    line = max(i for i, ln in enumerate(lines, 1) if ln == needle)
    assert (err.value.key, err.value.line) == (key, line)
    assert str(err.value).startswith(f"{path}:{line}: {key}: ") and words in str(err.value)


def test_a_timeslot_the_span_lacks(tmp_path: Path) -> None:
    path, cfg = _config(tmp_path, "", '\n[[trunk]]\nname = "T"\nspan = 3\ntimeslots = "1-15"\n')
    smaller = build_spans([{"id": 3, "kind": "e1", "signalling": "cas"}])
    smaller[0].ports = [p for p in smaller[0].ports if p.index <= 10]  # a board that carries 10 timeslots
    with pytest.raises(ConfigError, match=r"trunk\[0\].timeslots: timeslot 3/11 is not on the board"):
        check_layout(cfg, smaller + [s for s in BOARD if s.id != 3])
