"""Editing IVR flow files by key path (comments kept, inline tables stay inline), validation by
``ivr.flow_config`` before writing (every problem located), the atomic write, the live apply to the
running IVR (the next call gets the new flow), and adding/removing [[agent]]/[[queue]] entries with
``config.set``."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace

import pytest

from daemon.api.protocol import ApiError
from daemon.config_edit import PathError, edit_text, validate
from daemon.flow_edit import FlowOps, FlowPathError, edit_flow_text, split_key, validate_flow_text
from ivr.flow import FlowError
from tests.support.processes import DEFAULT_CONFIG

FLOW = DEFAULT_CONFIG.parent / "ivr" / "travel-agency.toml"
TEXT = FLOW.read_text(encoding="utf-8")


def test_split_key() -> None:
    assert split_key("nodes.main.choices.1") == ["nodes", "main", "choices", "1"]
    assert split_key(["prompts", "a.b"]) == ["prompts", "a.b"]
    for bad in ("", "nodes..main", [], ["x", ""], 5):
        with pytest.raises(FlowPathError):
            split_key(bad)


def test_edits_keep_comments_and_inline_tables() -> None:
    new = edit_flow_text(TEXT, [
        {"key": "prompts.welcome", "value": "欢迎致电，请按1"},
        {"key": "nodes.main.choices.4", "value": "complaints"},
        {"key": "nodes.main.choices.3", "value": None},
        {"key": "lists.blacklist.numbers", "value": ["13800000000", "0755123*"]},
        {"key": "schedules.office.hours", "value": {"mon-sun": ["08:00-20:00"]}},
        {"key": "schedules.office.holidays", "value": ["2027-02-10..2027-02-16"]}])
    assert 'welcome = "欢迎致电，请按1"' in new
    assert 'choices = { 1 = "routes", 2 = "booking", 0 = "operator", 4 = "complaints" }' in new
    assert re.search(r'(?m)^numbers = \["13800000000", "0755123\*"\] +# e\.g\. "13800000000"', new)
    assert 'hours = { mon-sun = ["08:00-20:00"] }' in new
    assert "# Callers are screened (blacklist / VIP list)" in new  # comments kept
    flow = validate_flow_text(new, FLOW)
    assert flow.prompts["welcome"].tts == "欢迎致电，请按1"
    assert flow.nodes["main"].choices == {"1": "routes", "2": "booking", "0": "operator", "4": "complaints"}
    assert flow.lists["blacklist"].matches("07551234567")
    assert len(new.splitlines()) == len(TEXT.splitlines())


def test_mistakes_are_located_and_listed() -> None:
    new = edit_flow_text(TEXT, [{"key": "nodes.main.choices.5", "value": "nowhere"},
                                {"key": "nodes.routes.timeout_s", "value": -1}])
    with pytest.raises(FlowError) as err:
        validate_flow_text(new, FLOW)
    text = str(err.value)
    assert f"{FLOW}:" in text and "node 'main'" in text and "'nowhere'" in text
    assert "node 'routes': timeout_s: must be a number of seconds above 0" in text
    with pytest.raises(FlowPathError, match="prompts.welcome is not a table"):
        edit_flow_text(TEXT, [{"key": "prompts.welcome.tts", "value": "x"}])


class FakeIvr:
    def __init__(self, flow: object) -> None:
        self.flows = {"travel-agency": flow}
        self.preloaded: list[Future] = []
        self.library = SimpleNamespace(preload=self._preload)
        self.asked: list[object] = []

    def _preload(self, flow: object) -> list[Future]:
        self.asked.append(flow)
        f: Future = Future()
        f.set_result(None)
        return [f]


def _service(path: Path, ivr: FakeIvr | None) -> SimpleNamespace:
    cfg = SimpleNamespace(ivr=SimpleNamespace(flows=(("travel-agency", str(path)),)))
    return SimpleNamespace(config=cfg, ivr=ivr)


def test_ops_validate_write_atomically_and_apply(tmp_path: Path) -> None:
    path = tmp_path / "flow.toml"
    path.write_text(TEXT, encoding="utf-8")
    old_flow = object()
    ivr = FakeIvr(old_flow)
    ops = FlowOps(_service(path, ivr))
    got = ops.get({"flow": "travel-agency"})
    assert got["text"] == TEXT and got["data"]["nodes"]["main"]["kind"] == "menu" and got["path"] == str(path)
    assert ops.list({}) == [{"flow": "travel-agency", "path": str(path)}]

    reply = asyncio.run(ops.set({"flow": "travel-agency",
                                 "changes": [{"key": "lists.blacklist.numbers", "value": ["13800138000"]}]}))
    assert reply == {"flow": "travel-agency", "path": str(path), "saved": True, "applied": True}
    assert 'numbers = ["13800138000"]' in path.read_text(encoding="utf-8")
    assert (tmp_path / "flow.toml.bak").read_text(encoding="utf-8") == TEXT
    new_flow = ivr.flows["travel-agency"]
    assert new_flow is not old_flow and new_flow.lists["blacklist"].matches("13800138000")
    assert ivr.asked == [new_flow] and len(ivr.preloaded) == 1

    before = path.read_text(encoding="utf-8")
    with pytest.raises(ApiError) as err:  # refused: nothing written, the running flow untouched
        asyncio.run(ops.set({"flow": "travel-agency", "changes": [{"key": "nodes.main.fallback", "value": "gone"}]}))
    assert err.value.code == "bad_argument" and f"{path}:" in err.value.message and "'gone'" in err.value.message
    assert path.read_text(encoding="utf-8") == before and ivr.flows["travel-agency"] is new_flow
    with pytest.raises(ApiError) as err:
        ops.get({"flow": "nope"})
    assert err.value.code == "not_found" and "travel-agency" in err.value.message
    for bad in ({"flow": "travel-agency"}, {"flow": "travel-agency", "text": "x", "changes": []},
                {"flow": "travel-agency", "changes": [{"value": 1}]}):
        with pytest.raises(ApiError) as err:
            asyncio.run(ops.set(bad))
        assert err.value.code == "bad_argument"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flow.toml", "flow.toml.bak"]  # no temp files


def test_without_a_running_ivr_the_file_is_saved_for_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "flow.toml"
    path.write_text(TEXT, encoding="utf-8")
    reply = asyncio.run(FlowOps(_service(path, None)).set(
        {"flow": "travel-agency", "text": TEXT.replace("timeout_s = 3", "timeout_s = 4")}))
    assert reply["saved"] and not reply["applied"] and "timeout_s = 4" in path.read_text(encoding="utf-8")


BOX = """
[[line]]
port = "1/4"
name = "PSTN-4"
destination = ["8007", "8008"]

