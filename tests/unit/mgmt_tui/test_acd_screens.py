"""The ACD on the TUI, headless at 80x24: the dashboard's queue and agent panels from a real
``Engine.snapshot``, the report's queue and agent statistics with bar charts (today and a chosen day),
and the ACD form (settings, agents, queues and strategies) editing through ``config.set`` with the
daemon's validation; ASCII only in ASCII mode."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from mgmt_tui import acd_views
from mgmt_tui.app import TuiApp
from mgmt_tui.text import width
from tests.unit.mgmt_tui.support import FakeDaemon, _focus_on, _note, _screen, _text, _type


def _app(tmp_path: Path, ascii_mode: bool = False, acd: bool = True) -> tuple[TuiApp, FakeDaemon]:
    daemon = FakeDaemon(tmp_path, acd=acd)
    app = TuiApp(daemon, ascii_mode=ascii_mode)
    app.refresh()
    return app, daemon


def test_dashboard_shows_queues_waiting_callers_and_agents(tmp_path: Path) -> None:
    app, _ = _app(tmp_path)
    rows = _screen(app)
    text = "\n".join(rows)
    sales = next(r for r in rows if r.startswith("sales "))
    assert sales.split()[:5] == ["sales", "1", "0", "0:20", "1"]  # waiting, callbacks, longest, staffed
    assert sales.split()[-4:] == ["7", "5", "1", "83%"]  # today: offered, answered, abandoned, service level
    assert "service waiting: 13600000002 0:15" in text and "sales waiting: 13600000001 0:20 ring 1001" in text
    assert "agents (3): 1 out, 1 pause, 1 RING" in text
    assert "1001 王芳   RING  8001" in text and "1002 李明   p:1   8002" in text and "1003 Zhang  out" in text
    assert "PSTN-1" in text and "8002 国内线路" in text and "13800138000" in text  # ports and calls still there


def test_dashboard_without_the_acd_and_in_ascii(tmp_path: Path) -> None:
    app, _ = _app(tmp_path, acd=False)
    assert "ACD: not available (unknown_op" in _text(app)
    (tmp_path / "ascii").mkdir()
    app, _ = _app(tmp_path / "ascii", ascii_mode=True)
    rows = _screen(app)
    # Chinese names as pinyin, the columns measured on them: two agents a line (three in Chinese)
    assert all(r.isascii() for r in rows) and "1001 WangFang RING  8001" in "\n".join(rows)
    assert re.search(r"1002 LiMing   p:1   8002 +\d+[mh]", "\n".join(rows))  # (paused since the fake's morning)
    assert "??" not in "\n".join(rows)
    head = next(r for r in rows if r.startswith("port kind who"))
    row = next(r for r in rows if "GuoNeiXianLu" in r)
    assert row.index("ringing") == head.index("state") and row.rindex("idle") == head.rindex("state")


def test_report_queues_and_agents_with_bar_charts(tmp_path: Path) -> None:
    app, daemon = _app(tmp_path)
    app.press("2")
    assert "[calls]" in _text(app) and "no calls" in _text(app)
    app.press("v")
    rows = _screen(app)
    text = "\n".join(rows)
    assert f"Queues for {dt.date.today().isoformat()} (today, so far): 2 intervals" in text
    sales = next(r for r in rows if r.startswith("sales ") and "%" in r and "#" not in r)
    assert sales.split() == ["sales", "7", "5", "1", "0", "0", "83%", "0:04", "0:30"]
    answered = next(r for r in rows if r.startswith("sales ") and "#" in r and "%" not in r)
    assert answered.count("#") == 60
    level = next(r for r in rows if r.startswith("sales ") and "83%" in r and "#" in r)
    assert level.count("#") == 50  # 83 % of 60 columns
    hour = next(r for r in rows if r.startswith(dt.datetime.fromtimestamp(daemon.t0).strftime("%H:00")))
    assert hour.split()[1] == "8" and hour.count("-") == 8 and hour.count("#") == 38  # 5 answered, 1 lost of 8
    app.press("v")
    rows = _screen(app)
    agent = next(r for r in rows if r.startswith("1001 ") and "%" in r and "#" not in r)
    assert agent.split()[:4] == ["1001", "王芳", "3", "1"]  # answered, missed
    assert "pause time by reason code: 1 7:10" in "\n".join(rows)
    bars = [r for r in rows if "#" in r and "%" not in r]
    assert bars[0].count("#") == 58 and bars[1].count("#") == 39  # 3 and 2 answered

    app.press("[")  # yesterday: nothing
    assert "(no agent statistics for this day)" in _text(app)
    since = [a["since"] for op, a in daemon.calls if op == "acd.intervals"][-1]
    assert since == dt.datetime.combine(dt.date.today() - dt.timedelta(days=1), dt.time()).timestamp()
    app.press("g")
    _type(app, "2026-02-30")
    app.press("enter")
    assert "'2026-02-30' is not a date" in _note(app)
    app.press("esc")
    app.press("g")
    _type(app, "2025-10-01")
    app.press("enter")
    assert "Agents for 2025-10-01: 0 intervals" in _text(app)
    app.press("t")
    assert f"Agents for {dt.date.today().isoformat()} (today" in _text(app)


def test_report_sums_intervals_for_a_chosen_day() -> None:
    recs = [{"start": 0, "queues": {"q": {"offered": 2, "answered": 2, "answered_in_sl": 1, "abandoned": 0,
                                          "overflowed": 0, "wait_answered_s": 30, "longest_wait_s": 20}}},
            {"start": 900, "queues": {"q": {"offered": 3, "answered": 1, "answered_in_sl": 1, "abandoned": 1,
                                            "overflowed": 1, "wait_answered_s": 5, "longest_wait_s": 40}}}]
    q = acd_views.sum_queues(recs)["q"]
    assert (q["offered"], q["answered"], q["service_level"], q["avg_wait_s"], q["longest_wait_s"]) == (
        5, 3, 40.0, pytest.approx(35 / 3), 40)
    lines = acd_views.queue_report(dt.date(2026, 1, 2), recs, dt.date(2026, 1, 3))
    assert lines[0] == "Queues for 2026-01-02: 2 intervals" and all(width(ln) <= 80 for ln in lines)


def test_acd_form_edits_agents_and_queues_through_the_daemon(tmp_path: Path) -> None:
    app, daemon = _app(tmp_path)
    app.press("5")
    rows = _screen(app)
    assert "5:ACD*" in rows[0] and rows[2].startswith(">") and "utc_offset_min" in rows[2]
    assert any("1002" in r and "李明" in r and "tickets=8" in r for r in rows)
    assert any(r.startswith("    service") and "ring_all" in r and "queue:sales" in r for r in rows)
    app.press("tab")  # to the agents
    assert next(r for r in _screen(app) if r.startswith(">")).split()[1] == "1001"

    # an agent's form: rename, the PIN shown as stars and typed fresh
    app.press("enter")
    rows = _screen(app)
    assert rows[1].startswith("Agent 1001 王芳") and any(r.split()[-2:] == ["pin", "****"] for r in rows)
    _focus_on(app, "name")
    app.press("enter")
    for _ in range(4):
        app.press("backspace")
    _type(app, "Wang Fang")
    app.press("enter")
    assert daemon.sets("config.set")[-1]["changes"] == [{"key": "agent[1001].name", "value": "Wang Fang"}]
    assert "saved agent[1001].name" in _note(app) and 'name = "Wang Fang"' in daemon.config_text
    _focus_on(app, "pin")
    app.press("enter")
    _type(app, "5817")  # a new PIN is typed unseen, like at login
    assert any(r.startswith("agent 1001 pin: ****") for r in _screen(app)) and "5817" not in "".join(_screen(app))
    app.press("enter")
    assert daemon.sets("config.set")[-1]["changes"] == [{"key": "agent[1001].pin", "value": "5817"}]
    _focus_on(app, "skills")
    app.press("enter")
    _type(app, "mandarin=5 japan=12")
    app.press("enter")  # the daemon refuses: its message names file, line and key; the edit stays open
    screen = _screen(app)
    assert f"{daemon.config_path}:" in _note(app) and "agent[0].skills.japan: must be a level 1..10" in _note(app)
    assert any(r.startswith("agent 1001 skills: mandarin=5 japan=12") for r in screen)
    for _ in range(2):
        app.press("backspace")
    _type(app, "9")
    app.press("enter")
    assert "skills = { mandarin = 5, japan = 9 }" in daemon.config_text
    app.press("esc")  # back to the list, on the agent
    assert next(r for r in _screen(app) if r.startswith(">")).split()[1] == "1001"

    # a queue's strategy: the daemon checks it against its own list (file, line, key and the choices named)
    _focus_on(app, "sales        longest_idle")
    app.press("enter")
    _focus_on(app, "strategy")
    app.press("enter")
    for _ in range(12):
        app.press("backspace")
    _type(app, "fastest")
    before = daemon.config_text
    app.press("enter")
    assert f"{daemon.config_path}:" in _note(app) and "queue[0].strategy: must be one of ring_all, round_robin" in _note(app)
    assert "not 'fastest'" in _note(app) and daemon.config_text == before  # refused: nothing written
    assert any(r.startswith("queue sales strategy: fastest") for r in _screen(app))  # the edit stays open
    for _ in range(7):
        app.press("backspace")
    _type(app, "fewest_calls")
    app.press("enter")
    assert daemon.sets("config.set")[-1]["changes"] == [{"key": "queue[sales].strategy", "value": "fewest_calls"}]
    assert any("rules" in r and "sticky(timeout_s=30); vip" in r for r in _screen(app))
    _focus_on(app, "ring_timeout_s")
    app.press("enter")
    for _ in range(4):
        app.press("backspace")
    _type(app, "1")
    app.press("enter")
    assert "queue[0].ring_timeout_s: must be at least 2" in _note(app)
    app.press("esc")
    app.press("esc")

    # add an agent (its form opens), then delete it again
    _focus_on(app, "1003   Zhang")
    app.press("a")
    _type(app, "1009")
    app.press("enter")
    assert daemon.sets("config.set")[-1]["changes"] == [{"key": "agent[1009]", "value": {}}]
    assert _screen(app)[1].startswith("Agent 1009") and 'id = "1009"' in daemon.config_text
    app.press("esc")
    _focus_on(app, "1009")
    app.press("d")
    _type(app, "y")
    app.press("enter")
    assert 'id = "1009"' not in daemon.config_text and "deleted agent[1009]" in _note(app)
    _focus_on(app, "service      ring_all")
    app.press("d")
    app.press("enter")  # anything but y: kept
    assert "not deleted" in _note(app) and 'name = "service"' in daemon.config_text


def test_report_follows_the_statistics_pages(tmp_path: Path) -> None:
    """The daemon sends ``acd.intervals`` a page at a time (the fake: a row a page): the report counts
    every stored interval of the day, not the first page's."""
    app, daemon = _app(tmp_path)
    first = daemon.intervals[0]
    daemon.intervals.append({**first, "start": first["start"] + 3600, "end": first["end"] + 3600})
    app.press("2")
    app.press("v")
    assert f"Queues for {dt.date.today().isoformat()} (today, so far): 3 intervals" in _text(app)
