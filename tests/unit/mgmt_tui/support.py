"""Headless TUI tests' tools: a fake daemon, and keys and screens at 80x24 (``_screen``, ``_lines_as_built``, ``_text``,
``_note``, ``_type``, ``_clear``, ``_focus_on``; the e2e tests use them too).

The fake daemon's ``config.*`` and ``ivr.flow.*`` ops are the daemon's own (``daemon.config.editing``'s
``ConfigOps`` but for applying to a running box, ``daemon.flows.flow_edit``'s ``FlowOps``) on a
configuration and a flow file in a temporary directory; its ACD replies (``acd.snapshot``,
``acd.intervals``) come from a real ``daemon.acd.engine.Engine`` driven on a virtual clock that starts
today, and the agent ops (``agent.login`` / ``logout`` / ``pause`` / ``resume``) are the daemon's own
handlers (``daemon.api.acd_ops``) on that engine."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import urwid

from daemon.acd.engine import Engine
from daemon.api import acd_ops
from daemon.api.protocol import ApiError, ErrorCode
from daemon.api.schema import args_of
from daemon.config import editing as config_editing
from daemon.config.editing import ConfigOps, validate
from daemon.config.model import Config
from daemon.flows import flow_edit
from daemon.flows.flow_edit import FlowOps
from mgmt_tui.app import TuiApp
from mgmt_tui.text import width
from tests.support.processes import DEFAULT_CONFIG
from tests.unit.daemon.acd.support import RecordingHost

FLOW_TEXT = (DEFAULT_CONFIG.parent / "ivr" / "travel-agency.toml").read_text(encoding="utf-8")

CONFIG = """\
[box]
name = "示例旅行社 呼叫中心"

[ivr]
flows = {{ "travel-agency" = "{flow}" }}

[dialplan]
no_answer_timeout_s = 30

[acd]
utc_offset_min = 480
interval_min = 15
service_level_s = 20
pause_reasons = {{ 0 = "暂停", 1 = "午餐" }}

[[line]]
port = "1/1"
name = "PSTN-1"
destination = ["8001", "8002"]

[[extension]]
number = "8001"
port = "2/1"
name = "前台"

[[extension]]
number = "8002"
port = "2/2"
name = "国内线路"

[[extension]]
number = "8003"
port = "2/3"
name = "出境游"

[[agent]]
id = "1001"
name = "王芳"
pin = "4826"
groups = ["sales"]
extension = "8001"

[[agent]]
id = "1002"
name = "李明"
groups = ["sales"]
skills = {{ tickets = 8 }}

[[agent]]
id = "1003"
name = "Zhang"
pin = "7294"
groups = ["service"]
extension = "8003"

[[queue]]
name = "sales"
groups = ["sales"]
strategy = "longest_idle"
rules = [{{ kind = "sticky", timeout_s = 30 }}, {{ kind = "vip" }}]
wrap_up_s = 10
ring_timeout_s = 15

[[queue]]
name = "service"
agents = ["1003"]
strategy = "ring_all"
overflow = "queue:sales"
"""

STATUS = {"name": "示例旅行社 呼叫中心", "uptime": 42.0, "board": True, "active_calls": 2, "cdrs": 3,
          "tick_cost_max_ms": 0.7, "alarms": {}}
SPANS = [{"id": 1, "kind": "fxo", "signalling": None, "ports": 1, "alarms": []},
         {"id": 2, "kind": "fxs", "signalling": None, "ports": 3, "alarms": []},
         {"id": 3, "kind": "e1", "signalling": "cas", "ports": 30, "alarms": []},
         {"id": 4, "kind": "e1", "signalling": "hdlc", "ports": 30, "alarms": [],
          "hdlc": {"state": "up", "rx_frames": 1234, "tx_frames": 56, "last_rx_s": 0.2}}]
PORTS = [{"port": "1/1", "kind": "fxo", "line": "PSTN-1", "state": "connected", "call": "c1"},
         {"port": "2/1", "kind": "fxs", "extension": "8001", "name": "前台", "state": "connected", "call": "c1"},
         {"port": "2/2", "kind": "fxs", "extension": "8002", "name": "国内线路", "state": "ringing"},
         {"port": "2/3", "kind": "fxs", "extension": "8003", "name": "出境游", "state": "idle"},
         *({"port": f"3/{ts}", "kind": "e1", "state": "idle", "cas_rx": 0b1011, "cas_tx": 0b1011}
           for ts in range(1, 31)),
         *({"port": f"4/{ts}", "kind": "e1", "cas_rx": None, "cas_tx": None, **({"call": "c9"} if ts == 2 else {})}
           for ts in range(1, 31))]


# --- keys and screens -----------------------------------------------------------------------------

def _screen(app: TuiApp) -> list[str]:
    """The screen's rows: always 24, none wider than 80 columns."""
    rows = app.render((80, 24))
    assert len(rows) == 24 and all(width(r) <= 80 for r in rows), "\n".join(rows)
    return rows


