"""The ACD on the TUI, as plain lines of text: the dashboard's queue and agent panels (from
``acd.snapshot``) and the report's queue and agent statistics for a day (from ``acd.intervals``, and
for today the snapshot's running totals) with text bar charts. 80 columns, no urwid here."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from mgmt_tui.text import bar, cell, drawn, width

COLS = 80

QUEUE_KEYS = ("offered", "answered", "answered_in_sl", "abandoned", "short_abandoned", "overflowed",
              "wait_answered_s")
AGENT_KEYS = ("answered", "missed", "talk_s", "wrap_s", "idle_s", "reserved_s")
STATE_SHORT = {"logged_out": "out", "idle": "idle", "reserved": "RING", "busy": "BUSY", "wrap_up": "wrap",
               "paused": "pause"}


def mmss(seconds: float | None) -> str:
    """``65`` -> ``"1:05"``; an hour or more -> ``"1h05"``."""
    if seconds is None:
        return "-"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def state_label(agent: dict) -> str:
    """An agent's state from ``acd.snapshot`` in a few columns: ``idle``, ``RING``, ``p:1`` (paused,
    reason code 1)."""
    state = agent.get("state", "?")
    if state == "paused" and agent.get("pause_reason"):
        return f"p:{agent['pause_reason']}"
    return STATE_SHORT.get(state, state)


def _ago(seconds: float) -> str:
    """Time in a state in three columns: ``7m``, ``2h``."""
    s = max(0, int(seconds))
    return f"{s // 60}m" if s < 3600 else f"{min(s // 3600, 99)}h"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}%"


# --- dashboard -----------------------------------------------------------------------------------

def acd_panel(snapshot: dict | None, now: float, note: str = "") -> list[str]:
    """Queues (waiting, callbacks, longest wait, staffed/idle agents, today's counts and service level),
    the callers waiting, and every agent's state, compactly (three agents a line, two when the names
    as drawn are long)."""
    if snapshot is None:
        return [f"ACD: {note or 'not available'}"]
    queues: dict = snapshot.get("queues") or {}
    agents: list = snapshot.get("agents") or []
    today = ((snapshot.get("stats") or {}).get("today") or {}).get("queues") or {}
    if not queues and not agents:
        return ["ACD: no queues or agents configured"]
    lines = [f"{cell('queue', 12)} {cell('wait', 4, True)} {cell('cb', 3, True)} {cell('longest', 7, True)} "
             f"{cell('staff', 5, True)} {cell('idle', 4, True)} | today {cell('offer', 5, True)} "
             f"{cell('answ', 5, True)} {cell('aband', 5, True)} {cell('SL', 4, True)}"]
    waiting_lines = []
    for name, q in queues.items():
        t = today.get(name) or {}
        lines.append(f"{cell(name, 12)} {cell(q.get('waiting', 0), 4, True)} {cell(q.get('callbacks', 0), 3, True)} "
                     f"{cell(mmss(q.get('longest_wait_s')) if q.get('waiting') else '-', 7, True)} "
                     f"{cell(q.get('staffed', 0), 5, True)} {cell(q.get('idle', 0), 4, True)} |       "
                     f"{cell(t.get('offered', 0), 5, True)} {cell(t.get('answered', 0), 5, True)} "
                     f"{cell(t.get('abandoned', 0), 5, True)} {cell(_pct(t.get('service_level')), 4, True)}")
        calls = q.get("calls") or []
        if calls:
            shown = []
            for c in calls:
                who = c.get("caller") or "?"
                extra = f" ring {','.join(c['ringing'])}" if c.get("ringing") else (
                    " cb" if c.get("kind") == "callback" else "")
                shown.append(f"{who} {mmss(c.get('wait_s'))}{extra}")
            waiting_lines.append(cell(f"  {name} waiting: " + ", ".join(shown), 79).rstrip())
    lines += waiting_lines
    by_state: dict[str, int] = defaultdict(int)
    for a in agents:
        by_state[a.get("state", "?")] += 1
    summary = ", ".join(f"{n} {STATE_SHORT.get(s, s)}" for s, n in sorted(by_state.items()))
    lines.append(f"agents ({len(agents)}): {summary}" if agents else "agents: none configured")
    # the name column as wide as the longest name as drawn (pinyin on a VT100 is wider than Chinese),
    # up to 12 columns; as many agents a line as then fit
    name_cols = min(12, max([width(drawn(str(a.get("name") or "-"))) for a in agents] + [6])) + 1
    per_line = max(1, (COLS + 1) // (5 + name_cols + 6 + 5 + 3 + 1))
    row: list[str] = []
    for a in agents:
        state = a.get("state", "?")
        label = state_label(a)
        since = _ago(now - a["since"]) if a.get("since") and state != "logged_out" else ""
        ext = a.get("extension") if state != "logged_out" else None
        row.append(f"{cell(a.get('id'), 5)}{cell(a.get('name'), name_cols)}{cell(label, 6)}"
                   f"{cell(ext or ' ', 5)}{cell(since or ' ', 3, True)}")
        if len(row) == per_line:
            lines.append(" ".join(row).rstrip())
            row = []
    if row:
        lines.append(" ".join(row).rstrip())
    return lines


# --- reports -------------------------------------------------------------------------------------

def sum_queues(records: list[dict]) -> dict[str, dict]:
    """Per-queue totals over interval records (the service level and waits worked out again)."""
    out: dict[str, dict] = {}
    for rec in records:
        for name, q in (rec.get("queues") or {}).items():
            t = out.setdefault(name, {k: 0 for k in QUEUE_KEYS} | {"longest_wait_s": 0.0})
            for k in QUEUE_KEYS:
                t[k] += q.get(k) or 0
            t["longest_wait_s"] = max(t["longest_wait_s"], q.get("longest_wait_s") or 0.0)
    for t in out.values():
        handled = t["answered"] + t["abandoned"] + t["overflowed"]
        t["service_level"] = None if handled == 0 else round(100.0 * t["answered_in_sl"] / handled, 2)
        t["avg_wait_s"] = None if t["answered"] == 0 else t["wait_answered_s"] / t["answered"]
    return out


def sum_agents(records: list[dict]) -> dict[str, dict]:
    """Per-agent totals over interval records (pause time by reason; occupancy worked out again)."""
    out: dict[str, dict] = {}
    for rec in records:
        for aid, a in (rec.get("agents") or {}).items():
            t = out.setdefault(aid, {k: 0 for k in AGENT_KEYS} | {"pause_s": {}})
            for k in AGENT_KEYS:
                t[k] += a.get(k) or 0
            for reason, s in (a.get("pause_s") or {}).items():
                t["pause_s"][reason] = t["pause_s"].get(reason, 0.0) + s
    for t in out.values():
        staffed = t["talk_s"] + t["wrap_s"] + t["idle_s"] + t["reserved_s"]
        t["occupancy"] = None if staffed <= 0 else (t["talk_s"] + t["wrap_s"]) / staffed
    return out


def day_records(intervals: list[dict], snapshot: dict | None, day: dt.date, today: dt.date) -> list[dict]:
    """The day's closed intervals; for today also the interval in progress (from the snapshot)."""
    records = list(intervals)
    if day == today and snapshot is not None:
        current = (snapshot.get("stats") or {}).get("interval")
        if current and not any(r.get("start") == current.get("start") for r in records):
            records.append(current)
    return records


