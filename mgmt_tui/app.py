"""The TUI application: screens chosen by number keys, refreshed from the API every second.

Keys: ``1`` dashboard, ``2`` report (``[``/``]`` previous/next day), ``3`` diagnostics (``t`` rings an
extension with a test caller ID; the last DTMF digits and caller IDs heard are shown live), ``4``
configuration (arrows choose a setting, Enter edits it, Enter again saves it through ``config.set``
— the daemon validates it; its error is shown and the edit stays open —, Esc cancels), ``r``
refresh now, ``q`` quit; arrows/PgUp/PgDn scroll. Works at 80x24 without a mouse; with ``ascii`` (a
VT100 or a serial console) every non-ASCII character is shown as ``?`` and no colour is used.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from typing import Any

import urwid

from daemon.api.client import ApiClient
from daemon.api.protocol import ApiError
from mgmt_tui import views
from mgmt_tui.text import ascii_only

SCREEN_KEYS = {"1": "dashboard", "2": "report", "3": "diagnostics", "4": "config"}
TITLES = {"dashboard": "Dashboard", "report": "Report", "diagnostics": "Diagnostics", "config": "Config"}
REFRESH_S = 1.0
RING_SECONDS = 5


class FieldRow(urwid.WidgetWrap):
    """A selectable line of the configuration screen; ``>`` marks the one the cursor is on."""

    def __init__(self, text: str, field: views.Field) -> None:
        self.text, self.field = text, field
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
        self.day = dt.date.today()
        self.error: str | None = None
        self.message = ""  # the outcome of the last action (saved, rung, the daemon's error)
        self.editing: tuple[views.Field, urwid.Edit] | None = None
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

    def _show(self, s: str) -> str:
        return ascii_only(s) if self.ascii else s

    def lines(self) -> list[str]:
        """The current screen's text, fetched fresh from the daemon."""
        if self.screen == "dashboard":
            return views.dashboard(self._call("status"), self._call("spans"), self._call("ports"), self._call("calls"))
        if self.screen == "report":
            start = dt.datetime.combine(self.day, dt.time()).timestamp()
            cdrs, cursor = [], None
            while True:
                page = self._call("cdr.page", since=start, until=start + 86400 - 0.001, limit=1000, cursor=cursor)
                cdrs += page["cdrs"]
                cursor = page["next"]
                if cursor is None:
                    break
            return views.report(self.day, cdrs)
        if self.screen == "config":
            return [text for text, _ in self.config_rows()]
        try:
            watch = self._call("diag.watch")
        except ApiError as exc:
            watch = {"events": [{"kind": "diag.dtmf", "port": "-", "digit": f"({exc.code})"}]}
        return views.diagnostics(self._call("spans"), self._call("ports"), watch)

    def config_rows(self) -> list[tuple[str, views.Field | None]]:
        return views.config_rows(self._call("config.get")["data"] or {})

    def refresh(self) -> None:
        if self.editing is not None:  # never pull the edit box from under the installer's fingers
            self._frame()
            return
        rows: list[urwid.Widget]
        try:
            if self.screen == "config":
                rows = [FieldRow(self._show(t), f) if f else urwid.Text(self._show(t), wrap="clip")
                        for t, f in self.config_rows()]
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
        if self.screen == "config" and not self.body[focus].selectable():
            focus = next((i for i, w in enumerate(self.body) if w.selectable()), focus)
        self.listbox.set_focus(focus)  # (the list box keeps the rows above it, e.g. a heading, in view)
        self._frame()

    def _frame(self) -> None:
        menu = "  ".join(f"{k}:{TITLES[v]}" + ("*" if v == self.screen else "") for k, v in SCREEN_KEYS.items())
        extra = f"  day {self.day.isoformat()} ([ ])" if self.screen == "report" else ""
        self.header.set_text(self._show(f"callbox  {menu}{extra}"))
        if self.editing is not None:
            keys = "Enter save  Esc cancel"
        elif self.screen == "config":
            keys = "Enter edit  r reload  q quit"
        elif self.screen == "diagnostics":
            keys = "t ring  r refresh  q quit"
        else:
            keys = "r refresh  q quit  arrows scroll"
        note = self.error or self.message
        self.footer.set_text(self._show(keys + (f"  | {note}" if note else "")))

    # --- editing --------------------------------------------------------------------------------

    def _start_edit(self, field: views.Field, initial: str) -> None:
        edit = urwid.Edit(self._show(f"{field.label}: "), initial, wrap="clip")
        edit.set_edit_pos(len(initial))
        pos = self.body.focus if self.screen == "config" else len(self.body)
        if self.screen == "config":
            self.body[pos] = edit
        else:
            self.body.append(edit)
        self.listbox.set_focus(pos)
        self.editing = (field, edit)
        self.message = ""
        self._frame()

    def _save_edit(self) -> None:
        assert self.editing is not None
        field, edit = self.editing
        try:
            if field.key == "diag.ring":
                number = edit.edit_text.strip()
                self._call("diag.ring", extension=number, seconds=RING_SECONDS, number="10000", name="TEST")
                self.message = f"ringing {number} for {RING_SECONDS} s (caller ID 10000 TEST)"
            else:
                value = views.parse_value(field, edit.edit_text)
                result = self._call("config.set", changes=[{"key": field.key, "value": value}])
                later = result.get("restart_required") or []
                self.message = f"saved {field.key}" + (f"; restart needed for {', '.join(later)}" if later else "")
        except (ValueError, ApiError) as exc:  # the edit stays open with what was typed
            self.message = str(exc).replace("\n", " ")
            self._frame()
            return
        except (OSError, ConnectionError) as exc:
            self.message = f"not saved: daemon unreachable ({exc})"
            self._frame()
            return
        self._end_edit()

    def _cancel_edit(self) -> None:
        self.message = "cancelled"
        self._end_edit()

    def _end_edit(self) -> None:
        self.editing = None
        if self.screen != "config":  # the prompt was added at the bottom: back to the top of the screen
            self.listbox.set_focus(0)
        self.refresh()

    # --- keys -------------------------------------------------------------------------------------

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
            self.screen = SCREEN_KEYS[key]
            self.message = ""
        elif key == "enter" and self.screen == "config":
            row = self.body.get_focus()[0]
            if isinstance(row, FieldRow):
                f = row.field
                self._start_edit(f, views.show_value(f.value) if f.value is not None else "")
            return True
        elif key in ("t", "T") and self.screen == "diagnostics":
            self._start_edit(views.Field("diag.ring", "ring extension", ""), "")
            return True
        elif key in ("[", "]") and self.screen == "report":
            self.day += dt.timedelta(days=-1 if key == "[" else 1)
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
        if self.screen != "config":  # the configuration changes only when someone saves: no polling
            self.refresh()
        loop.set_alarm_in(REFRESH_S, self._tick)


def wants_ascii(term: str | None = None) -> bool:
    """VT100-family and the Linux console cannot show Chinese: fall back to ASCII there."""
    term = os.environ.get("TERM", "") if term is None else term
    return term.startswith(("vt", "linux")) or term in ("", "dumb")


def client_factory(path: str) -> Callable[[], ApiClient]:
    return lambda: ApiClient(path)
