"""The configuration screen's rows and value parsing, and the diagnostics screen's live line of digits
and caller IDs: plain text, 80 columns, ASCII-safe."""

import tomllib

import pytest

from mgmt_tui import views
from mgmt_tui.text import ascii_only, width
from tests.support.processes import default_config_text

DATA = tomllib.loads(default_config_text())


def test_config_rows_list_extensions_lines_dialplan_and_recording() -> None:
    rows = views.config_rows(DATA)
    fields = {f.key: (text, f) for text, f in rows if f is not None}
    text, f = fields["extension[8001].name"]
    assert text.split()[:3] == ["8001", "2/1", "前台"] and f.value == "前台"
    text, f = fields["line[1/1].destination"]
    assert f.kind is list and f.value[:2] == ["8001", "8002"] and "8001,8002,8003" in text
    assert fields["line[1/4].name"][1].value == "PSTN-4"
    assert fields["dialplan.no_answer_timeout_s"][1].value == 30
    assert fields["dialplan.busy_tone_s"][0].strip() == "busy_tone_s              (default)"
    assert fields["recording.mode"][1].value == "all"
    assert fields["line[1/1].ivr"][1].value is None and "IVR flow" in fields["line[1/1].ivr"][0]
    assert len(fields) == 8 + 4 * 3 + 5 + 1
    assert all(width(t) <= 80 for t, _ in rows) and all(ascii_only(t).isascii() for t, _ in rows)


def test_parse_value_by_kind() -> None:
    dest = views.Field("line[1/1].destination", "dest", ["8001"], list)
    assert views.parse_value(dest, " 8001, 8002 8003") == ["8001", "8002", "8003"]
    timeout = views.Field("dialplan.no_answer_timeout_s", "timeout", 30, float)
    assert views.parse_value(timeout, "12") == 12 and views.parse_value(timeout, "2.5") == 2.5
    for bad in ("abc", "inf", "nan", ""):
        with pytest.raises(ValueError, match="is not a number"):
            views.parse_value(timeout, bad)
    assert views.parse_value(views.Field("extension[8001].name", "name", "x"), " 王 小明 ") == "王 小明"


def test_heard_line_shows_digits_by_port_and_caller_ids() -> None:
    events = [{"kind": "diag.dtmf", "port": "2/1", "digit": "8"}, {"kind": "diag.dtmf", "port": "2/1", "digit": "0"},
              {"kind": "diag.callerid", "port": "1/4", "number": "13912345678", "name": "ZHANG"},
              {"kind": "diag.dtmf", "port": "2/2", "digit": "#"}]
    assert views.heard_lines(events) == ["DTMF heard: 8@2/1 0 #@2/2", "Caller ID:  1/4 13912345678 ZHANG"]
    assert views.heard_lines([]) == ["DTMF heard: (none yet)", "Caller ID:  (none yet)"]
    lines = views.diagnostics([], [], {"events": events * 40})
    assert lines[0].startswith("DTMF heard:") and all(width(ln) <= 80 for ln in lines)
