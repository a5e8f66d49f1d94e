"""CDR CSV export: Excel-friendly UTF-8 with BOM, Chinese names intact, fixed columns."""

import csv
import io

from daemon.store.cdr_csv import COLUMNS, cdrs_to_csv


def test_csv_has_bom_header_and_round_trips_chinese_names() -> None:
    rows = [{"id": "1-1", "direction": "inbound", "caller": "13800138000", "caller_name": "张三", "dst": "8001",
             "called": "88001234", "dnis": "88001234", "dnis_name": "订票热线",
             "start": 1795425394.0, "answer": None, "end": 1795425400.5, "duration": 6.5, "cause": 16,
             "disposition": "NO ANSWER"}]
    data = cdrs_to_csv(rows)
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(table[0]) == COLUMNS
    row = dict(zip(COLUMNS, table[1], strict=True))
    assert row["caller_name"] == "张三" and row["answer"] == "" and row["cause"] == "16"
    assert (row["dnis"], row["dnis_name"]) == ("88001234", "订票热线")  # which of the agency's numbers was dialled
    assert row["start"].count(":") == 2 and row["start"][:4] == "2026"


def test_continuation_pages_have_no_bom_or_header() -> None:
    data = cdrs_to_csv([{"id": "x"}], header=False)
    assert not data.startswith(b"\xef\xbb\xbf") and data.decode().startswith("x,")


def _row(data: bytes) -> dict[str, str]:
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    return dict(zip(table[0], table[1], strict=True))


def test_values_a_spreadsheet_reads_plainly() -> None:
    row = _row(cdrs_to_csv([{"id": "1", "interrupted": False, "answer": None, "queue": "domestic", "agent": "1001",
                             "wait_s": 12.5, "ivr_flow": "travel-agency", "ivr_path": ["main", "tickets"],
                             "ivr_keys": "12", "caller": "+8613800138000", "caller_name": "=HYPERLINK(\"x\")"}]))
    assert (row["interrupted"], row["answer"]) == ("0", "")
    assert (row["queue"], row["agent"], row["wait_s"]) == ("domestic", "1001", "12.5")
    assert (row["ivr_flow"], row["ivr_path"], row["ivr_keys"]) == ("travel-agency", "main>tickets", "12")
    assert row["caller"] == "+8613800138000"  # a number stays a number
    assert row["caller_name"] == "'=HYPERLINK(\"x\")"  # a formula from the network stays text
    assert _row(cdrs_to_csv([{"id": "2", "interrupted": True}]))["interrupted"] == "1"


def test_times_are_in_the_box_zone_not_the_hosts() -> None:
    ts = 1795425394.0  # 2026-11-23 09:16:34 UTC
    assert _row(cdrs_to_csv([{"id": "1", "start": ts}]))["start"] == "2026-11-23 17:16:34"  # default UTC+8
    assert _row(cdrs_to_csv([{"id": "1", "start": ts}], utc_offset_min=-300))["start"] == "2026-11-23 04:16:34"
