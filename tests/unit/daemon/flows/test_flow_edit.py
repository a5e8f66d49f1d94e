"""Editing IVR flow files by key path (comments kept, inline tables stay inline), validation by
``ivr.flow_config`` before writing (every problem located), the atomic write, the live apply to the
running IVR (the next call gets the new flow)."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace

import pytest

from daemon.api.protocol import ApiError
from daemon.flows.flow_edit import (
    GET_ARGS,
    SET_ARGS,
    FlowOps,
    FlowPathError,
    edit_flow_text,
    split_key,
    validate_flow_text,
)
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


def set_flow(ops: FlowOps, req: dict) -> dict:
    """``ivr.flow.set`` as the API runs it: the request checked against its schema, then the op."""
    return asyncio.run(ops.set(SET_ARGS.check_request(req)))


def test_ops_validate_write_atomically_and_apply(tmp_path: Path) -> None:
    path = tmp_path / "flow.toml"
    path.write_text(TEXT, encoding="utf-8")
    old_flow = object()
    ivr = FakeIvr(old_flow)
    ops = FlowOps(_service(path, ivr))
    got = ops.get(GET_ARGS.check_request({"flow": "travel-agency"}))
    assert got["text"] == TEXT and got["data"]["nodes"]["main"]["kind"] == "menu" and got["path"] == str(path)
    assert ops.list({}) == [{"flow": "travel-agency", "path": str(path)}]

    reply = set_flow(ops, {"flow": "travel-agency",
                            "changes": [{"key": "lists.blacklist.numbers", "value": ["13800138000"]}]})
    assert reply == {"flow": "travel-agency", "path": str(path), "saved": True, "applied": True}
    assert 'numbers = ["13800138000"]' in path.read_text(encoding="utf-8")
    assert (tmp_path / "flow.toml.bak").read_text(encoding="utf-8") == TEXT
    new_flow = ivr.flows["travel-agency"]
    assert new_flow is not old_flow and new_flow.lists["blacklist"].matches("13800138000")
    assert ivr.asked == [new_flow] and len(ivr.preloaded) == 1

    before = path.read_text(encoding="utf-8")
    with pytest.raises(ApiError) as err:  # refused: nothing written, the running flow untouched
        set_flow(ops, {"flow": "travel-agency", "changes": [{"key": "nodes.main.fallback", "value": "gone"}]})
    assert err.value.code == "bad_argument" and f"{path}:" in err.value.message and "'gone'" in err.value.message
    assert path.read_text(encoding="utf-8") == before and ivr.flows["travel-agency"] is new_flow
    with pytest.raises(ApiError) as err:  # a key path that cannot be edited: the file named, nothing written
        set_flow(ops, {"flow": "travel-agency", "changes": [{"key": "prompts.welcome.tts", "value": "x"}]})
    assert err.value.code == "bad_argument" and err.value.message == f"{path}: prompts.welcome.tts: prompts.welcome is not a table"
    assert path.read_text(encoding="utf-8") == before
    with pytest.raises(ApiError) as err:
        ops.get(GET_ARGS.check_request({"flow": "nope"}))
    assert err.value.code == "not_found" and "travel-agency" in err.value.message
    for bad in ({"flow": "travel-agency"}, {"flow": "travel-agency", "text": "x", "changes": []},
                {"flow": "travel-agency", "changes": [{"value": 1}]}):
        with pytest.raises(ApiError) as err:
            set_flow(ops, bad)
        assert err.value.code == "bad_argument"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flow.toml", "flow.toml.bak"]  # no temp files


def test_without_a_running_ivr_the_file_is_saved_for_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "flow.toml"
    path.write_text(TEXT, encoding="utf-8")
    reply = set_flow(FlowOps(_service(path, None)),
                     {"flow": "travel-agency", "text": TEXT.replace("timeout_s = 3", "timeout_s = 4")})
    assert reply["saved"] and not reply["applied"] and "timeout_s = 4" in path.read_text(encoding="utf-8")

