"""TUI screens as text: the dashboard, a day's report with bar charts, the diagnostics CAS view;
Chinese names keep the columns aligned, and the ASCII fallback never emits non-ASCII."""

import datetime as dt

from mgmt_tui import views
from mgmt_tui.text import ascii_only, bar, cell, width

STATUS = {"name": "示例旅行社 呼叫中心", "uptime": 12.0, "board": True, "active_calls": 1, "cdrs": 7,
          "tick_cost_max_ms": 0.8, "alarms": {"3": ["LOS"]}}
SPANS = [{"id": 1, "kind": "fxo", "signalling": None, "ports": 2, "alarms": []},
         {"id": 3, "kind": "e1", "signalling": "cas", "ports": 30, "alarms": ["LOS"]}]
PORTS = [{"port": "1/1", "kind": "fxo", "line": "PSTN-1", "state": "connected", "call": "c1"},
         {"port": "2/1", "kind": "fxs", "extension": "8001", "state": "connected", "call": "c1"},
         {"port": "3/1", "kind": "e1", "cas_rx": 0b1011, "cas_tx": 0b0011},
         {"port": "3/2", "kind": "e1", "cas_rx": None, "cas_tx": None}]
CALLS = [{"id": "c1", "direction": "inbound", "caller": "13800138000", "called": None, "src_port": "1/1",
          "dst_port": "2/1", "answer": 1795425394.0}]


def test_cell_counts_wide_characters_twice() -> None:
    assert width("呼叫中心") == 8 and width(cell("呼叫中心ABC", 6)) == 6 and cell("呼叫中心", 6) == "呼叫~ "
    assert cell(None, 3) == "-  " and cell(5, 4, right=True) == "   5"
    assert bar(5, 10, 20) == "#" * 10 and bar(0, 10, 20) == "" and bar(1, 1000, 20) == "#"


def test_dashboard_fits_80_columns_and_shows_everything() -> None:
    lines = views.dashboard(STATUS, SPANS, PORTS, CALLS)
    text = "\n".join(lines)
    assert "board UP" in text and "span 3: LOS" in text and "3:e1/cas!LOS" in text
    assert any("1/1" in ln and "PSTN-1" in ln and "connected" in ln for ln in lines)
    assert "E1 timeslots: 2 (0 in calls)" in text
    assert any("13800138000" in ln and "1/1>2/1" in ln for ln in lines)
    assert all(width(ln) <= 80 for ln in lines)
    assert all(ascii_only(ln).isascii() for ln in lines)


def test_dashboard_shows_the_store_and_recorder_alarms() -> None:
    quiet = views.dashboard(STATUS, SPANS, PORTS, CALLS)
    assert not any(ln.startswith("ALARMS") for ln in quiet)
    status = dict(STATUS, store_alarms={"CDR_STORE": "4 CDRs wait for the store: ..."}, cdrs_held=4,
                  recorder_alarms={"recorder.index_error": "index writes fail: ...", "recorder.disk_full": "..."})
    lines = views.dashboard(status, SPANS, PORTS, CALLS)
    assert "ALARMS CDR_STORE: 4 CDRs held  index_error  disk_full" in lines
    assert len(lines) == len(quiet) + 1 and all(width(ln) <= 80 for ln in lines)
    status = dict(STATUS, circuit_alarms={"3/7": "FAR_END_HELD", "3/2": "NO_SEIZE_ACK"})
    assert "ALARMS 3/2 NO_SEIZE_ACK  3/7 FAR_END_HELD" in views.dashboard(status, SPANS, PORTS, CALLS)


def test_report_counts_dispositions_and_charts_hours() -> None:
    day = dt.date(2026, 11, 23)
    t9 = dt.datetime(2026, 11, 23, 9, 10).timestamp()
    cdrs = [{"disposition": "ANSWERED", "billsec": 60, "start": t9},
            {"disposition": "ANSWERED", "billsec": 120, "start": t9 + 3600},
            {"disposition": "NO ANSWER", "billsec": 0, "start": t9 + 3600}]
    lines = views.report(day, cdrs)
    assert lines[0] == "Report for 2026-11-23: 3 calls, 2 answered (67 %)"
    assert "average 90 s" in lines[1]
    answered = next(ln for ln in lines if ln.startswith("ANSWERED"))
    no_answer = next(ln for ln in lines if ln.startswith("NO ANSWER"))
    assert answered.count("#") == 2 * no_answer.count("#")
    assert lines[-2].startswith("09:00    1") and lines[-1].startswith("10:00    2")
    assert views.report(day, [])[0].endswith("no calls")


