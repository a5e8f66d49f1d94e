"""What each TUI screen shows, as plain lines of text built from API results (no urwid here), so the
screens are easy to test and identical on any terminal."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from mgmt_tui.text import bar, cell

COLS = 80


def box_zone(status: dict) -> dt.tzinfo | None:
    """The box's time zone as ``status`` gives it (``utc_offset_min``): every time the TUI shows, and
    the days and hours of its reports, are the box's, not those of the host the TUI runs on (None: a
    daemon that does not say; the host's zone)."""
    minutes = status.get("utc_offset_min")
    return dt.timezone(dt.timedelta(minutes=minutes)) if isinstance(minutes, int) else None


def _t(ts: float | None, fmt: str = "%H:%M:%S", zone: dt.tzinfo | None = None) -> str:
    return dt.datetime.fromtimestamp(ts, zone).strftime(fmt) if ts else "-"


def dashboard(status: dict, spans: list[dict], ports: list[dict], calls: list[dict],
              acd: list[str] | None = None) -> list[str]:
    """Box and board state, spans with alarms (and a line of the box's own: the CDR store's, the
    recorder's, a stuck E1 timeslot's), the ACD's queues and agents (``acd``: the lines of
    ``acd_views.acd_panel``), every analog port's live state (two a line) and the calls in progress."""
    alarms = "  ".join(f"span {k}: {'+'.join(v)}" for k, v in status.get("alarms", {}).items()) or "no alarms"
    lines = [
        f"{cell(status.get('name'), 40)} up {status.get('uptime', 0):.0f}s  board {'UP' if status.get('board') else 'DOWN'}",
        f"calls {status.get('active_calls', 0)}  CDRs {status.get('cdrs', 0)}  worst tick "
        f"{status.get('tick_cost_max_ms', 0)} ms  {alarms}",
        "spans: " + "  ".join(f"{s['id']}:{s['kind']}{'/' + s['signalling'] if s.get('signalling') else ''}"
                              f"{'!' + '+'.join(s['alarms']) if s.get('alarms') else ''}" for s in spans),
    ]
    box_alarms = [f"{name}: {status.get('cdrs_held', 0)} CDRs held" for name in status.get("store_alarms") or {}]
    box_alarms += [name.removeprefix("recorder.") for name in status.get("recorder_alarms") or {}]
    box_alarms += [f"{port} {alarm}" for port, alarm in sorted((status.get("circuit_alarms") or {}).items())]
    if box_alarms:  # the CDR store refusing writes, the recorder's: what an installer must see first
        lines.append(cell("ALARMS " + "  ".join(box_alarms), 80).rstrip())
    if acd:
        lines += ["", *acd]
    head = f"{cell('port', 4)} {cell('kind', 4)} {cell('who', 18)} {cell('state', 10)}"
    lines += ["", f"{head} {head}".rstrip()]
    analog = [p for p in ports if p["kind"] != "e1"]
    cells = []
    for p in analog:
        who = " ".join(str(x) for x in (p.get("extension"), p.get("name")) if x) or p.get("line") or ""
        cells.append(f"{cell(p['port'], 4)} {cell(p['kind'], 4)} {cell(who, 18)} {cell(p.get('state'), 10)}")
    for i in range(0, len(cells), 2):
        lines.append(" ".join(cells[i:i + 2]).rstrip())
    e1 = [p for p in ports if p["kind"] == "e1"]
    if e1:
        busy = sum(1 for p in e1 if p.get("call"))
        lines.append(f"E1 timeslots: {len(e1)} ({busy} in calls)")
    lines += ["", f"{cell('call', 16)} {cell('dir', 8)} {cell('caller', 13)} {cell('called', 10)} {cell('ports', 13)} "
                  "answered"]
    for c in calls:
        route = f"{c.get('src_port')}>{c.get('dst_port') or '-'}"
        lines.append(f"{cell(c.get('id'), 16)} {cell(c.get('direction'), 8)} {cell(c.get('caller'), 13)} "
                     f"{cell(c.get('called'), 10)} {cell(route, 13)} {_t(c.get('answer'), zone=box_zone(status))}")
    if not calls:
        lines.append("(no calls)")
    return lines