def _title(what: str, day: dt.date, today: dt.date, records: list[dict]) -> str:
    when = f"{day.isoformat()}{' (today, so far)' if day == today else ''}"
    return f"{what} for {when}: {len(records)} intervals"


def _bar_charts(rows: list[tuple[str, int, float | None]], titles: tuple[str, str], num: int, width: int) -> list[str]:
    """The two charts under a report's table, one line per (label, answered calls, a percentage) row:
    answered calls (scaled to the most) and the percentage (of 100); ``num`` columns for the figure,
    ``width`` for the bar."""
    top = max(answered for _, answered, _ in rows)
    return ["", titles[0], *(f"{label} {answered:{num}} {bar(answered, top, width)}" for label, answered, _ in rows),
            "", titles[1], *(f"{label} {cell(_pct(pct), num, True)} {bar(pct or 0, 100, width)}"
                             for label, _, pct in rows)]


def queue_report(day: dt.date, records: list[dict], today: dt.date, zone: dt.tzinfo | None = None) -> list[str]:
    """Each queue's day: offered, answered, abandoned, overflowed, service level and waits; a bar chart
    of answered calls per queue, and calls offered per hour (``#`` answered, ``-`` lost)."""
    lines = [_title("Queues", day, today, records), ""]
    totals = sum_queues(records)
    if not totals:
        return [*lines, "(no queue statistics for this day)"]
    lines.append(f"{cell('queue', 12)} {cell('offer', 5, True)} {cell('answ', 5, True)} {cell('aband', 5, True)} "
                 f"{cell('short', 5, True)} {cell('overf', 5, True)} {cell('SL', 5, True)} "
                 f"{cell('avg wait', 8, True)} {cell('longest', 8, True)}")
    for name, t in totals.items():
        lines.append(f"{cell(name, 12)} {cell(t['offered'], 5, True)} {cell(t['answered'], 5, True)} "
                     f"{cell(t['abandoned'], 5, True)} {cell(t['short_abandoned'], 5, True)} "
                     f"{cell(t['overflowed'], 5, True)} {cell(_pct(t['service_level']), 5, True)} "
                     f"{cell(mmss(t['avg_wait_s']), 8, True)} {cell(mmss(t['longest_wait_s']), 8, True)}")
    lines += _bar_charts([(cell(name, 12), t["answered"], t["service_level"]) for name, t in totals.items()],
                         ("answered calls by queue", "service level by queue (answered in time, % of handled)"), 5, 60)
    hours: dict[int, list[int]] = {}
    for rec in records:
        if rec.get("start") is None:
            continue
        h = dt.datetime.fromtimestamp(rec["start"], zone).hour  # the box's hours (``views.box_zone``)
        acc = hours.setdefault(h, [0, 0, 0])
        for q in (rec.get("queues") or {}).values():
            acc[0] += q.get("offered") or 0
            acc[1] += q.get("answered") or 0
            acc[2] += (q.get("abandoned") or 0) + (q.get("overflowed") or 0)
    busy = {h: v for h, v in hours.items() if any(v)}
    if busy:
        lines += ["", "calls offered per hour (# answered, - abandoned or overflowed)"]
        top = max(max(v[0], v[1] + v[2]) for v in busy.values())
        for h in range(min(busy), max(busy) + 1):
            off, ans, lost = hours.get(h, [0, 0, 0])
            chart = bar(ans, top, 60) + bar(lost, top, 60, "-")
            lines.append(f"{h:02d}:00 {off:4} {chart[:60]}")
    return lines