def _lines_as_built(app: TuiApp) -> list[str]:
    """The header and every row of the screen's body as built, before the terminal clips anything (a
    row wider than 80 columns is cut at 80 when drawn, so only this shows it); edit boxes left out."""
    rows = [app.header.get_text()[0]]
    for w in app.body:
        if isinstance(w, urwid.Text):
            rows.append(w.get_text()[0])
        elif not isinstance(w, urwid.Edit):
            rows.append("> " + w.text)  # a form's row and the marker before it
    return rows


def _text(app: TuiApp) -> str:
    return "\n".join(_screen(app))


def _note(app: TuiApp) -> str:
    """The status line (it may wrap over the bottom rows of the screen)."""
    rows = _screen(app)
    note = app.footer.get_text()[0]
    assert note.endswith(rows[-1].strip())
    return note


def _type(app: TuiApp, text: str) -> None:
    for ch in text:
        app.press(ch)


def _clear(app: TuiApp, n: int = 80) -> None:
    for _ in range(n):
        app.press("backspace")


def _focus_on(app: TuiApp, text: str) -> None:
    """Arrow down, then up (as the installer would) until the marked row contains ``text``."""
    for key in ["down"] * 40 + ["up"] * 40:
        if any(row.startswith(">") and text in row for row in _screen(app)):
            return
        app.press(key)
    raise AssertionError(f"no row with {text!r}:\n" + _text(app))


# --- the fake daemon ----------------------------------------------------------------------------------

class _ConfigOps(ConfigOps):
    """``config.get`` / ``config.set`` as the daemon does them (read, edit, validate, write); only the
    running box to apply a change to is missing."""

    def apply(self, old_file: Config | None, new_file: Config) -> dict:
        return {"path": new_file.path, "saved": True, "ports_changed": [], "restart_required": []}


