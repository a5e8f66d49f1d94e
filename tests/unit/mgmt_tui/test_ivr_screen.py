"""The IVR form, headless at 80x24: prompts' TTS text, a menu's prompt and digit targets, schedules
and holidays, the black/white lists and transfer targets, each edited through ``ivr.flow.set`` with
the flow validated as the daemon does (its located error shown, the edit kept open); ASCII mode."""

from __future__ import annotations

from pathlib import Path

from mgmt_tui.app import TuiApp
from tests.unit.mgmt_tui.support import FakeDaemon, _clear, _focus_on, _note, _screen, _text, _type


def _ivr(tmp_path: Path, ascii_mode: bool = False) -> tuple[TuiApp, FakeDaemon]:
    daemon = FakeDaemon(tmp_path)
    app = TuiApp(daemon, ascii_mode=ascii_mode)
    app.refresh()
    app.press("6")
    return app, daemon


def test_prompts_tts_text_and_lists(tmp_path: Path) -> None:
    app, daemon = _ivr(tmp_path)
    rows = _screen(app)
    assert "6:IVR*" in rows[0] and "IVR flow travel-agency" in rows[1]
    assert rows[4].startswith(">") and "welcome" in rows[4] and "您好，欢迎致电" in rows[4]
    app.press("enter")
    assert any(r.startswith("prompt welcome TTS text: 您好") for r in _screen(app))
    _clear(app, 60)
    _type(app, "Ni hao, zixun qing an 1")
    app.press("enter")
    assert daemon.sets("ivr.flow.set")[-1] == {"flow": "travel-agency", "changes": [
        {"key": "prompts.welcome", "value": "Ni hao, zixun qing an 1"}]}
    assert 'welcome = "Ni hao, zixun qing an 1"' in daemon.flow_text
    assert "saved prompts.welcome" in _note(app)

    # the blacklist: numbers typed with commas; the list is checked by the flow's rules
    app.press("tab")  # menus
    app.press("tab")  # schedules
    app.press("tab")  # caller lists
    assert next(r for r in _screen(app) if r.startswith(">")).split()[1:] == ["blacklist", "(empty)"]
    app.press("enter")
    _type(app, "13800138000, 0755abc")
    app.press("enter")
    assert "lists.blacklist.numbers: must be a list of digit strings" in _note(app)
    assert f"{daemon.flow_path}:" in _note(app)
    _clear(app, 7)
    _type(app, "0755*")
    app.press("enter")
    assert 'numbers = ["13800138000", "0755*"]' in daemon.flow_text
    assert any("blacklist" in r and "13800138000,0755*" in r for r in _screen(app))
    _focus_on(app, "blacklist_action")
    app.press("enter")
    _clear(app, 4)
    _type(app, "kick")
    sent = len(daemon.sets("ivr.flow.set"))
    app.press("enter")
    assert "'kick' is not one of warn, drop" in _note(app) and len(daemon.sets("ivr.flow.set")) == sent  # not sent
    _clear(app, 4)
    _type(app, "drop")
    app.press("enter")
    assert 'blacklist_action = "drop"' in daemon.flow_text
    _focus_on(app, "operator     extension")
    app.press("enter")
    _clear(app, 4)
    _type(app, "8002")
    app.press("enter")
    assert daemon.sets("ivr.flow.set")[-1]["changes"] == [{"key": "nodes.operator.target", "value": "8002"}]


def test_menu_prompt_and_digit_targets(tmp_path: Path) -> None:
    app, daemon = _ivr(tmp_path)
    app.press("tab")
    row = next(r for r in _screen(app) if r.startswith(">"))
    assert row.split()[1:3] == ["main", "welcome"] and "1=routes 2=booking 3=complaints 0=operator" in row
    app.press("enter")
    rows = _screen(app)
    assert rows[1].startswith("Menu main of flow travel-agency")
    assert any("welcome:" in r and "您好" in r for r in rows)
    _focus_on(app, "key 3")
    app.press("enter")
    _clear(app, 12)
    _type(app, "nowhere")
    app.press("enter")  # refused by the flow's validation: located, the edit stays open
    assert "node 'main'" in _note(app) and "'nowhere'" in _note(app) and f"{daemon.flow_path}:" in _note(app)
    assert any(r.startswith("menu main key 3 goes to: nowhere") for r in _screen(app))
    _clear(app, 7)
    _type(app, "operator")
    app.press("enter")
    assert 'choices = { 1 = "routes", 2 = "booking", 3 = "operator", 0 = "operator" }' in daemon.flow_text
    _focus_on(app, "key 0")
    app.press("enter")
    _clear(app, 10)
    app.press("enter")  # empty: the key is removed
    assert 'choices = { 1 = "routes", 2 = "booking", 3 = "operator" }' in daemon.flow_text
    _focus_on(app, "add a key")
    app.press("enter")
    _type(app, "4=complaints 5=booking")
    app.press("enter")
    assert 'choices = { 1 = "routes", 2 = "booking", 3 = "operator", 4 = "complaints", 5 = "booking" }' \
        in daemon.flow_text
    assert any(r.split() == ["key", "5", "booking"] for r in _screen(app))
    _focus_on(app, "prompt             welcome")
    app.press("enter")
    _clear(app, 20)
    _type(app, "routes_menu")
    app.press("enter")
    assert any("routes_menu:" in r and "国内线路请按1" in r for r in _screen(app))
    app.press("esc")  # back to the list of menus
    row = next(r for r in _screen(app) if r.startswith(">"))
    assert row.split()[1:3] == ["main", "routes_menu"]


def test_schedules_and_holidays(tmp_path: Path) -> None:
    app, daemon = _ivr(tmp_path)
    _focus_on(app, "office     hours")
    assert "mon-fri=09:00-18:00 sat=09:00-12:00" in _text(app)
    app.press("enter")
    _clear(app, 60)
    _type(app, "mon-fri=08:30-12:00,13:00-18:00 sat=09:00-24:00")
    app.press("enter")
    assert 'hours = { mon-fri = ["08:30-12:00", "13:00-18:00"], sat = ["09:00-24:00"] }' in daemon.flow_text
    _focus_on(app, "office     holidays")
    app.press("enter")
    _clear(app, 60)
    _type(app, "2027-02-10..2027-02-16, 2027-13-01")
    app.press("enter")
    assert "schedules.office.holidays" in _note(app) and "'2027-13-01' is not a date" in _note(app)
    _clear(app, 12)
    app.press("enter")
    assert 'holidays = ["2027-02-10..2027-02-16"]' in daemon.flow_text
    assert any("holidays" in r and "2027-02-10..2027-02-16" in r for r in _screen(app))


def test_ascii_mode_shows_and_edits_chinese_text_safely(tmp_path: Path) -> None:
    app, daemon = _ivr(tmp_path, ascii_mode=True)
    rows = _screen(app)
    assert all(r.isascii() for r in rows) and "welcome        NinHao,HuanYingZhiDianxxLvXingShe" in "\n".join(rows)
    app.press("enter")  # a VT100 cannot show the Chinese text: the edit starts empty, Esc keeps it
    assert any(r == "prompt welcome TTS text:" for r in _screen(app)) and "not ASCII" in _note(app)
    app.press("esc")
    assert "您好，欢迎致电" in daemon.flow_text and not daemon.sets("ivr.flow.set")
    app.press("5")
    assert all(r.isascii() for r in _screen(app))