def report(day: dt.date, cdrs: list[dict], zone: dt.tzinfo | None = None) -> list[str]:
    """A day's calls: totals by disposition, answer rate, how outbound calls on analog lines were
    decided (``answer_by``, ``answer_reason``: many answered by timeout say a line's audio is unusual),
    the calls to each of the agency's numbers (DNIS, with its ``[[dnis]]`` name) and how many were
    answered, and calls per hour (in ``zone``, the box's) as a bar chart."""
    by_disp = Counter(c.get("disposition", "?") for c in cdrs)
    answered = by_disp.get("ANSWERED", 0)
    talk = sum(c.get("billsec") or 0 for c in cdrs)
    lines = [f"Report for {day.isoformat()}: {len(cdrs)} calls, {answered} answered"
             f" ({100 * answered / len(cdrs):.0f} %)" if cdrs else f"Report for {day.isoformat()}: no calls",
             f"talk time {talk / 60:.1f} min, average {talk / answered:.0f} s per answered call" if answered else "",
             ""]
    for disp, n in sorted(by_disp.items(), key=lambda kv: -kv[1]):
        lines.append(f"{cell(disp, 12)} {n:5} {bar(n, max(by_disp.values()), 50)}")
    by_how = Counter(("answered" if c.get("answer") else "not answered", c["answer_by"], c.get("answer_reason") or "")
                     for c in cdrs if c.get("answer_by"))
    if by_how:
        lines += ["", "outbound on analog lines: how each was decided"]
        for (result, how, why), n in sorted(by_how.items(), key=lambda kv: (kv[0][0], -kv[1])):
            lines.append(f"{cell(f'{result} by {how} ({why})', 40)} {n:5} {bar(n, max(by_how.values()), 33)}")
    by_dnis = Counter((c["dnis"], c.get("dnis_name") or "") for c in cdrs if c.get("dnis"))
    if by_dnis:
        answered_by = Counter((c["dnis"], c.get("dnis_name") or "") for c in cdrs
                              if c.get("dnis") and c.get("disposition") == "ANSWERED")
        lines += ["", "calls per number dialled (DNIS)      calls answered"]
        for key, n in sorted(by_dnis.items(), key=lambda kv: (-kv[1], kv[0])):
            label = f"{key[0]} {key[1]}".strip()
            lines.append(f"{cell(label, 34)} {n:6} {answered_by.get(key, 0):8} {bar(n, max(by_dnis.values()), 28)}")
    hours = Counter(dt.datetime.fromtimestamp(c["start"], zone).hour for c in cdrs if c.get("start"))
    if hours:
        lines += ["", "calls per hour"]
        top = max(hours.values())
        for h in range(min(hours), max(hours) + 1):
            lines.append(f"{h:02d}:00 {hours.get(h, 0):4} {bar(hours.get(h, 0), top, 60)}")
    return lines


