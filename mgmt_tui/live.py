"""A live account of the box's calls for someone watching it work (the demo): what each caller does
told as one short line per step (rings in, presses keys, waits in a queue with music, hears an
announcement, is answered by an agent, hangs up), the ACD's queues and agents, and the last CDRs,
on one 80x24 screen. Plain text from API events and results (no urwid), so it runs on any terminal
and in a pipe; ``ascii`` shows Chinese as pinyin with the columns measured on what is drawn."""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from mgmt_tui.acd_views import acd_panel, mmss
from mgmt_tui.text import ascii_display, ascii_only, cell, fit
from mgmt_tui.views import box_zone

COLS, ROWS = 80, 24
SUBSCRIBE = ["call.", "diag.dtmf", "agent.state", "voicemail.message", "callback."]
CAUSES = {16: "normal", 17: "busy", 18: "no response", 19: "no answer", 21: "rejected", 31: "normal",
          34: "no circuit", 41: "failure", 102: "timeout"}


def _clock(ts: float | None, zone: dt.tzinfo | None) -> str:
    return dt.datetime.fromtimestamp(ts, zone).strftime("%H:%M:%S") if ts else "--:--:--"


@dataclass
class _Caller:
    number: str
    line: str
    port: str
    keys: str = ""


@dataclass
class Activity:
    """Turns API events into one line per step of each call, oldest first (``lines``, the last
    ``keep``), timed in ``zone`` (the box's, ``views.box_zone``). ``agents`` maps an agent's ID to its
    name."""

    agents: dict[str, str] = field(default_factory=dict)
    zone: dt.tzinfo | None = None
    keep: int = 200
    lines: deque[str] = field(default_factory=deque)
    callers: dict[str, _Caller] = field(default_factory=dict)  # call id -> who is calling
    by_port: dict[str, str] = field(default_factory=dict)  # trunk port -> call id
    counts: dict[str, int] = field(default_factory=lambda: {"offered": 0, "keys": 0, "queued": 0, "announced": 0,
                                                            "answered": 0, "abandoned": 0, "ended": 0})

    def _agent(self, agent: object) -> str:
        name = self.agents.get(str(agent), "")
        return f"agent {agent}" + (f" {name}" if name else "")

    def _who(self, call: object) -> str:
        c = self.callers.get(str(call))
        return c.number if c else f"call {call}"

    def feed(self, ev: dict[str, Any], when: float | None = None) -> str | None:
        """One event; the line it adds (None: nothing to tell)."""
        text = self._describe(ev.get("kind", ""), ev)
        if text is not None:
            line = f"{_clock(when or time.time(), self.zone)} {text}"
            self.lines.append(line)
            while len(self.lines) > self.keep:
                self.lines.popleft()
            return line
        return None

    def _describe(self, kind: str, e: dict[str, Any]) -> str | None:
        call = str(e.get("call"))
        if kind == "call.offered" and e.get("line"):
            self.callers[call] = _Caller(e.get("caller") or "unknown caller", e["line"], e.get("port") or "")
            self.by_port[e.get("port") or ""] = call
            self.counts["offered"] += 1
            return f"{self.callers[call].number} rings in on {e['line']}"
        if kind == "diag.dtmf":
            c = self.callers.get(self.by_port.get(str(e.get("port")), ""))
            if c is None:
                return None
            c.keys += str(e.get("digit"))
            self.counts["keys"] += 1
            return f"{c.number} presses {e.get('digit')} in the IVR menu"
        if kind == "call.queued":
            self.counts["queued"] += 1
            return f"{self._who(call)} waits in queue {e.get('queue')} (position {e.get('position')}), music on"
        if kind == "call.announce":
            self.counts["announced"] += 1
            return (f"{self._who(call)} hears: position {e.get('position')}, about "
                    f"{max(1, round((e.get('ewt_s') or 0) / 60))} min wait")
        if kind == "call.ringing" and e.get("agent"):
            return f"{self._agent(e['agent'])}'s phone {e.get('extension')} rings for {self._who(call)}"
        if kind == "call.connected":
            self.counts["answered"] += 1
            who = self._agent(e["agent"]) if e.get("agent") else f"extension {e.get('extension')}"
            return f"{self._who(call)} answered by {who} after {mmss(e.get('wait_s'))} in {e.get('queue')}"
        if kind == "call.abandoned":
            self.counts["abandoned"] += 1
            return f"{self._who(call)} gave up after {mmss(e.get('wait_s'))} waiting in {e.get('queue')}"
        if kind == "call.overflow":
            return f"{self._who(call)} waited {mmss(e.get('wait_s'))} in {e.get('queue')}: sent to {e.get('to')}"
        if kind == "callback.queued":
            return f"{self._who(call)} asks to be called back from {e.get('queue')}"
        if kind == "voicemail.message":
            return f"{e.get('caller') or 'a caller'} left a voicemail ({e.get('seconds', 0):.0f} s)"
        if kind == "agent.state" and e.get("state") == "idle" and e.get("old") == "logged_out":
            return f"{self._agent(e.get('agent'))} logged in at {e.get('extension')}"
        if kind == "call.ended" and isinstance(e.get("cdr"), dict):
            c = self.callers.pop(call, None)
            if c is not None and self.by_port.get(c.port) == call:
                del self.by_port[c.port]
            cdr = e["cdr"]
            self.counts["ended"] += 1
            cause = cdr.get("cause")
            return (f"{cdr.get('caller') or self._who(call)} call ended ({CAUSES.get(cause, cause)}), "
                    f"{mmss(cdr.get('duration'))} in all")
        return None