class FakeDaemon:
    """``connect`` for a ``TuiApp``: the object is its own client (``call``, ``close``)."""

    def __init__(self, tmp: Path, acd: bool = True, admin: bool = True) -> None:
        self.flow_path = tmp / "travel-agency.toml"
        self.config_path = tmp / "callbox.toml"
        self.flow_path.write_text(FLOW_TEXT, encoding="utf-8")  # config validation loads the flow file
        self.config_path.write_text(CONFIG.format(flow=self.flow_path), encoding="utf-8")
        self.calls: list[tuple[str, dict]] = []
        self.acd_enabled = acd
        self.admin = admin  # False: a supervisor's connection (config.get and the forms are forbidden)
        self.t0 = dt.datetime.combine(dt.date.today(), dt.time(0)).timestamp()
        self.t0 -= self.t0 % 900
        self.intervals: list[dict] = []
        self.host = RecordingHost(self.t0)
        cfg = validate(self.config_text, self.config_path)
        self.engine = Engine(cfg.acd, self.host, publish=self._event)
        self.acd_ops: dict[str, Any] = {}
        async def flushed() -> None:
            pass

        running_ivr = SimpleNamespace(flows={"travel-agency": None}, preloaded=[],
                                      library=SimpleNamespace(preload=lambda flow: []))
        service = SimpleNamespace(config=cfg, board_up=False, writer=SimpleNamespace(flushed=flushed), ivr=running_ivr,
                                  acd=SimpleNamespace(acd=self.engine, now=lambda: self.host.t,
                                                      feed=lambda fn, *args: fn(*args, self.host.t),
                                                      login=lambda agent, pin, ext, source, via:
                                                      self.engine.login(agent, pin, ext, self.host.t)))
        def register(name: str, handler: Any, args: Any = None, **_: Any) -> None:  # checked as the API does
            schema = args_of(args)
            self.acd_ops[name] = lambda req: handler(schema.check_request(req))

        acd_ops.register(SimpleNamespace(op=register), service)
        self.config_ops, self.flow_ops = _ConfigOps(service), FlowOps(service)
        self._busy_day()

    def __call__(self) -> FakeDaemon:
        return self

    def close(self) -> None:
        pass

    @property
    def config_text(self) -> str:
        return self.config_path.read_text(encoding="utf-8")

    @property
    def flow_text(self) -> str:
        return self.flow_path.read_text(encoding="utf-8")

    # --- the ACD, driven through a morning --------------------------------------------------------

    def _event(self, kind: str, **data: Any) -> None:
        if kind == "stats.interval":
            self.intervals.append(data)

    def at(self, seconds: float) -> float:
        target = self.t0 + seconds
        while (wake := self.engine.next_wakeup()) <= target:
            self.host.t = max(wake, self.host.t)
            self.engine.tick(self.host.t)
        self.host.t = target
        return target

    def _busy_day(self) -> None:
        e = self.engine
        e.login("1001", "4826", "8001", self.at(0))
        e.login("1002", "", "8002", self.at(1))
        for i in range(4):  # four answered calls in the first interval, one abandoned
            base = 10 + i * 100
            e.call_arrived(f"a{i}", "sales", f"1380000000{i}", self.at(base))
            agent = next(a for a in e.snapshot(self.host.t)["agents"] if a["call"] == f"a{i}")
            e.answered(f"a{i}", agent["extension"], self.at(base + 5))
            e.hangup(f"a{i}", self.at(base + 60))
        e.pause("1002", "1", self.at(500))
        e.call_arrived("x", "sales", "13900000000", self.at(520))
        e.answered("x", "8001", self.at(522))
        e.call_arrived("lost", "sales", "13700000000", self.at(530))
        e.hangup("lost", self.at(560))  # abandoned after 30 s
        e.hangup("x", self.at(700))
        self.at(905)  # the first interval closes
        e.call_arrived("w1", "sales", "13600000001", self.at(910))  # waiting now (1001 rings)
        e.call_arrived("w2", "service", "13600000002", self.at(915))  # nobody in service: waits
        self.at(930)

    # --- the API ---------------------------------------------------------------------------------

    def call(self, op: str, **args: Any) -> Any:
        self.calls.append((op, args))
        if op.startswith(("acd.", "agent.")) and not self.acd_enabled:
            raise ApiError(ErrorCode.UNKNOWN_OP, f"unknown op {op!r}")
        if op.startswith(("config.", "ivr.flow")) and not self.admin:
            raise ApiError(ErrorCode.FORBIDDEN, f"{op} needs the admin role")
        if op.startswith("agent."):
            return asyncio.run(self.acd_ops[op](args))
        handler = getattr(self, "op_" + op.replace(".", "_"), None)
        if handler is None:
            raise ApiError(ErrorCode.UNKNOWN_OP, f"unknown op {op!r}")
        return handler(**args)

    def pages(self, op: str, **args: Any) -> Iterator[list]:
        """A list op's pages, as ``ApiClient.pages`` gives them: here a row a page (the TUI must follow them)."""
        rows = self.call(op, **args)
        yield from ([rows[i:i + 1] for i in range(len(rows))] or [[]])

    def op_status(self) -> dict:
        return STATUS

    def op_spans(self) -> list:
        return SPANS

    def op_ports(self) -> list:
        return PORTS

    def op_calls(self) -> list:
        return [{"id": "c1", "direction": "inbound", "caller": "13800138000", "called": None, "src_port": "1/1",
                 "dst_port": "2/1", "answer": self.t0}]

    def op_diag_watch(self) -> dict:
        return {"events": [{"kind": "diag.dtmf", "port": "2/1", "digit": d} for d in "8001"]
                + [{"kind": "diag.callerid", "port": "2/2", "number": "13800138000", "name": "张伟"}]}

    def op_acd_snapshot(self) -> dict:
        return self.engine.snapshot(self.host.t)

    def op_acd_intervals(self, since: float = 0.0, until: float | None = None, limit: int = 96) -> list:
        return [r for r in self.intervals if r["start"] >= since and (until is None or r["start"] < until)][:limit]

    def op_cdr_page(self, **_: Any) -> dict:
        return {"cdrs": [], "next": None}

    def op_config_get(self) -> dict:
        return self.config_ops.get({})

    def op_config_set(self, changes: list[dict]) -> dict:
        return asyncio.run(self.config_ops.set(config_editing.SET_ARGS.check_request({"changes": changes})))

    def op_ivr_flows(self) -> list:
        return self.flow_ops.list({})

    def op_ivr_flow_get(self, flow: str) -> dict:
        return self.flow_ops.get(flow_edit.GET_ARGS.check_request({"flow": flow}))

    def op_ivr_flow_set(self, flow: str, changes: list[dict]) -> dict:
        return asyncio.run(self.flow_ops.set(flow_edit.SET_ARGS.check_request({"flow": flow, "changes": changes})))

    def agent(self, agent: str) -> dict:
        """The agent's entry of ``acd.snapshot`` now."""
        return next(a for a in self.engine.snapshot(self.host.t)["agents"] if a["id"] == agent)

    def sets(self, op: str) -> list[dict]:
        return [args for o, args in self.calls if o == op]
