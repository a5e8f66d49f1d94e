"""The simulator's configuration: the board layout, per-line exchange settings, phones, scenarios.

TOML, all sections optional; ``DEFAULT_TOML`` is what ``callbox-sim`` runs with no ``--config``
(span 1 = 4 FXO lines, span 2 = 8 FXS phones 8001-8008, span 3 = E1 CAS, span 4 = E1 HDLC).
The format is documented in docs/sim.md.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from hal.ports import build_spans
from sim.central_office import LineSettings, Scenario
from sim.hybrid import HybridSettings

DEFAULT_TOML = """\
[board]
name = "callbox-sim"
record_s = 120       # what phones and CO lines heard, kept this long
e1_record_s = 30     # per E1 timeslot
tx_buffer_frames = 2 # host audio is played this many 20 ms frames after its tick (jitter absorbed)
realtime_priority = 30  # SCHED_FIFO for the board's clock where permitted, as hardware keeps time (0: off)

[[span]]
id = 1
kind = "fxo"
ports = 4

[[span]]
id = 2
kind = "fxs"
ports = 8
first_extension = 8001

[[span]]
id = 3
kind = "e1"
signalling = "cas"

[[span]]
id = 4
kind = "e1"
signalling = "hdlc"

[echo]                         # the lines' hybrids: the box's own audio returned (erl_db = 0: none)
fxo = { erl_db = 12.0, delay_ms = 3.0, dispersion_ms = 6.0 }  # the exchange's line card over a local loop
fxs = { erl_db = 20.0, delay_ms = 0.5, dispersion_ms = 3.0 }  # the box's own SLIC, a short loop to the phone
e1 = { erl_db = 0.0, delay_ms = 12.0, dispersion_ms = 8.0 }  # 4-wire at the box: the far exchange's, when on

[co]
callerid = "fsk_mdmf"          # fsk_mdmf | fsk_sdmf | dtmf | none
inter_digit_timeout_s = 3.0
disconnect = ["busy"]          # plus "loop_current", "polarity" where the line gives them

[co.default_scenario]
action = "answer"
after_s = 3.0
"""


class ConfigError(ValueError):
    """A configuration the simulator cannot use (the message names the key)."""


@dataclass
class PhoneSettings:
    extension: str
    callerid: str = "auto"  # fsk | dtmf | auto | none
    auto_answer_rings: int = 0
    auto_hangup_s: float | None = None


@dataclass
class SimConfig:
    name: str = "callbox-sim"
    layout: list[dict] = field(default_factory=list)
    record_s: float = 120.0
    e1_record_s: float = 30.0
    tx_buffer_frames: int = 2
    realtime_priority: int = 30
    co_defaults: LineSettings = field(default_factory=LineSettings)
    co_lines: dict[str, LineSettings] = field(default_factory=dict)
    default_scenario: Scenario = field(default_factory=Scenario)
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    phones: dict[str, PhoneSettings] = field(default_factory=dict)
    traffic: dict | None = None
    echo: dict[str, HybridSettings] = field(default_factory=dict)  # by kind of port: fxo, fxs, e1
    echo_ports: dict[str, HybridSettings] = field(default_factory=dict)  # per port (or E1 timeslot)

    def echo_for(self, port: str, kind: str) -> HybridSettings:
        """The hybrid of ``port`` (a port of kind ``kind``): its own settings, else its kind's."""
        return self.echo_ports.get(port) or self.echo.get(kind, HybridSettings())


def _num(v: object, key: str) -> float:
    if not isinstance(v, int | float) or isinstance(v, bool):
        raise ConfigError(f"{key}: must be a number")
    return float(v)