def diagnostics(spans: list[dict], ports: list[dict], watch: dict | None = None) -> list[str]:
    """Alarms per span, the last DTMF digits and caller IDs heard (``diag.watch``), the CAS bits of
    every E1 timeslot on a CAS span (rx from the far end / tx from the box), and for an HDLC (SS7)
    span its signalling link's state instead (its timeslots carry no CAS bits)."""
    lines = []
    if watch is not None:
        lines += [*heard_lines(watch.get("events", [])), "t: ring an extension (test caller ID)", ""]
    lines.append("Spans and alarms")
    for s in spans:
        lines.append(f"  span {s['id']}: {s['kind']} {s.get('signalling') or ''} ports {s['ports']} "
                     f"alarms {'+'.join(s['alarms']) if s.get('alarms') else 'none'}")
    hdlc = {str(s["id"]): s for s in spans if s.get("signalling") == "hdlc"}
    e1 = [p for p in ports if p["kind"] == "e1"]
    for sid, s in hdlc.items():
        bearers = [p for p in e1 if _span_of(p["port"]) == sid]
        lines += ["", f"Span {sid} SS7 signalling link (HDLC on TS16)", "  " + _link_text(s.get("hdlc")),
                  f"  bearer timeslots: {len(bearers)}, {sum(1 for p in bearers if p.get('call'))} in calls"]
    cas = [p for p in e1 if _span_of(p["port"]) not in hdlc]
    if cas:
        lines += ["", "E1 CAS bits (ABCD, far end > box / box > far end)"]
        port_cols = max(len(str(p["port"])) for p in cas)
        per_row = max(1, (COLS - 2 + 2) // (port_cols + 1 + 9 + 2))  # "  " + cells joined by two spaces
        cells = [f"{cell(p['port'], port_cols)} {_bits(p.get('cas_rx'))}/{_bits(p.get('cas_tx'))}" for p in cas]
        for i in range(0, len(cells), per_row):
            lines.append("  " + "  ".join(cells[i:i + per_row]))
    return lines


def _span_of(port: str) -> str:
    return str(port).split("/", 1)[0]


def _link_text(link: dict | None) -> str:
    """An HDLC link's state from ``spans``: ``up, 1234 frames in (last 0.2 s ago), 56 out``."""
    if not link:
        return "link state: not reported by this daemon"
    last = link.get("last_rx_s")
    heard = "none heard yet" if last is None else f"last {last:.1f} s ago"
    return (f"link {link.get('state', '?')}: {link.get('rx_frames', 0)} frames in ({heard}), "
            f"{link.get('tx_frames', 0)} out")


def heard_lines(events: list[dict]) -> list[str]:
    """The live line of the diagnostics screen: the last DTMF digits (with their port) and caller IDs."""
    digits = [e for e in events if e.get("kind") == "diag.dtmf"][-16:]
    cids = [e for e in events if e.get("kind") == "diag.callerid"][-2:]
    dtmf = " ".join(f"{e['digit']}@{e['port']}" if i == 0 or digits[i - 1]["port"] != e["port"] else e["digit"]
                    for i, e in enumerate(digits))
    cid = "  ".join(f"{e['port']} {e.get('number') or '-'} {e.get('name') or ''}".rstrip() for e in cids)
    return [f"DTMF heard: {dtmf or '(none yet)'}"[:COLS], f"Caller ID:  {cid or '(none yet)'}"[:COLS]]


# --- configuration ------------------------------------------------------------------------------

DIALPLAN_FIELDS = (("outbound_prefix", str), ("first_digit_timeout_s", float), ("inter_digit_timeout_s", float),
                   ("no_answer_timeout_s", float), ("busy_tone_s", float))


@dataclass(frozen=True)
class Field:
    """One editable setting: its key path for ``config.set`` (or, with ``flow``, ``ivr.flow.set``), its
    label and current value (None = default). ``kind`` is the value's type: ``str``, ``int``, ``float``,
    ``bool``, ``list`` (typed with commas) or ``dict`` (``key=value`` pairs; ``item`` is the type of
    the values: ``str``, ``int`` or ``list``); ``choices`` the values allowed; ``action`` marks a
    prompt that is not a setting (``add``, ``delete``, ``date``, ``diag.ring``); ``secret`` a value
    shown and typed as stars (a PIN)."""

    key: str
    label: str
    value: object
    kind: type = str
    flow: str | None = None
    item: type = str
    choices: tuple[str, ...] = ()
    action: str | None = None
    secret: bool = False


def show_value(value: object) -> str:
    if value is None:
        return "(default)"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return " ".join(f"{k}={show_value(v)}" for k, v in value.items())
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def as_list(value: object) -> object:
    """A setting that takes one name or a list of them (``"welcome"`` or ``["a", "b"]``), as a list."""
    return [value] if isinstance(value, str) else value


def config_rows(data: dict) -> list[tuple[str, Field | None]]:
    """The configuration screen: (text, the field it edits or None) for each row."""
    rows: list[tuple[str, Field | None]] = [("Extensions: number port name    (arrows move, Enter edits)", None)]
    for e in data.get("extension", []):
        f = Field(f"extension[{e.get('number')}].name", f"extension {e.get('number')} name", e.get("name", ""))
        rows.append((f"  {cell(e.get('number'), 8)} {cell(e.get('port'), 6)} {cell(show_value(f.value), 40)}", f))
    rows += [("", None), ("Lines: port name / destinations", None)]
    for ln in data.get("line", []):
        port = ln.get("port")
        name = Field(f"line[{port}].name", f"line {port} name", ln.get("name", ""))
        dest = Field(f"line[{port}].destination", f"line {port} destinations", as_list(ln.get("destination", [])),
                     list)
        ivr = Field(f"line[{port}].ivr", f"line {port} IVR flow (empty: ring the destinations)", ln.get("ivr"))
        rows.append((f"  {cell(port, 8)} name         {cell(show_value(name.value), 40)}", name))
        rows.append((f"  {cell(port, 8)} destinations {cell(show_value(dest.value), 52)}", dest))
        rows.append((f"  {cell(port, 8)} IVR flow     {cell(show_value(ivr.value), 40)}", ivr))
    if data.get("trunk"):
        rows += [("", None), ("E1 trunks (No.1): name / setting", None)]
    for t in data.get("trunk", []):
        name = t.get("name")
        for key, kind, label in (("destination", list, "destinations"), ("direction", str, "direction"),
                                 ("dnis_length", int, "dnis_length"), ("ivr", str, "IVR flow")):
            value = as_list(t.get(key)) if kind is list else t.get(key)
            f = Field(f"trunk[{name}].{key}", f"trunk {name} {label}", value, kind,
                      choices=("in", "out", "both") if key == "direction" else ())
            rows.append((f"  {cell(name, 8)} {cell(label, 12)} {cell(show_value(value), 52)}", f))
    rows += [("", None), ("Dial plan", None)]
    dp = data.get("dialplan", {})
    for key, kind in DIALPLAN_FIELDS:
        f = Field(f"dialplan.{key}", f"dialplan {key}", dp.get(key), kind)
        rows.append((f"  {cell(key, 24)} {show_value(f.value)}", f))
    rows += [("", None), ("Recording", None)]
    mode = Field("recording.mode", "recording mode (all|selected|on_demand|off)", data.get("recording", {}).get("mode"))
    rows.append((f"  {cell('mode', 24)} {show_value(mode.value)}", mode))
    return rows


def parse_value(f: Field, text: str) -> object:
    """What the installer typed, as the setting's type; ValueError with a message for the status line."""
    text = text.strip()
    if f.kind is list:
        return [v for v in text.replace(",", " ").split() if v]
    if f.kind is dict:
        out: dict[str, object] = {}
        for pair in text.split():
            k, eq, v = pair.partition("=")
            if not eq or not k:
                raise ValueError(f"{f.label}: {pair!r} is not key=value")
            out[k] = parse_value(Field(f.key, f"{f.label} {k}", None, f.item), v)
        return out
    if f.kind is bool:
        if text.lower() in ("y", "yes", "true", "on", "1"):
            return True
        if text.lower() in ("n", "no", "false", "off", "0"):
            return False
        raise ValueError(f"{f.label}: {text!r} is not yes or no")
    if f.kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{f.label}: {text!r} is not a whole number") from None
    if f.choices and text not in f.choices:
        raise ValueError(f"{f.label}: {text!r} is not one of {', '.join(f.choices)}")
    if f.kind is float:
        try:
            n = float(text)
        except ValueError:
            n = math.nan
        if not math.isfinite(n):
            raise ValueError(f"{f.label}: {text!r} is not a number")
        return int(n) if n == int(n) else n
    return text


def _bits(v: int | None) -> str:
    return "----" if v is None else format(v, "04b")


SCREENS: dict[str, Callable[..., list[str]]] = {"dashboard": dashboard, "report": report,
                                                  "diagnostics": diagnostics}