def test_report_says_how_outbound_calls_on_analog_lines_were_decided() -> None:
    t9 = dt.datetime(2026, 11, 23, 9, 10).timestamp()
    cdrs = [{"disposition": "ANSWERED", "start": t9, "answer": t9 + 9, "answer_by": "voice", "answer_reason": "voice"},
            {"disposition": "ANSWERED", "start": t9, "answer": t9 + 7, "answer_by": "voice", "answer_reason": "voice"},
            {"disposition": "FAILED", "start": t9, "answer": None, "answer_by": "tone", "answer_reason": "sit"},
            {"disposition": "ANSWERED", "start": t9, "answer": t9 + 3}]  # a call that is not outbound on an analog line
    lines = views.report(dt.date(2026, 11, 23), cdrs)
    i = lines.index("outbound on analog lines: how each was decided")
    assert [ln.split()[:6] for ln in lines[i + 1:i + 3]] == [["answered", "by", "voice", "(voice)", "2", "#" * 33],
                                                           ["not", "answered", "by", "tone", "(sit)", "1"]]
    assert all(width(ln) <= 80 for ln in lines)
    assert "outbound on analog lines: how each was decided" not in views.report(dt.date(2026, 11, 23), cdrs[3:])


def test_report_counts_the_calls_to_each_number_dialled() -> None:
    t9 = dt.datetime(2026, 11, 23, 9, 10).timestamp()
    cdrs = [{"disposition": "ANSWERED", "start": t9, "dnis": "88001234", "dnis_name": "订票热线"},
            {"disposition": "FAILED", "start": t9, "dnis": "88009999", "dnis_name": None},
            {"disposition": "NO ANSWER", "start": t9, "dnis": "88001234", "dnis_name": "订票热线"},
            {"disposition": "ANSWERED", "start": t9}]  # an analog line's call: no DNIS
    lines = views.report(dt.date(2026, 11, 23), cdrs)
    i = lines.index(next(ln for ln in lines if ln.startswith("calls per number dialled")))
    assert lines[i + 1].split()[:4] == ["88001234", "订票热线", "2", "1"]
    assert lines[i + 2].split()[:3] == ["88009999", "1", "0"]
    assert all(width(ln) <= 80 for ln in lines)
    assert not any("DNIS" in ln for ln in views.report(dt.date(2026, 11, 23), cdrs[3:]))


def test_diagnostics_shows_cas_bits_and_alarms() -> None:
    lines = views.diagnostics(SPANS, PORTS)
    text = "\n".join(lines)
    assert "span 3: e1 cas ports 30 alarms LOS" in text
    assert "3/1 1011/0011  3/2 ----/----" in text


def test_times_and_report_hours_are_the_box_zone_not_the_hosts() -> None:
    """``status`` says the box's zone (``utc_offset_min``); the answer time (09:16:34 UTC) and a report's
    hours follow it whatever the zone of the host the TUI runs on."""
    for minutes, shown in ((480, "17:16:34"), (-300, "04:16:34")):
        lines = views.dashboard(dict(STATUS, utc_offset_min=minutes), SPANS, PORTS, CALLS)
        assert lines[-1].endswith(shown), lines[-1]
    box = views.box_zone({"utc_offset_min": 480})
    t = dt.datetime(2026, 11, 23, 1, 10, tzinfo=dt.UTC).timestamp()  # 09:10 in the box
    lines = views.report(dt.date(2026, 11, 23), [{"disposition": "ANSWERED", "billsec": 60, "start": t}], box)
    assert lines[-1].startswith("09:00    1")
    assert views.box_zone({}) is None  # a daemon that does not say: the host's zone
