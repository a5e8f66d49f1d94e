"""The CLI's tables fit a serial console's 80 columns, whatever the values."""

from __future__ import annotations

from daemon.cli import format_calls, format_cdrs

CDRS = [
    {"end": 1796654296.5, "direction": "inbound", "caller": "13800138000", "called": None, "dnis": "88001234",
     "src": "3/1", "dst": "8001", "billsec": 40.7, "cause": 16, "disposition": "ANSWERED"},
    {"end": 1796654300.0, "direction": "outbound", "caller": "8001", "called": "00442071234567999999",
     "src": "8001", "dst": None, "billsec": 0.0, "cause": 21, "disposition": "INTERRUPTED"},
    {"end": 1796654400.0, "direction": "outbound", "caller": "8002", "called": "13912345678", "src": "8002",
     "dst": "PSTN-2", "billsec": 12.4, "cause": 16, "disposition": "ANSWERED", "answer_by": "timeout"},
]


def test_cdr_rows_fit_80_columns_and_long_values_are_cut_visibly() -> None:
    lines = format_cdrs(CDRS, zone=480).splitlines()
    assert max(len(line) for line in lines) <= 80, lines
    head, first, second, third = lines
    assert head.split() == ["end", "caller", "called", "from", "to", "bill", "cau", "disposition", "how"]
    assert first.split() == ["12-07", "22:38:16", "13800138000", "88001234", "3/1", "8001", "41", "16",
                             "ANSWERED", "-"]  # a trunk call's DNIS stands in for the number it called
    assert "00442071234~" in second and second.split()[-2:] == ["INTERRUPTED", "-"]
    assert third.split()[-4:] == ["12", "16", "ANSWERED", "time"]  # how an analog line's answer was known


def test_active_calls_fit_80_columns() -> None:
    rows = [{"id": "c-1796654296-0042", "direction": "internal", "caller": "8001", "called": "8002",
             "src_port": "2/1", "dst_port": "2/2", "answer": 1.0}]
    (line,) = format_calls(rows).splitlines()
    assert len(line) <= 80 and line.split()[-1] == "answered" and " int " in line
