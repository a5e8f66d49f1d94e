"""CDRs as CSV for spreadsheets: UTF-8 with a byte-order mark so Excel shows Chinese names, local
times as text, one row per call, the columns in a fixed documented order."""

from __future__ import annotations

import csv
import datetime as dt
import io

COLUMNS = ("id", "direction", "caller", "caller_name", "called", "src", "src_port", "dst", "dst_port", "trunk",
           "start", "answer", "end", "duration", "billsec", "cause", "disposition", "interrupted")
TIME_COLUMNS = ("start", "answer", "end")
BOM = "\ufeff"


def _cell(col: str, value: object) -> object:
    if value is None:
        return ""
    if col in TIME_COLUMNS:
        return dt.datetime.fromtimestamp(float(value)).strftime("%Y-%m-%d %H:%M:%S")
    return value


def cdrs_to_csv(rows: list[dict], header: bool = True) -> bytes:
    """``rows`` as CSV bytes (UTF-8; with the BOM and the header line when ``header``)."""
    buf = io.StringIO()
    if header:
        buf.write(BOM)
    w = csv.writer(buf, lineterminator="\r\n")
    if header:
        w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_cell(c, r.get(c)) for c in COLUMNS])
    return buf.getvalue().encode("utf-8")
