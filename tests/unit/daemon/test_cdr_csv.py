"""CDR CSV export: Excel-friendly UTF-8 with BOM, Chinese names intact, fixed columns."""

import csv
import io

from daemon.cdr_csv import COLUMNS, cdrs_to_csv


def test_csv_has_bom_header_and_round_trips_chinese_names() -> None:
    rows = [{"id": "1-1", "direction": "inbound", "caller": "13800138000", "caller_name": "张三", "dst": "8001",
             "start": 1795425394.0, "answer": None, "end": 1795425400.5, "duration": 6.5, "cause": 16,
             "disposition": "NO ANSWER"}]
    data = cdrs_to_csv(rows)
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(table[0]) == COLUMNS
    row = dict(zip(COLUMNS, table[1], strict=True))
    assert row["caller_name"] == "张三" and row["answer"] == "" and row["cause"] == "16"
    assert row["start"].count(":") == 2 and row["start"][:4] == "2026"


def test_continuation_pages_have_no_bom_or_header() -> None:
    data = cdrs_to_csv([{"id": "x"}], header=False)
    assert not data.startswith(b"\xef\xbb\xbf") and data.decode().startswith("x,")
