"""The TUI application: screens chosen by number keys, refreshed from the API every second.

Keys: ``1`` dashboard (box, spans, the ACD's queues and agents, ports, calls), ``2`` report (``v``
switches calls / queues / agents, ``[``/``]`` previous/next day, ``g`` go to a date, ``t`` today),
``3`` diagnostics (``t`` rings an extension with a test caller ID; the last DTMF digits and caller IDs
heard are shown live), ``4`` configuration (lines, trunks, extensions, dial plan, recording), ``5``
ACD (settings, agents, queues and strategies), ``6`` IVR (prompts' TTS text, menus' digit targets,
schedules and holidays, black/white lists; ``f`` next flow). On the forms: arrows choose, Enter edits
a setting or opens an agent / queue / menu (Esc goes back), Enter again saves it through
``config.set`` / ``ivr.flow.set`` — the daemon validates it; its error (file, line, key) is shown and
the edit stays open —, Esc cancels, ``a`` adds an agent or queue, ``d`` deletes one, Tab jumps to
the next section. On the ACD screen's agent list (each agent's live state beside it) ``l`` logs the
agent in (asks the PIN, masked, then the extension: the current, last seen or configured one), ``o``
logs it out, ``p`` pauses it (asks a reason code of ``[acd] pause_reasons``), ``u`` resumes it — the
daemon's answer (the new state, or its error, e.g. a wrong PIN) on the status line (docs/tui.md).
``r`` refreshes, ``q`` quits; arrows/PgUp/PgDn scroll. Works at 80x24 without a mouse; with
``ascii`` (a VT100 or a serial console) Chinese is shown as pinyin (``王芳`` as ``WangFang``), columns
measured on what is drawn, any other non-ASCII character as ``?``, and no colour is used.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import urwid

from daemon.api.client import ApiClient
from daemon.api.connect import connect
from daemon.api.protocol import ApiError
from mgmt_tui import acd_views, forms, views
from mgmt_tui.forms import Row
from mgmt_tui.text import ascii_display, ascii_only, fit

SCREEN_KEYS = {"1": "dashboard", "2": "report", "3": "diagnostics", "4": "config", "5": "acd", "6": "ivr"}
TITLES = {"dashboard": "Dashboard", "report": "Report", "diagnostics": "Diagnostics", "config": "Config",
          "acd": "ACD", "ivr": "IVR"}
FORMS = ("config", "acd", "ivr")
REPORT_VIEWS = ("calls", "queues", "agents")
REFRESH_S = 1.0
RING_SECONDS = 5
AGENT_OPS = {"l": "agent.login", "o": "agent.logout", "p": "agent.pause", "u": "agent.resume"}
AGENT_DONE = {"agent.login": "logged in", "agent.logout": "logged out", "agent.pause": "paused",
              "agent.resume": "resumed"}


class FieldRow(urwid.WidgetWrap):
    """A selectable line of a form; ``>`` marks the one the cursor is on."""

    def __init__(self, text: str, row: Row) -> None:
        self.text, self.row = text, row
        super().__init__(urwid.Text("  " + text, wrap="clip"))

    def selectable(self) -> bool:
        return True

    def keypress(self, size: tuple, key: str) -> str:
        return key

    def render(self, size: tuple, focus: bool = False) -> Any:
        self._w.set_text(("> " if focus else "  ") + self.text)
        return super().render(size, focus)


class TuiApp:
    def __init__(self, connect: Callable[[], Any], ascii_mode: bool = False) -> None:
        self.connect = connect
        self.client: Any = None
        self.ascii = ascii_mode
        self.screen = "dashboard"
        self.zone: dt.tzinfo | None = None  # the box's (views.box_zone), read from status
        self.day = dt.date.today()  # the box's today once connected (``_today``)
        self.report_view = "calls"
        self.flow: str | None = None  # the IVR flow on screen 6
        self.opened: dict[str, tuple[str, str] | None] = {}  # screen -> the agent / queue / menu open
        self.back_focus: dict[str, int] = {}
        self.error: str | None = None
        self.message = ""  # the outcome of the last action (saved, rung, the daemon's error)
        self.editing: tuple[views.Field, urwid.Edit] | None = None
        self.acd_config: dict | None = None  # the ACD screen's last configuration and agents' states
        self.acd_config_read = False  # acd_config is as read (None: not readable with this role)
        self.acd_live: dict[str, dict] | None = None
        self.last_extension: dict[str, str] = {}  # agent -> where it was last seen logged in
        self.header = urwid.Text("")
        self.footer = urwid.Text("")
        self.body = urwid.SimpleFocusListWalker([])
        self.listbox = urwid.ListBox(self.body)
        self.top = urwid.Frame(self.listbox, header=self.header, footer=self.footer)
        self.loop: urwid.MainLoop | None = None

    # --- data -------------------------------------------------------------------------------------

    def _call(self, op: str, **args: Any) -> Any:
        if self.client is None:
            self.client = self.connect()
        return self.client.call(op, **args)

    def _box_zone(self) -> dt.tzinfo | None:
        if self.zone is None:
            self.zone = views.box_zone(self._call("status"))
            if self.day == dt.date.today():  # still the host's today: the report opens on the box's
                self.day = dt.datetime.now(self.zone).date()
        return self.zone

    def _today(self) -> dt.date:
        return dt.datetime.now(self._box_zone()).date()

    def _pages(self, op: str, **args: Any) -> Iterator[list]:
        """Every page of a list op (the daemon sends long lists a page at a time)."""
        if self.client is None:
            self.client = self.connect()
        return self.client.pages(op, **args)

    def _show(self, s: str) -> str:
        return ascii_only(s) if self.ascii else s

    def _snapshot(self) -> tuple[dict | None, str]:
        """The ACD's live view, or None and why not (a daemon without the ACD)."""
        try:
            snap = self._call("acd.snapshot")
        except ApiError as exc:
            return None, f"not available ({exc.code}: {exc.message})" if exc.message else f"not available ({exc.code})"
        for a in (snap or {}).get("agents") or []:
            if a.get("extension") and a.get("state") != "logged_out":
                self.last_extension[a["id"]] = a["extension"]
        return snap, ""

    def lines(self) -> list[str]:
        """The current screen's text (the dashboard, report or diagnostics; the forms are ``form_rows``),
        fetched fresh from the daemon."""
        if self.screen == "dashboard":
            status, spans, ports, calls = (self._call("status"), self._call("spans"), self._call("ports"),
                                           self._call("calls"))
            snap, why = self._snapshot()
            return views.dashboard(status, spans, ports, calls, acd_views.acd_panel(snap, time.time(), why))
        if self.screen == "report":
            return self.report_lines()
        try:
            watch = self._call("diag.watch")
        except ApiError as exc:
            watch = {"events": [{"kind": "diag.dtmf", "port": "-", "digit": f"({exc.code})"}]}
        return views.diagnostics(self._call("spans"), self._call("ports"), watch)

    def report_lines(self) -> list[str]:
        zone = self._box_zone()  # the box's day, whatever the zone of the host the TUI runs on
        start = dt.datetime.combine(self.day, dt.time(), zone).timestamp()
        end = dt.datetime.combine(self.day + dt.timedelta(days=1), dt.time(), zone).timestamp()
        tabs = "  ".join(f"[{v}]" if v == self.report_view else v for v in REPORT_VIEWS)
        head = [f"{tabs}   v: next view  [ ]: day  g: go to date  t: today", ""]
        if self.report_view == "calls":
            cdrs, cursor = [], None
            while True:
                page = self._call("cdr.page", since=start, until=end - 0.001, limit=1000, cursor=cursor)
                cdrs += page["cdrs"]
                cursor = page["next"]
                if cursor is None:
                    break
            return head + views.report(self.day, cdrs, zone)
        snap, why = self._snapshot()
        try:
            records = [r for page in self._pages("acd.intervals", since=start, until=end, limit=300) for r in page]
        except ApiError as exc:
            return [*head, f"ACD statistics: not available ({exc.code})"]
        today = self._today()
        records = acd_views.day_records(records, snap, self.day, today)
        if self.report_view == "queues":
            return head + acd_views.queue_report(self.day, records, today, zone)
        names = {a["id"]: a.get("name") or "" for a in (snap or {}).get("agents", [])}
        return head + acd_views.agent_report(self.day, records, names, today)

    def form_rows(self, live_only: bool = False) -> list[Row]:
        """The current form's rows; ``live_only`` (the ACD list's refresh every second): only the agents'
        live states are fetched again, the configuration is the one last read."""
        opened = self.opened.get(self.screen)
        if self.screen == "config":
            return [Row(t, f) for t, f in views.config_rows(self._call("config.get")["data"] or {})]
        if self.screen == "acd":
            if not (live_only and self.acd_config_read):
                self._read_acd_config()
            snap, _ = self._snapshot() if opened is None or self.acd_config is None else (None, "")
            self.acd_live = None if snap is None else {a["id"]: a for a in snap.get("agents") or []}
            return forms.acd_rows(self.acd_config, opened, self.acd_live)
        flows = self._flows()
        if not flows:
            return [Row("No IVR flows: name them in [ivr] flows (screen 4 / the config file)")]
        if self.flow not in flows:
            self.flow = flows[0]
        data = self._call("ivr.flow.get", flow=self.flow)["data"]
        if data is None:
            return [Row(f"flow {self.flow}: the file does not parse as TOML; fix it in the file")]
        return forms.ivr_rows(self.flow, data, flows, opened)

    def _read_acd_config(self) -> None:
        """The configuration for the ACD screen (None: this connection's role may not read it)."""
        self.acd_config_read = False
        try:
            self.acd_config = self._call("config.get")["data"] or {}
        except ApiError as exc:  # a supervisor: no configuration, but the agent keys work
            if exc.code != "forbidden":
                raise
            self.acd_config = None
        self.acd_config_read = True

    def _flows(self) -> list[str]:
        """The IVR flows' names (``[ivr] flows``)."""
        return [f["flow"] for f in self._call("ivr.flows")]

    def refresh(self, live_only: bool = False) -> None:
        """Fetch and show the current screen again; ``live_only``: see ``form_rows`` (after an error,
        everything is fetched again)."""
        if self.editing is not None:  # never pull the edit box from under the installer's fingers
            self._frame()
            return
        rows: list[urwid.Widget]
        try:
            with ascii_display(self.ascii):  # columns measured on what this terminal draws
                if self.screen in FORMS:  # a long value (a prompt's text) is cut with ~; Enter shows it whole
                    rows = [FieldRow(self._show(fit(r.text, views.COLS - 2)), r) if r.selectable
                            else urwid.Text(self._show(fit(r.text, views.COLS)), wrap="clip")
                            for r in self.form_rows(live_only and self.error is None)]
                else:
                    rows = [urwid.Text(self._show(line), wrap="clip") for line in self.lines()]
            self.error = None
        except (OSError, ConnectionError) as exc:
            if self.client is not None:
                self.client.close()
            self.client = None
            self.error = f"daemon unreachable: {exc}"
            rows = [urwid.Text(t) for t in (self.error, "", "retrying every second")]
        except Exception as exc:  # an API error reply: show it, keep running
            self.error = f"error: {exc}"
            rows = [urwid.Text(self._show(self.error))]
        focus = self.body.focus if self.body else 0
        self.body[:] = rows or [urwid.Text("")]
        focus = min(focus or 0, len(self.body) - 1)
        if self.screen in FORMS and not self.body[focus].selectable():
            focus = next((i for i, w in enumerate(self.body) if w.selectable()), focus)
        self.listbox.set_focus(focus)  # (the list box keeps the rows above it, e.g. a heading, in view)
        self._frame()

    def _frame(self) -> None:
        menu = "  ".join(f"{k}:{TITLES[v]}" + ("*" if v == self.screen else "") for k, v in SCREEN_KEYS.items())
        self.header.set_text(self._show(f"callbox  {menu}"))
        opened = self.opened.get(self.screen)
        if self.editing is not None:
            keys = ["Enter save", "Esc cancel"]
        elif self.screen == "acd" and self.acd_config is None:
            keys = [forms.AGENT_KEYS_HINT, "r refresh", "q quit"]
        elif self.screen in FORMS:
            keys = ["Enter edit/open", *(["Esc back"] if opened else [])]
            if self.screen == "acd":
                keys += ["a add", "d del", *([] if opened else [forms.AGENT_KEYS_HINT])]
            elif self.screen == "ivr":
                keys.append("f flow")
            keys += ["Tab", "q"]
        elif self.screen == "diagnostics":
            keys = ["t ring", "r refresh", "q quit"]
        elif self.screen == "report":
            keys = [self.day.isoformat(), "v view", "[ ] day", "g date", "q quit"]
        else:
            keys = ["r refresh", "q quit", "arrows scroll"]
        note = self.error or self.message
        self.footer.set_text(self._show("  ".join(keys) + (f"  | {note}" if note else "")))

    # --- editing --------------------------------------------------------------------------------

    def _focused_row(self) -> Row | None:
        widget = self.body.get_focus()[0] if self.body else None
        return widget.row if isinstance(widget, FieldRow) else None

    def _start_edit(self, field: views.Field, initial: str) -> None:
        """A prompt for ``field`` in place of the focused row (or at the bottom); a ``secret`` field's
        characters are shown as ``*`` (a PIN)."""
        note = ""
        if self.ascii and not initial.isascii():  # this terminal cannot show (or type) it: start empty
            initial, note = "", "the current value is not ASCII: type a new one, Esc keeps it"
        edit = urwid.Edit(self._show(f"{field.label}: "), initial, wrap="any", mask="*" if field.secret else None)
        edit.set_edit_pos(len(initial))
        in_place = self.screen in FORMS and isinstance(self.body.get_focus()[0], FieldRow)
        pos = self.body.focus if in_place else len(self.body)
        if in_place:
            self.body[pos] = edit
        else:
            self.body.append(edit)
        self.listbox.set_focus(pos)
        self.editing = (field, edit)
        self.message = note
        self._frame()

    def _save_edit(self) -> None:
        assert self.editing is not None
        field, edit = self.editing
        if field.action == "agent.pin":  # the login's first step: now its extension (the PIN goes along)
            self.editing = None
            self.refresh()
            self._ask_extension(field.key, edit.edit_text)
            return
        try:
            self.message = self._apply(field, edit.edit_text)
        except (ValueError, ApiError) as exc:  # the edit stays open with what was typed
            self.message = str(exc).replace("\n", " ")
            self._frame()
            return
        except (OSError, ConnectionError) as exc:
            self.message = f"not saved: daemon unreachable ({exc})"
            self._frame()
            return
        self._end_edit()

    def _apply(self, field: views.Field, text: str) -> str:
        """Carry out a finished edit through the API; the outcome for the status line."""
        if field.action == "diag.ring":
            number = text.strip()
            self._call("diag.ring", extension=number, seconds=RING_SECONDS, number="10000", name="TEST")
            return f"ringing {number} for {RING_SECONDS} s (caller ID 10000 TEST)"
        if field.action == "agent.login":  # the PIN typed at the first prompt is the field's value
            return self._agent_op(field.action, field.key, pin=str(field.value), extension=text.strip())
        if field.action == "agent.pause":
            return self._agent_op(field.action, field.key, reason=views.parse_value(field, text))
        if field.action == "date":
            try:
                self.day = dt.date.fromisoformat(text.strip())
            except ValueError:
                raise ValueError(f"{text.strip()!r} is not a date YYYY-MM-DD") from None
            return ""
        if field.action == "delete":
            if text.strip().lower() not in ("y", "yes"):
                return "not deleted"
            self._call("config.set", changes=[{"key": field.key, "value": None}])
            self.opened[self.screen] = None
            return f"deleted {field.key}"
        if field.action == "add" and field.flow is None:  # a new [[agent]] / [[queue]]
            ident = text.strip()
            if not ident:
                raise ValueError(f"{field.label}: type it, or Esc")
            result = self._call("config.set", changes=[{"key": f"{field.key}[{ident}]", "value": {}}])
            self._open((field.key, ident))
            return f"added {field.key} {ident}" + self._later(result)
        if field.flow is not None:
            if field.action == "add":  # new keys of an inline table: menu key=node
                pairs = views.parse_value(field, text)
                if not pairs:
                    raise ValueError(f"{field.label}: type key=value, or Esc")
                changes = [{"key": f"{field.key}.{k}", "value": v} for k, v in pairs.items()]
            else:
                value = None if not text.strip() else views.parse_value(field, text)
                changes = [{"key": field.key, "value": value}]
            result = self._call("ivr.flow.set", flow=field.flow, changes=changes)
            return f"saved {', '.join(c['key'] for c in changes)}" + (
                "" if result.get("applied") else "; used from the next start")
        value = views.parse_value(field, text)
        result = self._call("config.set", changes=[{"key": field.key, "value": value}])
        return f"saved {field.key}" + self._later(result)

    @staticmethod
    def _later(result: dict) -> str:
        later = result.get("restart_required") or []
        return f"; restart needed for {', '.join(later)}" if later else ""

    def _cancel_edit(self) -> None:
        self.message = "cancelled"
        self._end_edit()

    # --- agents (the ACD screen) --------------------------------------------------------------------

    def _agent_conf(self, agent: str) -> dict:
        """The agent's ``[[agent]]`` table as the ACD screen last read it (empty if not readable)."""
        return forms.acd_entry(self.acd_config or {}, "agent", agent) or {}

    def _agent_name(self, agent: str) -> str:
        name = self._agent_conf(agent).get("name") or ((self.acd_live or {}).get(agent) or {}).get("name")
        return f"agent {agent}" + (f" {name}" if name else "")

    def _pause_reasons(self) -> dict[str, str]:
        """``[acd] pause_reasons`` (code -> name); empty when the configuration is not readable."""
        reasons = ((self.acd_config or {}).get("acd") or {}).get("pause_reasons") or {}
        return {str(code): str(name) for code, name in sorted(reasons.items())}

    def _agent_key(self, key: str, agent: str) -> None:
        """``l`` / ``o`` / ``p`` / ``u`` on an agent's row: log in (PIN, then extension), log out,
        pause (a reason), resume."""
        op = AGENT_OPS[key]
        if op == "agent.login":
            self._start_edit(views.Field(agent, f"log in {self._agent_name(agent)}, PIN", None, action="agent.pin",
                                         secret=True), "")
        elif op == "agent.pause":
            reasons = self._pause_reasons()
            shown = ", ".join(f"{code} {name}" for code, name in reasons.items())
            self._start_edit(views.Field(agent, f"pause {self._agent_name(agent)}, reason"
                                         + (f" ({shown})" if shown else " code"), None, choices=tuple(reasons),
                                         action="agent.pause"), next(iter(reasons), ""))
        else:
            self.message = self._agent_op(op, agent)
            self.refresh()

    def _ask_extension(self, agent: str, pin: str) -> None:
        """The login's second prompt: the extension, the agent's current, last seen or configured one
        already typed in. The PIN rides in the prompt's field (never shown) and goes with it: only a
        daemon that could not be reached keeps the prompt, and the PIN, for another Enter."""
        live = (self.acd_live or {}).get(agent) or {}
        current = live.get("extension") if live.get("state") not in (None, "logged_out") else None
        default = current or self.last_extension.get(agent) or self._agent_conf(agent).get("extension") or ""
        self._start_edit(views.Field(agent, f"log in {self._agent_name(agent)} at extension", pin,
                                     action="agent.login"), str(default))

    def _agent_op(self, op: str, agent: str, **args: Any) -> str:
        """Carry out an agent op; the daemon's answer (the agent's new state, or its error) for the
        status line."""
        try:
            a = self._call(op, agent=agent, **args)
        except ApiError as exc:
            return f"{op.split('.')[1]} {agent}: {exc.code}: {exc.message}"
        state = a.get("state") or "?"
        where = f" at {a['extension']}" if a.get("extension") and state != "logged_out" else ""
        if state == "paused" and a.get("pause_reason") is not None:
            code = str(a["pause_reason"])
            name = self._pause_reasons().get(code)
            state = f"paused ({code}{' ' + name if name else ''})"
        if op in ("agent.logout", "agent.pause") and state in ("reserved", "busy"):
            return f"agent {agent} is {state}{where}: {op.split('.')[1]} when the call ends"
        return f"{AGENT_DONE[op]} agent {agent}: {state}{where}"

    def _end_edit(self) -> None:
        self.editing = None
        if self.screen not in FORMS:  # the prompt was added at the bottom: back to the top of the screen
            self.listbox.set_focus(0)
        self.refresh()

    # --- keys -------------------------------------------------------------------------------------

    def _open(self, target: tuple[str, str]) -> None:
        self.back_focus[self.screen] = self.body.focus or 0
        self.opened[self.screen] = target
        self.listbox.set_focus(0)
        self.message = ""

    def _back(self) -> bool:
        if not self.opened.get(self.screen):
            return False
        self.opened[self.screen] = None
        self.refresh()
        self.listbox.set_focus(min(self.back_focus.get(self.screen, 0), len(self.body) - 1))
        return True

    def _next_section(self) -> None:
        """Tab: the first selectable row after the next heading (wrapping to the top)."""
        n, here = len(self.body), self.body.focus or 0
        for step in range(1, n + 1):
            i = (here + step) % n
            w = self.body[i]
            if not w.selectable() and isinstance(w, urwid.Text) and w.text and not w.text.startswith(" "):
                j = next((k for k in range(i + 1, n) if self.body[k].selectable()), None)
                if j is not None and j != here:
                    self.listbox.set_focus(j)
                    return

    def _form_key(self, key: str) -> bool:
        row = self._focused_row()
        if key == "enter":
            if row is not None and row.field is not None:
                f = row.field
                initial = "" if f.action or f.secret else (
                    views.show_value(f.value) if f.value is not None else "")
                self._start_edit(f, initial)
                return True
            if row is not None and row.open is not None:
                self._open(row.open)
            elif row is not None and row.add is not None:
                self._start_edit(row.add, "")
                return True
        elif key in ("esc", "backspace", "left"):
            if not self._back():
                return key == "esc"
            return True
        elif key == "a" and row is not None and row.add is not None:
            self._start_edit(row.add, "")
            return True
        elif key == "d" and row is not None and row.delete is not None:
            self._start_edit(row.delete, "")
            return True
        elif key in AGENT_OPS and self.screen == "acd" and row is not None and row.agent is not None:
            self._agent_key(key, row.agent)
            return True
        elif key == "tab":
            self._next_section()
            return True
        elif key == "f" and self.screen == "ivr":
            flows = self._flows()
            if flows:
                self.flow = flows[(flows.index(self.flow) + 1) % len(flows)] if self.flow in flows else flows[0]
                self.opened["ivr"] = None
                self.listbox.set_focus(0)
        else:
            return False
        self.refresh()
        return True

    def keypress(self, key: str) -> bool:
        """Handle a key the widgets did not; True if it was ours."""
        if self.editing is not None:
            if key == "enter":
                self._save_edit()
            elif key == "esc":
                self._cancel_edit()
            else:
                return False
            return True
        if key in SCREEN_KEYS:
            if self.screen != SCREEN_KEYS[key] and self.body:
                self.listbox.set_focus(0)
            self.screen = SCREEN_KEYS[key]
            self.message = ""
        elif self.screen in FORMS and key not in ("q", "Q", "r", "R"):
            return self._form_key(key)
        elif key in ("t", "T") and self.screen == "diagnostics":
            self._start_edit(views.Field("diag.ring", "ring extension", "", action="diag.ring"), "")
            return True
        elif key in ("[", "]") and self.screen == "report":
            self.day += dt.timedelta(days=-1 if key == "[" else 1)
        elif key in ("t", "T") and self.screen == "report":
            self.day = self._today()
        elif key in ("g", "G") and self.screen == "report":
            self._start_edit(views.Field("report.day", "go to day (YYYY-MM-DD)", "", action="date"), "")
            return True
        elif key in ("v", "V") and self.screen == "report":
            self.report_view = REPORT_VIEWS[(REPORT_VIEWS.index(self.report_view) + 1) % len(REPORT_VIEWS)]
        elif key in ("q", "Q"):
            raise urwid.ExitMainLoop()
        elif key not in ("r", "R"):
            return False
        self.refresh()
        return True

    def press(self, key: str, size: tuple[int, int] = (80, 24)) -> bool:
        """A key as the terminal delivers it: to the focused widget first, then to ``keypress``."""
        rest = self.top.keypress(size, key)
        return True if rest is None else self.keypress(rest)

    def render(self, size: tuple[int, int] = (80, 24)) -> list[str]:
        """The screen as text lines (for tests and for a look without a terminal)."""
        canvas = self.top.render(size, focus=True)
        return [row.decode("utf-8", "replace").rstrip() for row in canvas.text]

    # --- running ------------------------------------------------------------------------------------

    def run(self) -> None:
        self.refresh()
        screen = urwid.raw_display.Screen()
        if self.ascii:
            screen.set_terminal_properties(colors=1)
        self.loop = urwid.MainLoop(self.top, screen=screen, unhandled_input=self.keypress, handle_mouse=False)
        self.loop.set_alarm_in(REFRESH_S, self._tick)
        self.loop.run()

    def _tick(self, loop: urwid.MainLoop, _: object) -> None:
        # the configuration changes only when someone saves: no polling, but for the agents' live states
        if self.screen not in FORMS or (self.screen == "acd" and not self.opened.get("acd")):
            self.refresh(live_only=True)
        loop.set_alarm_in(REFRESH_S, self._tick)


def wants_ascii(term: str | None = None) -> bool:
    """VT100-family and the Linux console cannot show Chinese: fall back to ASCII there."""
    term = os.environ.get("TERM", "") if term is None else term
    return term.startswith(("vt", "linux")) or term in ("", "dumb")


def client_factory(path: str, token: str | None = None) -> Callable[[], ApiClient]:
    """Connections to the socket at ``path``, each raised by ``token`` (``auth``) if one is given."""
    return lambda: connect(path, token)