def parse_config(data: dict) -> SimConfig:
    """Build a SimConfig from parsed TOML; raise ConfigError naming the bad key."""
    cfg = SimConfig()
    board = data.get("board", {})
    if not isinstance(board, dict):
        raise ConfigError("board: must be a table")
    cfg.name = str(board.get("name", cfg.name))
    cfg.record_s = _num(board.get("record_s", cfg.record_s), "board.record_s")
    cfg.e1_record_s = _num(board.get("e1_record_s", cfg.e1_record_s), "board.e1_record_s")
    buf = board.get("tx_buffer_frames", cfg.tx_buffer_frames)
    if not isinstance(buf, int) or isinstance(buf, bool) or not 1 <= buf <= 8:
        raise ConfigError("board.tx_buffer_frames: must be a whole number of frames from 1 to 8")
    cfg.tx_buffer_frames = buf
    prio = board.get("realtime_priority", cfg.realtime_priority)
    if not isinstance(prio, int) or isinstance(prio, bool) or not 0 <= prio <= 99:
        raise ConfigError("board.realtime_priority: must be a whole number from 0 (off) to 99")
    cfg.realtime_priority = prio
    spans = data.get("span")
    if spans is None:
        spans = tomllib.loads(DEFAULT_TOML)["span"]
    if not isinstance(spans, list) or not spans:
        raise ConfigError("span: must be a non-empty array of tables")
    ids = set()
    for i, s in enumerate(spans):
        key = f"span[{i}]"
        if not isinstance(s, dict):
            raise ConfigError(f"{key}: must be a table")
        kind = s.get("kind")
        sid = s.get("id", i + 1)
        if not isinstance(sid, int) or sid < 1 or sid in ids:
            raise ConfigError(f"{key}.id: must be a unique positive integer")
        ids.add(sid)
        if kind in ("fxs", "fxo"):
            n = s.get("ports")
            if not isinstance(n, int) or not 1 <= n <= 64:
                raise ConfigError(f"{key}.ports: must be an integer 1..64")
            cfg.layout.append({"id": sid, "kind": kind, "ports": n})
            if kind == "fxs":
                exts = s.get("extensions")
                if exts is None:
                    base = s.get("first_extension", 8001 if sid == 2 else sid * 1000 + 1)
                    if not isinstance(base, int):
                        raise ConfigError(f"{key}.first_extension: must be an integer")
                    exts = [str(base + k) for k in range(n)]
                if not isinstance(exts, list) or len(exts) != n:
                    raise ConfigError(f"{key}.extensions: must list {n} extension labels")
                for k, ext in enumerate(exts, start=1):
                    cfg.phones[f"{sid}/{k}"] = PhoneSettings(str(ext))
        elif kind == "e1":
            sig = s.get("signalling", "cas")
            if sig not in ("cas", "hdlc"):
                raise ConfigError(f"{key}.signalling: must be 'cas' or 'hdlc'")
            cfg.layout.append({"id": sid, "kind": "e1", "signalling": sig})
        else:
            raise ConfigError(f"{key}.kind: must be 'fxs', 'fxo' or 'e1'")
    spans_built = build_spans(cfg.layout)
    ports = {p.id: p for sp in spans_built for p in sp.ports}

    co = data.get("co", {})
    if not isinstance(co, dict):
        raise ConfigError("co: must be a table")
    base = {k: v for k, v in co.items() if k not in ("line", "scenario", "default_scenario")}
    try:
        cfg.co_defaults = LineSettings.from_dict(base)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"co: {exc}") from exc
    for i, ln in enumerate(co.get("line", [])):
        port = ln.get("port") if isinstance(ln, dict) else None
        if port not in ports or ports[port].kind.value != "fxo":
            raise ConfigError(f"co.line[{i}].port: {port!r} is not an FXO port of the layout")
        try:
            cfg.co_lines[port] = LineSettings.from_dict(ln, cfg.co_defaults)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"co.line[{i}]: {exc}") from exc
    try:
        if "default_scenario" in co:
            cfg.default_scenario = Scenario.from_dict(co["default_scenario"])
        for i, sc in enumerate(co.get("scenario", [])):
            num = sc.get("number")
            if not isinstance(num, str) or not num:
                raise ConfigError(f"co.scenario[{i}].number: must be a string")
            cfg.scenarios[num] = Scenario.from_dict(sc)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"co.scenario: {exc}") from exc

    for i, ph in enumerate(data.get("phone", [])):
        port = ph.get("port") if isinstance(ph, dict) else None
        if port not in cfg.phones:
            raise ConfigError(f"phone[{i}].port: {port!r} is not an FXS port of the layout")
        cur = cfg.phones[port]
        cid = ph.get("callerid", cur.callerid)
        if cid not in ("fsk", "dtmf", "auto", "none"):
            raise ConfigError(f"phone[{i}].callerid: must be fsk, dtmf, auto or none")
        rings = ph.get("auto_answer_rings", 0)
        if not isinstance(rings, int) or rings < 0:
            raise ConfigError(f"phone[{i}].auto_answer_rings: must be a non-negative integer")
        hang = ph.get("auto_hangup_s")
        cfg.phones[port] = PhoneSettings(str(ph.get("extension", cur.extension)), cid, rings,
                                         None if hang is None else _num(hang, f"phone[{i}].auto_hangup_s"))
    exts = [p.extension for p in cfg.phones.values()]
    if len(set(exts)) != len(exts):
        raise ConfigError("phone: extension labels must be unique")
    _parse_echo(data.get("echo"), cfg, ports)
    traffic = data.get("traffic")
    if traffic is not None and not isinstance(traffic, dict):
        raise ConfigError("traffic: must be a table")
    cfg.traffic = traffic
    return cfg


def _parse_echo(echo: object, cfg: SimConfig, ports: dict) -> None:
    """``[echo]``: per kind of port (``fxo``, ``fxs``, ``e1``) and ``[[echo.port]]`` overrides. A config
    without them gets the default's (the realistic lines of ``DEFAULT_TOML``); a partial table takes
    the missing keys from there."""
    defaults = tomllib.loads(DEFAULT_TOML)["echo"]
    if echo is None:
        echo = {}
    if not isinstance(echo, dict):
        raise ConfigError("echo: must be a table")
    bad = sorted(set(echo) - {"fxo", "fxs", "e1", "port"})
    if bad:
        raise ConfigError(f"echo.{bad[0]}: unknown key (fxo, fxs, e1, port)")
    try:
        for kind in ("fxo", "fxs", "e1"):
            base = HybridSettings.from_dict(defaults[kind], f"echo.{kind}")
            cfg.echo[kind] = HybridSettings.from_dict(echo[kind], f"echo.{kind}", base) if kind in echo else base
        overrides = echo.get("port", [])
        if not isinstance(overrides, list):
            raise ValueError("echo.port: must be an array of tables")
        for i, ov in enumerate(overrides):
            key = f"echo.port[{i}]"
            port = ov.get("port") if isinstance(ov, dict) else None
            if port not in ports:
                raise ValueError(f"{key}.port: {port!r} is not a port of the layout")
            kind = ports[port].kind.value
            cfg.echo_ports[port] = HybridSettings.from_dict(ov, key, cfg.echo.get(kind))
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def load_config(path: str | Path | None = None) -> SimConfig:
    """The config at ``path`` (or the default); raises ConfigError with the file name on problems."""
    if path is None:
        return parse_config(tomllib.loads(DEFAULT_TOML))
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: {exc}") from exc
    try:
        return parse_config(data)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from exc
