"""The demo's live view: one line per step of a call from the API's events (keys pressed on the line
of the caller, queue, announcement, the agent who answers), CDR rows and the whole screen in 80x24,
on a UTF-8 terminal and on a VT100 (pinyin, columns measured on what is drawn)."""

from __future__ import annotations

import datetime as dt

from daemon.config.box_time import local_text, zone
from mgmt_tui.live import Activity, cdr_rows, screen
from mgmt_tui.text import width

CDRS = [{"end": 1796650800.0, "caller": "13800138000", "trunk": "PSTN-1", "ivr_keys": "11", "queue": "domestic",
         "agent": "1001", "wait_s": 12.4, "duration": 95.2, "disposition": "ANSWERED", "cause": 16},
        {"end": 1796650700.0, "caller": "15912345678901234", "trunk": "PSTN-2", "ivr_keys": "2", "queue": "complaints",
         "agent": None, "wait_s": 3600.0, "duration": 4000.0, "disposition": "INTERRUPTED", "cause": 102},
        {"end": 1796650600.0, "caller": None, "src": "8001", "trunk": None, "duration": 3.0,
         "disposition": "NO ANSWER", "cause": 19}]
EVENTS = [
    {"kind": "agent.state", "agent": "1001", "old": "logged_out", "state": "idle", "extension": "8002"},
    {"kind": "call.offered", "call": "c1", "port": "1/1", "caller": "13800138000", "line": "PSTN-1"},
    {"kind": "diag.dtmf", "port": "1/1", "digit": "1"},
    {"kind": "diag.dtmf", "port": "2/5", "digit": "9"},  # an extension dialling: not a caller's key
    {"kind": "diag.dtmf", "port": "1/1", "digit": "1"},
    {"kind": "call.queued", "call": "c1", "queue": "domestic", "caller": "13800138000", "position": 1},
    {"kind": "call.announce", "call": "c1", "queue": "domestic", "position": 1, "ewt_s": 75},
    {"kind": "call.ringing", "call": "c1", "port": "2/2", "extension": "8002", "agent": "1001"},
    {"kind": "call.connected", "call": "c1", "queue": "domestic", "extension": "8002", "agent": "1001", "wait_s": 12.4},
    {"kind": "call.ended", "call": "c1", "queue": "domestic", "agent": "1001", "talk_s": 30},  # the ACD's: no line
    {"kind": "call.ended", "call": "c1", "cdr": CDRS[0]},
    {"kind": "diag.dtmf", "port": "1/1", "digit": "5"},  # the line is free again: nobody's key
]


def test_a_callers_way_one_line_a_step() -> None:
    activity = Activity(agents={"1001": "王芳"}, zone=zone(480))
    for ev in EVENTS:
        activity.feed(ev, when=1796650800.0)
    assert {line.split(" ", 1)[0] for line in activity.lines} == {local_text(1796650800.0, 480, "%H:%M:%S")}
    steps = [line.split(" ", 1)[1] for line in activity.lines]
    assert steps == [
        "agent 1001 王芳 logged in at 8002",
        "13800138000 rings in on PSTN-1",
        "13800138000 presses 1 in the IVR menu",
        "13800138000 presses 1 in the IVR menu",
        "13800138000 waits in queue domestic (position 1), music on",
        "13800138000 hears: position 1, about 1 min wait",
        "agent 1001 王芳's phone 8002 rings for 13800138000",
        "13800138000 answered by agent 1001 王芳 after 0:12 in domestic",
        "13800138000 call ended (normal), 1:35 in all",
    ]
    assert activity.counts == {"offered": 1, "keys": 2, "queued": 1, "announced": 1, "answered": 1, "abandoned": 0,
                               "ended": 1}


def test_cdr_rows_fit_80_columns() -> None:
    rows = cdr_rows(CDRS, dt.timezone(dt.timedelta(minutes=-300)))  # the box's zone, not the host's
    assert len(rows) == 4 and all(width(r) <= 80 for r in rows), "\n".join(rows)
    assert rows[1].startswith(local_text(CDRS[0]["end"], -300, "%H:%M:%S") + " ")
    assert rows[1].split()[1:] == ["13800138000", "PSTN-1", "11", "domestic", "1001", "0:12", "1:35", "answered",
                                   "16"]
    assert "1h06" in rows[2] and "interrupted 102" in rows[2] and "1591234567~" in rows[2]
    assert rows[3].split()[1:3] == ["-", "8001"] and "no answer 19" in rows[3]


def test_the_screen_is_80x24_on_utf8_and_on_a_vt100() -> None:
    activity = Activity(agents={"1001": "王芳"})
    for ev in EVENTS * 3:
        activity.feed(ev, when=1796650800.0)
    snapshot = {"queues": {"domestic": {"waiting": 1, "callbacks": 0, "longest_wait_s": 12, "staffed": 1, "idle": 0,
                                        "calls": [{"caller": "13800138000", "wait_s": 12, "ringing": ["8002"]}]}},
                "agents": [{"id": "1001", "name": "王芳", "state": "busy", "extension": "8002",
                            "since": 1796650790.0},
                           {"id": "1002", "name": "李娜", "state": "idle", "extension": "8003",
                            "since": 1796650700.0}]}
    status = {"name": "示例旅行社 呼叫中心", "active_calls": 2, "cdrs": 3, "utc_offset_min": 480}
    for ascii_mode in (False, True):
        lines = screen("示例旅行社 呼叫中心", status, snapshot, activity, CDRS, 1796650800.0,
                       "IVR keys: 1 routes, 2 booking", ascii_mode)
        text = "\n".join(lines)
        assert len(lines) == 24 and all(width(ln) <= 80 for ln in lines), text
        assert "answered by agent 1001" in text and lines[-1].split()[1] == "-"  # the oldest CDR at the bottom
        assert f"  {local_text(1796650800.0, 480, '%H:%M:%S')}  calls 2" in lines[0]
        if ascii_mode:
            assert text.isascii() and "??" not in text and lines[0].endswith("  calls 2  CDRs 3  Ctrl-C stops")
            assert lines[0].startswith("ShiLiLvXingShe HuJiaoZhongXin  ")
            assert "1001 WangFang BUSY  8002" in text
