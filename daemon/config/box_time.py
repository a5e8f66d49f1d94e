"""The box's one time zone: ``[acd] utc_offset_min`` (minutes east of UTC, default 480 = China
Standard Time) is the zone of the ACD's "today" and intervals, of CDR times shown by the CLI and the
TUI (its reports' days and hours), of the CSV export, of the date and time read out before a
voicemail message, and of ``status`` (``utc_offset_min``, for clients that show times), whatever zone
the host's clock is set to. (An IVR flow's opening hours keep their own ``schedule.timezone``.) Times are stored as epoch seconds; only their text uses the zone.
"""

from __future__ import annotations

import datetime as dt

DEFAULT_OFFSET_MIN = 480


def zone(utc_offset_min: int) -> dt.timezone:
    return dt.timezone(dt.timedelta(minutes=utc_offset_min))


def local_text(ts: float, utc_offset_min: int, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """``ts`` (epoch seconds) as the box's local time."""
    return dt.datetime.fromtimestamp(float(ts), zone(utc_offset_min)).strftime(fmt)


def parse_local(text: str, utc_offset_min: int) -> float:
    """An ISO date or date-time (``2026-11-01``, ``2026-11-01T09:30``) in the box's zone, as epoch
    seconds (a zone written in ``text`` wins); ValueError if it is not one."""
    when = dt.datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone(utc_offset_min))
    return when.timestamp()