def agent_report(day: dt.date, records: list[dict], names: dict[str, str], today: dt.date) -> list[str]:
    """Each agent's day: answered, missed, talk (and average), wrap-up, pause, occupancy; bar charts
    of answered calls and of occupancy."""
    lines = [_title("Agents", day, today, records), ""]
    totals = sum_agents(records)
    if not totals:
        return [*lines, "(no agent statistics for this day)"]
    lines.append(f"{cell('agent', 5)} {cell('name', 8)} {cell('answ', 4, True)} {cell('miss', 4, True)} "
                 f"{cell('talk', 6, True)} {cell('avg', 5, True)} {cell('wrap', 5, True)} {cell('idle', 6, True)} "
                 f"{cell('pause', 6, True)} {cell('occ', 4, True)}")
    charts = []
    for aid, t in totals.items():
        who = f"{cell(aid, 5)} {cell(names.get(aid), 8)}"
        pause = sum(t["pause_s"].values())
        avg = t["talk_s"] / t["answered"] if t["answered"] else None
        occ = None if t["occupancy"] is None else 100 * t["occupancy"]
        lines.append(f"{who} {cell(t['answered'], 4, True)} "
                     f"{cell(t['missed'], 4, True)} {cell(mmss(t['talk_s']), 6, True)} {cell(mmss(avg), 5, True)} "
                     f"{cell(mmss(t['wrap_s']), 5, True)} {cell(mmss(t['idle_s']), 6, True)} "
                     f"{cell(mmss(pause), 6, True)} {cell(_pct(occ), 4, True)}")
        charts.append((who, t["answered"], occ))
    lines += _bar_charts(charts, ("answered calls by agent", "occupancy by agent ((talk + wrap-up) / staffed time)"),
                         4, 58)
    pauses = {r for t in totals.values() for r in t["pause_s"]}
    if pauses:
        lines += ["", "pause time by reason code: " + ", ".join(
            f"{r} {mmss(sum(t['pause_s'].get(r, 0) for t in totals.values()))}" for r in sorted(pauses))]
    return lines
