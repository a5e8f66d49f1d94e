"""CDRs as CSV for spreadsheets: UTF-8 with a byte-order mark so Excel shows Chinese names, times as
text in the box's zone (``daemon.config.box_time``), one row per call, the columns in a fixed documented
order (docs/api.md). Values a spreadsheet reads plainly: a yes/no field is ``1`` or ``0``, a missing
one an empty cell, the IVR's path its nodes joined by ``>``; a text cell that a spreadsheet would run
as a formula (a caller name starting with ``=``, ``+``, ``-`` or ``@``) gets a leading ``'``."""

from __future__ import annotations

import csv
import io
import re

from daemon.config.box_time import DEFAULT_OFFSET_MIN, local_text

COLUMNS = ("id", "direction", "caller", "caller_name", "called", "dnis", "dnis_name", "src", "src_port", "dst",
           "dst_port", "trunk",
           "start", "answer", "end", "duration", "billsec", "cause", "disposition", "interrupted",
           "queue", "agent", "wait_s", "ivr_flow", "ivr_path", "ivr_keys",
           "dialled", "number_class", "paid_by", "denied", "answer_by", "answer_reason")
TIME_COLUMNS = ("start", "answer", "end")
BOM = "\ufeff"
_FORMULA = re.compile(r"^[=+\-@\t\r]")
_NUMBER = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")


def _cell(col: str, value: object, utc_offset_min: int) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return 1 if value else 0
    if col in TIME_COLUMNS:
        return local_text(float(value), utc_offset_min)  # type: ignore[arg-type]
    if isinstance(value, list | tuple):
        value = ">".join(str(v) for v in value)
    if isinstance(value, str) and _FORMULA.match(value) and not _NUMBER.match(value):
        return "'" + value
    return value


def cdrs_to_csv(rows: list[dict], header: bool = True, utc_offset_min: int = DEFAULT_OFFSET_MIN) -> bytes:
    """``rows`` as CSV bytes (UTF-8; with the BOM and the header line when ``header``), times in the
    zone ``utc_offset_min`` minutes east of UTC (the box's)."""
    buf = io.StringIO()
    if header:
        buf.write(BOM)
    w = csv.writer(buf, lineterminator="\r\n")
    if header:
        w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_cell(c, r.get(c), utc_offset_min) for c in COLUMNS])
    return buf.getvalue().encode("utf-8")
