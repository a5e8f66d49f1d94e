"""Editing the configuration by key path (comments and layout kept), adding, replacing and removing
[[agent]] / [[queue]] entries (tables written inline), validation before writing, the atomic write
with its backup, and what applies live versus after a restart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from daemon.config.editing import PathError, edit_text, plan_apply, split_path, validate, write_atomically
from daemon.config.model import ConfigError
from tests.support.processes import default_config_text

TEXT = default_config_text()


def test_split_path() -> None:
    assert split_path("extension[8001].name") == [("extension", "8001"), ("name", None)]
    assert split_path("line[1/1].destination") == [("line", "1/1"), ("destination", None)]
    assert split_path("box.name") == [("box", None), ("name", None)]
    for bad in ("", "box..name", "box.name.", "extension[8001]x"):
        with pytest.raises(PathError):
            split_path(bad)


def test_edits_keep_comments_and_layout() -> None:
    new = edit_text(TEXT, [{"key": "extension[8002].name", "value": "张三"},
                           {"key": "line[1/3].destination", "value": ["8003", "8004"]},
                           {"key": "dialplan.no_answer_timeout_s", "value": 20},
                           {"key": "recording.mode", "value": "off"},
                           {"key": "box.log_level", "value": None}])
    old_lines = [ln for ln in TEXT.splitlines() if not ln.startswith("log_level")]
    new_lines = new.splitlines()
    changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert changed == [  # the removed key's line is gone; every other line, comment and blank is kept
        ('mode = "all"                   # all | selected | on_demand | off',
         'mode = "off"                   # all | selected | on_demand | off'),
        ("no_answer_timeout_s = 30", "no_answer_timeout_s = 20"),
        ('destination = ["8003", "8004", "8005", "8006", "8001", "8002"]', 'destination = ["8003", "8004"]'),
        ('name = "国内线路"', 'name = "张三"')]
    assert "# Chinese lines often signal hang-up by busy tone only" in new
    cfg = validate(new, "/etc/callbox/callbox.toml")
    assert cfg.extension_by_number("8002").name == "张三" and cfg.extension_by_number("8001").name == "前台"
    assert cfg.line_by_port("1/3").destination == ("8003", "8004")
    assert cfg.dialplan.no_answer_timeout_s == 20 and cfg.recording.mode == "off" and cfg.log_level == "info"


def test_unknown_paths_are_named() -> None:
    with pytest.raises(PathError, match=r"extension\[9999\].name: no \[\[extension\]\] with number = '9999'"):
        edit_text(TEXT, [{"key": "extension[9999].name", "value": "x"}])
    with pytest.raises(PathError, match=r"box\[1\].name: box is not an array of tables"):
        edit_text(TEXT, [{"key": "box[1].name", "value": "x"}])
    with pytest.raises(ConfigError) as err:  # a key the schema does not know: parse_config names it
        validate(edit_text(TEXT, [{"key": "dialplan.no_answer_timeout", "value": 5}]), "/x/callbox.toml")
    assert err.value.key == "dialplan.no_answer_timeout" and "unknown key" in err.value.message


def test_config_set_adds_replaces_and_removes_entries() -> None:
    new = edit_text(TEXT, [{"key": "agent[1009]", "value": {"name": "李明", "groups": ["domestic"],
                                                             "skills": {"tickets": 3, "mandarin": 5}}},
                           {"key": "queue[backup]", "value": {"groups": ["domestic"], "strategy": "ring_all",
                                                              "rules": [{"kind": "vip"}]}},
                           {"key": "queue[domestic].overflow", "value": "queue:backup"},
                           {"key": "agent[1001].name", "value": "王小芳"},
                           {"key": "agent[1002].skills", "value": {"mandarin": 5}},
                           {"key": "line[1/4].destination", "value": ["8007"]},
                           {"key": "agent[1008]", "value": None},
                           {"key": "extension[8008]", "value": None}])
    cfg = validate(new, "/etc/callbox/callbox.toml")
    assert [(a.id, a.name) for a in cfg.acd.agents] == [
        ("1001", "王小芳"), ("1002", "李娜"), ("1003", "张伟"), ("1004", "刘洋"), ("1005", "陈静"), ("1009", "李明")]
    assert [q.name for q in cfg.acd.queues] == ["domestic", "outbound", "booking", "complaints", "backup"]
    backup = cfg.acd.queues[-1]
    assert backup.strategy == "ring_all" and backup.groups == ("domestic",) and str(cfg.acd.queues[0].overflow) == "queue:backup"
    assert cfg.acd.agents[1].skills == (("mandarin", 5),) and cfg.acd.agents[-1].skills == (("mandarin", 5), ("tickets", 3))
    # tables (and a list of them) are written inline, as the file writes its own: no [agent.skills] section
    assert '[[agent]]\nid = "1009"\nname = "李明"\ngroups = ["domestic"]\nskills = { tickets = 3, mandarin = 5 }\n\n' in new
    assert '[[queue]]\nname = "backup"\ngroups = ["domestic"]\nstrategy = "ring_all"\nrules = [{ kind = "vip" }]\n' in new
    assert 'name = "李娜"\npin = "5937"\ngroups = ["outbound", "booking"]\nextension = "8003"\nskills = { mandarin = 5 }\n' in new
    assert "[agent.skills]" not in new and "[[queue.rules]]" not in new
    assert cfg.extension_by_number("8008") is None and cfg.extension_by_number("8007") is not None
    again = edit_text(new, [{"key": "agent[1009]", "value": {"name": "张三"}}])  # replaced whole
    assert [(a.id, a.name, a.groups, a.skills) for a in validate(again, "/x.toml").acd.agents][-1] == (
        "1009", "张三", (), ())
    with pytest.raises(PathError, match=r"agent\[1003\]: a \[\[agent\]\] entry is set to a table"):
        edit_text(TEXT, [{"key": "agent[1003]", "value": "x"}])
    with pytest.raises(PathError, match="box is not an array of tables"):
        edit_text(TEXT, [{"key": "box[1]", "value": {}}])


def test_validation_names_file_line_and_key() -> None:
    new = edit_text(TEXT, [{"key": "line[1/4].destination", "value": ["8009"]}])
    with pytest.raises(ConfigError) as err:
        validate(new, "/etc/callbox/callbox.toml")
    line = next(i for i, ln in enumerate(new.splitlines(), 1) if ln.startswith('destination = ["8009"]'))
    assert str(err.value).startswith(f"/etc/callbox/callbox.toml:{line}: line[3].destination: '8009'")


def test_atomic_write_keeps_a_backup_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "callbox.toml"
    path.write_text(TEXT, encoding="utf-8")
    os.chmod(path, 0o640)
    new = edit_text(TEXT, [{"key": "box.name", "value": "新名字"}])
    write_atomically(path, new)
    assert path.read_text(encoding="utf-8") == new
    assert (tmp_path / "callbox.toml.bak").read_text(encoding="utf-8") == TEXT
    assert path.stat().st_mode & 0o777 == 0o640
    write_atomically(path, TEXT)
    assert (tmp_path / "callbox.toml.bak").read_text(encoding="utf-8") == new
    assert sorted(p.name for p in tmp_path.iterdir()) == ["callbox.toml", "callbox.toml.bak"]


def test_a_failed_write_leaves_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "callbox.toml"
    path.write_text(TEXT, encoding="utf-8")
    with pytest.raises(TypeError):
        write_atomically(path, None)  # type: ignore[arg-type]
    assert path.read_text(encoding="utf-8") == TEXT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["callbox.toml"]


def test_live_changes_and_restart_required() -> None:
    import dataclasses

    old = validate(TEXT, "/etc/callbox/callbox.toml")
    running = dataclasses.replace(old, state_dir="/tmp/state", cache_dir="/tmp/cache",
                                  api_socket="/tmp/api.sock")  # command line
    new = validate(edit_text(TEXT, [{"key": "extension[8001].name", "value": "A"},
                                    {"key": "box.cache_dir", "value": "/srv/cache"},
                                    {"key": "extension[8002].port", "value": "2/9"},
                                    {"key": "board.socket", "value": "/run/other.sock"},
                                    {"key": "recording.mode", "value": "off"},
                                    {"key": "dialplan.inter_digit_timeout_s", "value": 3}]), old.path)
    applied, restart = plan_apply(running, old, new)
    assert restart == ["box.cache_dir", "board.socket", "recording.mode", "extension[8002].port"]
    assert applied.state_dir == "/tmp/state" and applied.api_socket == "/tmp/api.sock"
    assert applied.cache_dir == "/tmp/cache"
    assert applied.board_socket == old.board_socket and applied.recording.mode == "all"
    assert applied.extension_by_number("8001").name == "A" and applied.extension_by_number("8002").port == "2/2"
    assert applied.dialplan.inter_digit_timeout_s == 3


def test_acd_changes_are_live_once_the_acd_runs() -> None:
    import dataclasses

    from daemon.acd.config import AcdConfig

    old = validate(TEXT, "/etc/callbox/callbox.toml")
    new = validate(edit_text(TEXT, [{"key": "queue[domestic].wrap_up_s", "value": 3},
                                    {"key": "agent[1009]", "value": {"name": "新人", "groups": ["domestic"]}}]),
                   old.path)
    applied, restart = plan_apply(old, old, new)
    assert restart == [] and applied.acd == new.acd
    no_acd = dataclasses.replace(old, acd=AcdConfig())  # started without agents or queues: no ACD runs
    applied, restart = plan_apply(no_acd, old, new)
    assert restart == ["acd"] and applied.acd == AcdConfig()


def test_a_trunks_settings_are_live_its_timeslots_wait_for_a_restart() -> None:
    text = TEXT + '\n[[trunk]]\nname = "CT-1"\nspan = 3\ntimeslots = [1, 2, 3]\ndestination = ["8001"]\n'
    old = validate(text, "/etc/callbox/callbox.toml")
    new = validate(edit_text(text, [{"key": "trunk[CT-1].dnis_length", "value": 4},
                                    {"key": "trunk[CT-1].destination", "value": ["8002"]}]), old.path)
    applied, restart = plan_apply(old, old, new)
    assert restart == [] and applied.trunks[0].dnis_length == 4
    assert [ln.destination for ln in applied.trunk_lines] == [("8002",)] * 3  # inbound calls hunt 8002 now
    moved = validate(edit_text(text, [{"key": "trunk[CT-1].timeslots", "value": [1, 2]}]), old.path)
    applied, restart = plan_apply(old, old, moved)
    assert restart == ["trunk"] and applied.trunks == old.trunks and applied.trunk_lines == old.trunk_lines