def cdr_rows(cdrs: list[dict], zone: dt.tzinfo | None = None) -> list[str]:
    """The last calls, newest first, each in 80 columns: end time (in ``zone``), caller, line, IVR keys,
    queue, agent, wait, the whole call's length, and the result (disposition and Q.850 cause)."""
    head = (f"{cell('ended', 8)} {cell('caller', 11)} {cell('line', 6)} {cell('keys', 4)} {cell('queue', 10)} "
            f"{cell('agent', 5)} {cell('wait', 5, True)} {cell('length', 6, True)} result, cause")
    rows = [head]
    for r in cdrs:
        result = {"ANSWERED": "answered", "NO ANSWER": "no answer", "BUSY": "busy", "FAILED": "failed",
                  "INTERRUPTED": "interrupted"}.get(r.get("disposition"), str(r.get("disposition") or "-"))
        rows.append(f"{cell(_clock(r.get('end'), zone), 8)} {cell(r.get('caller'), 11)} "
                    f"{cell(r.get('trunk') or r.get('src'), 6)} {cell(r.get('ivr_keys'), 4)} "
                    f"{cell(r.get('queue'), 10)} {cell(r.get('agent'), 5)} "
                    f"{cell(mmss(r.get('wait_s')) if r.get('wait_s') is not None else '-', 5, True)} "
                    f"{cell(mmss(r.get('duration')), 6, True)} {fit(result + ' ' + str(r.get('cause', '')), 17)}")
    return rows


def screen(title: str, status: dict, snapshot: dict | None, activity: Activity, cdrs: list[dict],
           now: float, legend: str = "", ascii_mode: bool = False, rows: int = ROWS) -> list[str]:
    """The whole view, ``rows`` lines of at most 80 columns: title and legend, queues and agents (the
    TUI dashboard's panel), what is happening (the newest lines of ``activity``) and the last CDRs;
    times in the box's zone (``status``'s ``utc_offset_min``)."""
    zone = box_zone(status)
    with ascii_display(ascii_mode):
        c = activity.counts
        top = [fit(f"{title}  {_clock(now, zone)}  calls {status.get('active_calls', 0)}  "
                   f"CDRs {status.get('cdrs', 0)}  Ctrl-C stops", COLS)]
        if legend:
            top.append(fit(legend, COLS))
        panel = [fit(line, COLS) for line in acd_panel(snapshot, now)]
        tally = (f"-- what happens: {c['offered']} calls, {c['keys']} keys, {c['queued']} queued, "
                 f"{c['answered']} answered by agents, {c['abandoned']} gave up --")
        bottom = ["-- last calls (CDRs) --", *cdr_rows(cdrs[:3], zone)]
        room = max(3, rows - len(top) - len(panel) - 1 - len(bottom))
        happening = [fit(line, COLS) for line in list(activity.lines)[-room:]]
        happening += [""] * (room - len(happening))
        out = [*top, *panel, fit(tally, COLS), *happening, *bottom][:rows]
        return [ascii_only(line) for line in out] if ascii_mode else out