[[extension]]
number = "8007"
port = "2/7"

[[extension]]
number = "8008"
port = "2/8"

[acd]
interval_min = 15

[[agent]]
id = "1001"
name = "王芳"
groups = ["day"]

[[queue]]
name = "travel"
groups = ["day"]
"""


def test_config_set_adds_replaces_and_removes_entries() -> None:
    text = BOX
    new = edit_text(text, [{"key": "agent[1002]", "value": {"name": "李明", "groups": ["day"]}},
                           {"key": "queue[backup]", "value": {"groups": ["day"], "strategy": "ring_all"}},
                           {"key": "queue[travel].overflow", "value": "queue:backup"},
                           {"key": "agent[1001].name", "value": "王小芳"},
                           {"key": "agent[1001].skills", "value": {"mandarin": 5}},
                           {"key": "line[1/4].destination", "value": ["8007"]},
                           {"key": "extension[8008]", "value": None}])
    cfg = validate(new, "/etc/callbox/callbox.toml")
    assert [(a.id, a.name) for a in cfg.acd.agents] == [("1001", "王小芳"), ("1002", "李明")]
    assert [q.name for q in cfg.acd.queues] == ["travel", "backup"] and cfg.acd.queues[1].strategy == "ring_all"
    assert str(cfg.acd.queues[0].overflow) == "queue:backup" and cfg.acd.agents[0].skills == (("mandarin", 5),)
    assert "skills = {mandarin = 5}" in new  # a table value is written inline
    assert cfg.extension_by_number("8008") is None and cfg.extension_by_number("8007") is not None
    again = edit_text(new, [{"key": "agent[1002]", "value": {"name": "张三"}}])  # replaced whole
    assert [(a.id, a.name, a.groups) for a in validate(again, "/x.toml").acd.agents][1] == ("1002", "张三", ())
    with pytest.raises(PathError, match=r"agent\[1003\]: a \[\[agent\]\] entry is set to a table"):
        edit_text(text, [{"key": "agent[1003]", "value": "x"}])
    with pytest.raises(PathError, match="box is not an array of tables"):
        edit_text(text, [{"key": "box[1]", "value": {}}])
