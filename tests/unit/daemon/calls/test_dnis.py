"""The [[dnis]] table: how a called number finds its entry, and every mistake located at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.calls.dnis import DnisTable
from daemon.config.model import ConfigError, load_config
from tests.support.processes import default_config_text

BLOCK = """
[[dnis]]
number = "88001234"
to = "queue:booking"
name = "Booking line"

[[dnis]]
prefix = "8800"
to = "ivr:travel-agency"

[[dnis]]
prefix = "88002"
to = "extension:8002"

[[dnis]]
range = "88002000-88002099"
to = "extension:8001,8002"
name = "Branches"
"""


def load(tmp_path: Path, extra: str):
    p = tmp_path / "callbox.toml"
    p.write_text(default_config_text() + extra, encoding="utf-8")
    return load_config(p)


def test_exact_then_range_then_the_longest_prefix(tmp_path: Path) -> None:
    table = DnisTable(load(tmp_path, BLOCK).dnis)
    assert table.route("88001234").to == "queue:booking"
    assert table.route("88001234").name == "Booking line"
    assert table.route("88002050").to == "extension:8001,8002"  # the range beats both prefixes
    assert table.route("88002100").to == "extension:8002"  # outside the range: the longer prefix
    assert table.route("880020500").to == "extension:8002"  # a range matches its own length only
    assert table.route("88009999").to == "ivr:travel-agency"
    assert table.route("8800").to == "ivr:travel-agency"
    assert table.route("99999") is None and table.route("880") is None and table.route("") is None


def test_no_table_routes_nothing(tmp_path: Path) -> None:
    table = DnisTable(load(tmp_path, "").dnis)
    assert not table and table.route("88001234") is None


@pytest.mark.parametrize(("entry", "key", "message"), [
    ('number = "88001234"\nto = "queue:booking"', "dnis[1].number", "overlaps dnis[0] (number '88001234')"),
    ('prefix = "8800"\nrange = "88000000-88000009"\nto = "queue:booking"', "dnis[1]",
     "exactly one of number, prefix or range (has prefix, range)"),
    ('to = "queue:booking"', "dnis[1]", "exactly one of number, prefix or range"),
    ('range = "880012-88001299"\nto = "queue:booking"', "dnis[1].range", "the same number of digits"),
    ('range = "88001299-88001200"\nto = "queue:booking"', "dnis[1].range", "not above the second"),
    ('number = "8800-1234"\nto = "queue:booking"', "dnis[1].number", "is not valid"),
    ('number = "88005678"\nto = "queue:nosuch"', "dnis[1].to", "'nosuch' is not a configured [[queue]]"),
    ('number = "88005678"\nto = "extension:8001,7777"', "dnis[1].to", "'7777' is not a configured extension"),
    ('number = "88005678"\nto = "ivr:nosuch"', "dnis[1].to", "'nosuch' is not a configured flow"),
    ('number = "88005678"\nto = "fax:1"', "dnis[1].to", "is not extension:NUMBER"),
    ('number = "88005678"\nto = "queue:booking"\nlabel = "x"', "dnis[1].label", "unknown key"),
])
def test_mistakes_name_the_file_line_and_key(tmp_path: Path, entry: str, key: str, message: str) -> None:
    text = '\n[[dnis]]\nnumber = "88001234"\nto = "queue:booking"\n' + "\n[[dnis]]\n" + entry + "\n"
    with pytest.raises(ConfigError) as err:
        load(tmp_path, text)
    lines = (default_config_text() + text).splitlines()
    second = [i for i, ln in enumerate(lines, 1) if ln.strip() == "[[dnis]]"][1]
    assert err.value.key == key and message in err.value.message
    assert second <= err.value.line <= second + entry.count("\n") + 1  # the second entry's own lines
    assert str(err.value).startswith(f"{tmp_path / 'callbox.toml'}:{err.value.line}: {key}: ")


def test_ranges_may_hold_exact_numbers_but_not_share_numbers_with_each_other(tmp_path: Path) -> None:
    text = ('\n[[dnis]]\nnumber = "88001234"\nto = "queue:booking"\n'
            '\n[[dnis]]\nrange = "88001200-88001299"\nto = "queue:complaints"\n')
    assert len(load(tmp_path, text).dnis) == 2
    assert len(load(tmp_path, text + '\n[[dnis]]\nrange = "880012990-880012999"\nto = "queue:booking"\n').dnis) == 3
    with pytest.raises(ConfigError) as err:
        load(tmp_path, text + '\n[[dnis]]\nrange = "88001299-88001300"\nto = "queue:booking"\n')
    assert err.value.key == "dnis[2].range" and "overlaps dnis[1] (range '88001200-88001299')" in err.value.message
