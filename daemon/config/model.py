"""The box's configuration: TOML in /etc/callbox/callbox.toml, validated on load.

Every error names the file, the key path and the line (``ConfigError``), so an installer can go
straight to the mistake. The schema is declared once, as the dataclasses below and the ``_TABLES``
description; ``load_config`` parses, checks types, ranges and cross-references (ports exist on the
board layout is checked later, when the board is open), and returns a ``Config``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from daemon.acd.config import AcdConfig, parse_acd
from daemon.api.limits import ApiLimits
from daemon.calls.dnis import DnisRoute, parse_dnis
from daemon.calls.number_plan import Number, check_numbers
from daemon.calls.pin_guard import PinLimits
from daemon.config.checks import Checker, ConfigError
from daemon.config.class_of_service import CosConfig, check_cos, parse_cos
from daemon.config.pin_policy import read_pin
from drivers import DRIVERS

__all__ = ["ConfigError", "Config", "load_config", "parse_config", "DEFAULT_PATH"]

DEFAULT_PATH = Path("/etc/callbox/callbox.toml")

_PORT_RE = re.compile(r"^\d+/\d+$")
_TIMESLOTS_RE = re.compile(r"^\s*\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*\s*$")
E1_BEARERS = tuple(list(range(1, 16)) + list(range(17, 32)))
_NUMBER_RE = re.compile(r"^[0-9*#]+$")
_GROUP_RE = re.compile(r"^([A-Za-z0-9_\-]{1,32})?$")


@dataclass(frozen=True)
class LineConfig:
    """An FXO trunk line to the central office."""

    port: str
    name: str
    destination: tuple[str, ...] = ()  # extension numbers to hunt over for inbound calls
    callerid: str = "fsk"  # fsk | dtmf | none
    disconnect: tuple[str, ...] = ("busy",)  # busy | loop_current | polarity
    answer_detect: str = "audio"  # audio (the far end's audio, and a polarity reversal) | polarity (only that)
    outbound: bool = True
    ivr: str = ""  # a flow of [ivr.flows] that answers inbound calls first ("" = ring the destinations)
    cos: tuple[str, ...] = ()  # class of service of its inbound calls sent out again ("" = [class_of_service] default)
    echo_cancel: bool = True  # cancel the line's echo of the box's own audio ([echo])


@dataclass(frozen=True)
class No1TrunkConfig:
    """A group of E1 timeslots with China No.1 (MFC/R2) signalling (``[[trunk]]``)."""

    name: str
    span: int
    timeslots: tuple[int, ...] = E1_BEARERS
    direction: str = "both"  # in | out | both
    variant: str = "china"  # signaling.no1.variant.DEFAULT_VARIANT
    destination: tuple[str, ...] = ()  # extension numbers to hunt over for inbound calls
    dnis_length: int = 0  # digits in a complete called number; 0 = complete after dnis_timeout_s
    dnis_timeout_s: float = 5.0
    ani: str = "first"  # first | after | none: when to ask for the calling number
    ani_after_digits: int = 1
    max_ani: int = 20
    ka: int = 1  # calling-party category sent on A-6
    kd: int = 1  # Group II category sent on A-3
    accept: str = "charge"  # charge (B-1) | no_charge (B-7)
    glare: str = "yield"  # yield | hold
    mf_level_dbm0: float = -11.0
    caller: str = ""  # ANI sent on outgoing calls ("" = the calling extension's number)
    timers: tuple[tuple[str, float], ...] = ()  # overrides of the variant's timers
    ivr: str = ""  # a flow of [ivr.flows] that answers inbound calls first (as on a [[line]])
    cos: tuple[str, ...] = ()  # as on a [[line]]
    echo_cancel: bool = False  # 4-wire at the box: only where the far exchange returns echo

    def ports(self) -> list[str]:
        return [f"{self.span}/{ts}" for ts in self.timeslots]

    @property
    def outbound(self) -> bool:
        return self.direction in ("out", "both")


@dataclass(frozen=True)
class ExtensionConfig:
    """An FXS port with an analog phone."""

    number: str
    port: str
    name: str = ""
    callerid: str = "fsk"  # fsk | dtmf | none
    flash_min_ms: int = 90
    flash_max_ms: int = 600
    disconnect: str = "busy"  # busy | loop_current
    voicemail_pin: str = ""  # the PIN of the extension's own voicemail box ("" = box without PIN)
    pickup_group: str = ""  # *# picks up calls ringing at extensions of the same group ("" = none)
    cos: tuple[str, ...] = ()  # the classes it may call (profiles or classes; () = [class_of_service] default)
    daily_minutes: float | None = None  # outside minutes a day (0 = no cap; None = [class_of_service]'s)
    echo_cancel: bool = True  # cancel the phone line's echo of the box's own audio ([echo])


@dataclass(frozen=True)
class VoicemailBoxConfig:
    """``[[voicemail]]``: a shared box (e.g. ``queue:general`` for after-hours messages)."""

    box: str
    pin: str = ""
    notify_extension: str = ""  # whose phone gets the stutter dial tone while there are new messages
    max_message_s: float = 120.0
    code: str = ""  # dialled on an extension to listen to this box (then its PIN)


@dataclass(frozen=True)
class IvrConfig:
    """``[ivr]``: the flow files (docs/ivr.md) and voicemail."""

    flows: tuple[tuple[str, str], ...] = ()  # (name, path of the flow file)
    voicemail_code: str = "*98"  # dialled on an extension: voicemail retrieval
    boxes: tuple[VoicemailBoxConfig, ...] = ()


@dataclass(frozen=True)
class DialplanConfig:
    outbound_prefix: str = "9"
    inter_digit_timeout_s: float = 4.0
    first_digit_timeout_s: float = 10.0
    no_answer_timeout_s: float = 30.0
    busy_tone_s: float = 30.0  # how long a released extension hears busy tone before silence


@dataclass(frozen=True)
class RecordingConfig:
    """``[recording]``: what is recorded and where (recorder/, docs/recorder.md)."""

    mode: str = "all"  # all | selected | on_demand | off
    format: str = "stereo-alaw"  # stereo-alaw | stereo-pcm16 | mono-alaw | mono-pcm16
    directory: str = ""  # default <state_dir>/recordings
    backup_dir: str = ""  # a second, verified copy ("" = none)
    trunks: tuple[str, ...] = ()  # mode "selected": record calls on these lines/trunks ...
    agents: tuple[str, ...] = ()  # ... or with these extensions
    queues: tuple[str, ...] = ()
    on_demand: bool = True  # feature code / API may start and stop recording during a call
    allow_stop: bool = True
    max_age_days: float = 0.0  # 0: keep
    max_gb: float = 0.0  # 0: no quota
    min_free_mb: int = 64  # stop recording (alarm) under this much free space; resume at twice it
    housekeeping_interval_s: float = 300.0  # retention and the second copy run this often


@dataclass(frozen=True)
class EchoConfig:
    """``[echo]``: the line echo cancellers (on the ports whose ``echo_cancel`` is true)."""

    tail_ms: float = 32.0  # how long an echo they cancel (after the board's own buffer)
    nlp_db: float = 12.0  # the gentle non-linear processor's most attenuation (0: off)


@dataclass(frozen=True)
class Config:
    path: str
    name: str = "callbox"
    state_dir: str = "/var/lib/callbox"
    cache_dir: str = ""  # what can be made again (the TTS cache): "" = in state_dir
    cache_max_mb: int = 256  # the TTS cache is pruned to this, the least recently spoken first
    log: str = "auto"  # auto | journal | stderr
    log_level: str = "info"
    realtime_priority: int = 20  # SCHED_FIFO priority of the tick loop's thread (0: normal scheduling)
    board_driver: str = "sim"
    board_socket: str = "/run/callbox-sim/board.sock"
    api_socket: str = "/run/callbox/api.sock"
    api_group: str = "callbox-api"
    api_tokens: tuple[tuple[str, str], ...] = ()  # (token, role): ``auth`` raises a connection to role
    # (token, label, classes): a token with its own class of service (its label names it in CDRs and errors)
    api_token_cos: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    api_limits: ApiLimits = field(default_factory=ApiLimits)  # connection caps
    recording: RecordingConfig = field(default_factory=RecordingConfig)
    ivr: IvrConfig = field(default_factory=IvrConfig)
    dialplan: DialplanConfig = field(default_factory=DialplanConfig)
    lines: tuple[LineConfig, ...] = ()
    extensions: tuple[ExtensionConfig, ...] = ()
    trunks: tuple[No1TrunkConfig, ...] = ()
    trunk_lines: tuple[LineConfig, ...] = ()  # one per No.1 timeslot, so call control treats it as a line
    dnis: tuple[DnisRoute, ...] = ()  # inbound trunk calls routed by the called number (daemon.calls.dnis)
    acd: AcdConfig = field(default_factory=AcdConfig)
    cos: CosConfig = field(default_factory=CosConfig)
    pin_limits: PinLimits = field(default_factory=PinLimits)  # [pin]: wrong PINs before a lockout, ...
    echo: EchoConfig = field(default_factory=EchoConfig)

    @property
    def tts_dir(self) -> Path:
        """Where synthesised prompts are cached: ``<cache_dir>/tts`` (``<state_dir>/tts`` without one)."""
        return Path(self.cache_dir or self.state_dir) / "tts"

    @property
    def utc_offset_min(self) -> int:
        """The box's one time zone (``[acd] utc_offset_min``): ACD days and intervals, CDR text, CSV."""
        return self.acd.settings.utc_offset_min

    def extension_by_number(self, number: str) -> ExtensionConfig | None:
        return next((e for e in self.extensions if e.number == number), None)

    def extension_by_port(self, port: str) -> ExtensionConfig | None:
        return next((e for e in self.extensions if e.port == port), None)

    def line_by_port(self, port: str) -> LineConfig | None:
        return next((ln for ln in self.lines if ln.port == port), None) or next(
            (ln for ln in self.trunk_lines if ln.port == port), None)

    def trunk_by_port(self, port: str) -> No1TrunkConfig | None:
        return next((t for t in self.trunks if port in t.ports()), None)


def load_config(path: Path | str) -> Config:
    """Read and validate a configuration file; raise ``ConfigError`` naming file, key and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, "", None, f"cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(path, "", None, f"not UTF-8 text: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise ConfigError(path, "", int(m.group(1)) if m else None, f"TOML syntax: {exc}") from exc
    return parse_config(data, path, text)


def parse_config(data: dict, path: Path | str, text: str = "") -> Config:
    c = Checker(Path(path), text)
    top = c.table(data, (), {"box", "board", "api", "dialplan", "line", "extension", "trunk", "recording", "ivr",
                              "voicemail", "acd", "agent", "queue", "dnis", "class_of_service", "pin",
                              "echo"})
    cos = parse_cos(c, top)
    profiles = dict(cos.profiles)

    box = c.table(top.get("box", {}), ("box",), {"name", "state_dir", "cache_dir", "cache_max_mb", "log", "log_level",
                                                 "realtime_priority"})
    board = c.table(top.get("board", {}), ("board",), {"driver", "socket"})
    api = c.table(top.get("api", {}), ("api",), {"socket", "group", "tokens", "max_clients", "max_clients_per_uid",
                                                  "admin_reserve"})
    api_tokens, api_token_cos = _parse_tokens(c, api, profiles)
    api_limits = _parse_api_limits(c, api)
    recording = _parse_recording(c, top.get("recording", {}))
    dp = c.table(top.get("dialplan", {}), ("dialplan",), {f for f in DialplanConfig.__dataclass_fields__})
    num = (int, float)
    dialplan = DialplanConfig(
        outbound_prefix=c.get(dp, ("dialplan",), "outbound_prefix", str, "9", pattern=_NUMBER_RE),
        inter_digit_timeout_s=float(c.get(dp, ("dialplan",), "inter_digit_timeout_s", num, 4.0, minimum=0.5)),
        first_digit_timeout_s=float(c.get(dp, ("dialplan",), "first_digit_timeout_s", num, 10.0, minimum=1)),
        no_answer_timeout_s=float(c.get(dp, ("dialplan",), "no_answer_timeout_s", num, 30.0, minimum=1)),
        busy_tone_s=float(c.get(dp, ("dialplan",), "busy_tone_s", num, 30.0, minimum=1)),
    )

    extensions: list[ExtensionConfig] = []
    raw_ext = top.get("extension", [])
    if not isinstance(raw_ext, list):
        raise c.fail(("extension",), "must be an array of tables ([[extension]])")
    for i, e in enumerate(raw_ext):
        kp = ("extension", i)
        c.table(e, kp, set(ExtensionConfig.__dataclass_fields__))
        ext = ExtensionConfig(
            number=c.get(e, kp, "number", str, pattern=_NUMBER_RE),
            port=c.get(e, kp, "port", str, pattern=_PORT_RE),
            name=c.get(e, kp, "name", str, ""),
            callerid=c.get(e, kp, "callerid", str, "fsk", choices=("fsk", "dtmf", "none")),
            flash_min_ms=c.get(e, kp, "flash_min_ms", int, 90, minimum=10),
            flash_max_ms=c.get(e, kp, "flash_max_ms", int, 600, minimum=50),
            disconnect=c.get(e, kp, "disconnect", str, "busy", choices=("busy", "loop_current")),
            voicemail_pin=read_pin(c, e, kp, (str(e.get("number", "")),), key="voicemail_pin"),
            pickup_group=c.get(e, kp, "pickup_group", str, "", pattern=_GROUP_RE),
            cos=c.str_list(e, kp, "cos", ()),
            daily_minutes=None if "daily_minutes" not in e else float(
                c.get(e, kp, "daily_minutes", (int, float), minimum=0)),
            echo_cancel=c.get(e, kp, "echo_cancel", bool, True),
        )
        check_cos(c, (*kp, "cos"), ext.cos, profiles)
        if ext.flash_max_ms <= ext.flash_min_ms:
            raise c.fail((*kp, "flash_max_ms"), "must be greater than flash_min_ms")
        for other in extensions:
            if other.port == ext.port:
                raise c.fail((*kp, "port"), f"port {ext.port} is already used by extension {other.number}")
        extensions.append(ext)
    numbers = {e.number for e in extensions}
    acd = parse_acd(c, top, numbers)
    for tok, grant in api_tokens:
        if grant.startswith("agent:") and acd.agent(grant[6:]) is None:
            raise c.fail(("api", "tokens", tok), f"{grant!r}: no [[agent]] with id {grant[6:]}")
    for i, agent in enumerate(acd.agents):
        check_cos(c, ("agent", i, "cos"), agent.cos, profiles)
    queues = {f"queue:{q.name}" for q in acd.queues}

    ivr = _parse_ivr(c, top, Path(path).parent, numbers)
    check_numbers(c, [
        Number(dialplan.outbound_prefix, "the outbound prefix", ("dialplan", "outbound_prefix")),
        *(Number(e.number, f"extension {e.number}", ("extension", i, "number")) for i, e in enumerate(extensions)),
        Number(ivr.voicemail_code, "the voicemail code", ("ivr", "voicemail_code")),
        *(Number(b.code, f"the code of voicemail box {b.box}", ("voicemail", i, "code"))
          for i, b in enumerate(ivr.boxes) if b.code)])
    lines: list[LineConfig] = []
    raw_lines = top.get("line", [])
    if not isinstance(raw_lines, list):
        raise c.fail(("line",), "must be an array of tables ([[line]])")
    for i, ln in enumerate(raw_lines):
        kp = ("line", i)
        c.table(ln, kp, set(LineConfig.__dataclass_fields__))
        line = LineConfig(
            port=c.get(ln, kp, "port", str, pattern=_PORT_RE),
            name=c.get(ln, kp, "name", str, ""),
            destination=c.str_list(ln, kp, "destination", ()),
            callerid=c.get(ln, kp, "callerid", str, "fsk", choices=("fsk", "dtmf", "none")),
            disconnect=c.str_list(ln, kp, "disconnect", ("busy",), choices=("busy", "loop_current", "polarity")),
            answer_detect=c.get(ln, kp, "answer_detect", str, "audio", choices=("audio", "polarity")),
            outbound=c.get(ln, kp, "outbound", bool, True),
            ivr=c.get(ln, kp, "ivr", str, ""),
            cos=c.str_list(ln, kp, "cos", ()),
            echo_cancel=c.get(ln, kp, "echo_cancel", bool, True),
        )
        check_cos(c, (*kp, "cos"), line.cos, profiles)
        if line.ivr and line.ivr not in dict(ivr.flows):
            raise c.fail((*kp, "ivr"), f"{line.ivr!r} is not a flow of [ivr.flows] ({', '.join(dict(ivr.flows)) or 'none'})")
        _check_destination(c, kp, line.destination, numbers, queues)
        if any(o.port == line.port for o in lines) or line.port in {e.port for e in extensions}:
            raise c.fail((*kp, "port"), f"port {line.port} is used twice")
        lines.append(line)

    trunks = _parse_trunks(c, top, numbers, {ln.port for ln in lines} | {e.port for e in extensions},
                           tuple(dict(ivr.flows)), queues)
    for i, trunk in enumerate(trunks):
        check_cos(c, ("trunk", i, "cos"), trunk.cos, profiles)
    trunk_lines = tuple(
        LineConfig(port=p, name=f"{t.name}/{p.split('/')[1]}", destination=t.destination, callerid="none",
                   disconnect=(), outbound=t.outbound, ivr=t.ivr, cos=t.cos, echo_cancel=t.echo_cancel)
        for t in trunks for p in t.ports())

    return Config(
        path=str(path),
        name=c.get(box, ("box",), "name", str, "callbox"),
        state_dir=c.get(box, ("box",), "state_dir", str, "/var/lib/callbox"),
        cache_dir=c.get(box, ("box",), "cache_dir", str, ""),
        cache_max_mb=c.get(box, ("box",), "cache_max_mb", int, 256, minimum=1, maximum=1 << 20),
        log=c.get(box, ("box",), "log", str, "auto", choices=("auto", "journal", "stderr")),
        log_level=c.get(box, ("box",), "log_level", str, "info", choices=("debug", "info", "warning", "error")),
        realtime_priority=c.get(box, ("box",), "realtime_priority", int, 20, minimum=0, maximum=99),
        board_driver=c.get(board, ("board",), "driver", str, "sim", choices=tuple(DRIVERS)),
        board_socket=c.get(board, ("board",), "socket", str, "/run/callbox-sim/board.sock"),
        api_socket=c.get(api, ("api",), "socket", str, "/run/callbox/api.sock"),
        api_group=c.get(api, ("api",), "group", str, "callbox-api"),
        api_tokens=api_tokens, api_token_cos=api_token_cos,
        api_limits=api_limits,
        recording=recording,
        ivr=ivr,
        dialplan=dialplan,
        lines=tuple(lines),
        extensions=tuple(extensions),
        trunks=trunks,
        trunk_lines=trunk_lines,
        dnis=parse_dnis(c, top, numbers, queues, set(dict(ivr.flows))),
        acd=acd,
        cos=cos,
        pin_limits=_parse_pin_limits(c, top.get("pin", {})),
        echo=_parse_echo(c, top.get("echo", {})),
    )


def _parse_echo(c: Checker, data: dict) -> EchoConfig:
    kp = ("echo",)
    t = c.table(data, kp, set(EchoConfig.__dataclass_fields__))
    num = (int, float)
    return EchoConfig(tail_ms=float(c.get(t, kp, "tail_ms", num, 32.0, minimum=8, maximum=128)),
                      nlp_db=float(c.get(t, kp, "nlp_db", num, 12.0, minimum=0, maximum=30)))


def _parse_pin_limits(c: Checker, data: dict) -> PinLimits:
    kp = ("pin",)
    t = c.table(data, kp, set(PinLimits.__dataclass_fields__))
    return PinLimits(max_failures=c.get(t, kp, "max_failures", int, 5, minimum=1),
                     lockout_s=float(c.get(t, kp, "lockout_s", (int, float), 900.0, minimum=1)),
                     delay_s=float(c.get(t, kp, "delay_s", (int, float), 1.0, minimum=0)))


def _parse_api_limits(c: Checker, api: dict) -> ApiLimits:
    """``[api]`` connection caps (``daemon.api.limits``): in total, per user, and the admins' reserve."""
    d, kp = ApiLimits(), ("api",)
    total = c.get(api, kp, "max_clients", int, d.max_clients, minimum=2)
    limits = ApiLimits(total, c.get(api, kp, "max_clients_per_uid", int, min(d.max_clients_per_uid, total), minimum=1),
                       c.get(api, kp, "admin_reserve", int, min(d.admin_reserve, total - 1), minimum=1))
    if limits.admin_reserve >= total:
        raise c.fail((*kp, "admin_reserve"), f"must be less than max_clients ({total})")
    if limits.max_clients_per_uid > total:
        raise c.fail((*kp, "max_clients_per_uid"), f"must be at most max_clients ({total})")
    return limits


def _check_destination(c: Checker, kp: tuple, destination: tuple[str, ...], numbers: set[str],
                       queues: set[str]) -> None:
    """A line's or trunk's ``destination``: extension numbers to hunt over, or one ``queue:NAME``."""
    for dest in destination:
        if dest.startswith("queue:"):
            if dest not in queues:
                raise c.fail((*kp, "destination"), f"{dest!r} is not a configured [[queue]] "
                                                   f"({', '.join(sorted(queues)) or 'none'})")
            if len(destination) > 1:
                raise c.fail((*kp, "destination"), "a queue must be the only destination")
        elif dest not in numbers:
            raise c.fail((*kp, "destination"), f"{dest!r} is not a configured extension number")


def _parse_tokens(c: Checker, api: dict, profiles: dict) -> tuple[tuple, tuple]:
    """``[api.tokens]``: each token (a secret, never shown in an error: ``api.tokens.token-N``) grants a role
    (``"integrator"``, ``"agent:1001"``), or is a table ``{ grant = ..., cos = ..., name = ... }`` whose class
    of service replaces its role's for the calls it asks for (``name`` labels it in CDRs and refusals)."""
    kp = ("api", "tokens")
    tokens = api.get("tokens", {})
    for i, tok in enumerate(tokens if isinstance(tokens, dict) else (), 1):
        c.secret(tok, f"token-{i}")
    tokens = c.table(tokens, kp, set(tokens) if isinstance(tokens, dict) else set())
    grants, classes = [], []
    for i, (tok, value) in enumerate(tokens.items(), 1):
        if isinstance(value, dict):
            t = c.table(value, (*kp, tok), {"grant", "cos", "name"})
            grant = c.get(t, (*kp, tok), "grant", str, pattern=_GRANT_RE)
            cos = c.str_list(t, (*kp, tok), "cos", ())
            check_cos(c, (*kp, tok, "cos"), cos, profiles)
            label = c.get(t, (*kp, tok), "name", str, f"token-{i}", pattern=_LABEL_RE)
            if cos:
                classes.append((tok, label, cos))
        else:
            grant = c.get(tokens, kp, tok, str, pattern=_GRANT_RE)
        grants.append((tok, grant))
    return tuple(grants), tuple(classes)


_LABEL_RE = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")
_GRANT_RE = re.compile(r"^(agent(:[0-9]{1,8})?|integrator|supervisor|admin)$")  # role, or agent:ID
_BOX_RE = re.compile(r"^(extension|agent):[0-9A-Za-z]+$|^queue:[A-Za-z0-9_-]+$")


def _parse_ivr(c: Checker, top: dict, base: Path, numbers: set[str]) -> IvrConfig:
    """``[ivr]`` and ``[[voicemail]]``; every flow file is loaded and validated here, so a bad flow stops
    the daemon at start-up with the flow file's own located errors."""
    from ivr.flow_config import FlowError, load_flow

    kp = ("ivr",)
    data = c.table(top.get("ivr", {}), kp, {"flows", "voicemail_code"})
    flows_raw = c.table(data.get("flows", {}), (*kp, "flows"), set(data.get("flows", {})))
    flows = []
    for name in flows_raw:
        rel = c.get(flows_raw, (*kp, "flows"), name, str)
        path = (base / rel).resolve()
        try:
            load_flow(path)
        except FlowError as exc:
            raise c.fail((*kp, "flows", name), f"flow file {path} is not valid:\n  {exc}") from None
        flows.append((name, str(path)))
    code = c.get(data, kp, "voicemail_code", str, "*98", pattern=re.compile(r"^[*#0-9]{2,6}$"))
    boxes = []
    raw = top.get("voicemail", [])
    if not isinstance(raw, list):
        raise c.fail(("voicemail",), "must be an array of tables ([[voicemail]])")
    for i, b in enumerate(raw):
        bkp = ("voicemail", i)
        c.table(b, bkp, set(VoicemailBoxConfig.__dataclass_fields__))
        box = VoicemailBoxConfig(
            box=c.get(b, bkp, "box", str, pattern=_BOX_RE),
            pin=read_pin(c, b, bkp, (str(b.get("box", "")).partition(":")[2],)),
            notify_extension=c.get(b, bkp, "notify_extension", str, ""),
            max_message_s=float(c.get(b, bkp, "max_message_s", (int, float), 120.0, minimum=5)),
            code=c.get(b, bkp, "code", str, "", pattern=re.compile(r"^([*#0-9]{2,6})?$")))
        if box.code and box.code in (code, *(o.code for o in boxes)):
            raise c.fail((*bkp, "code"), f"{box.code} is already used")
        if box.notify_extension and box.notify_extension not in numbers:
            raise c.fail((*bkp, "notify_extension"), f"{box.notify_extension!r} is not a configured extension")
        boxes.append(box)
    return IvrConfig(flows=tuple(flows), voicemail_code=code, boxes=tuple(boxes))


def _parse_recording(c: Checker, data: dict) -> RecordingConfig:
    kp = ("recording",)
    r = c.table(data, kp, {f.name for f in fields(RecordingConfig)})
    num = (int, float)
    return RecordingConfig(
        mode=c.get(r, kp, "mode", str, "all", choices=("all", "selected", "on_demand", "off")),
        format=c.get(r, kp, "format", str, "stereo-alaw",
                     choices=("stereo-alaw", "stereo-pcm16", "mono-alaw", "mono-pcm16")),
        directory=c.get(r, kp, "directory", str, ""),
        backup_dir=c.get(r, kp, "backup_dir", str, ""),
        trunks=c.str_list(r, kp, "trunks", ()),
        agents=c.str_list(r, kp, "agents", ()),
        queues=c.str_list(r, kp, "queues", ()),
        on_demand=c.get(r, kp, "on_demand", bool, True),
        allow_stop=c.get(r, kp, "allow_stop", bool, True),
        max_age_days=float(c.get(r, kp, "max_age_days", num, 0.0, minimum=0)),
        max_gb=float(c.get(r, kp, "max_gb", num, 0.0, minimum=0)),
        min_free_mb=c.get(r, kp, "min_free_mb", int, 64, minimum=1),
        housekeeping_interval_s=float(c.get(r, kp, "housekeeping_interval_s", num, 300.0, minimum=1)),
    )


def parse_timeslots(text: str) -> tuple[int, ...]:
    """ "1-15,17-31" -> (1, ..., 15, 17, ..., 31); ValueError for anything else or TS16/0/>31."""
    if not _TIMESLOTS_RE.match(text):
        raise ValueError(f"{text!r} is not a timeslot list like \"1-15,17-31\"")
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        a, b = int(lo), int(hi or lo)
        if a > b:
            raise ValueError(f"range {part.strip()!r} runs backwards")
        out += range(a, b + 1)
    return tuple(out)


def _parse_trunks(c: Checker, top: dict, numbers: set[str], used_ports: set[str],
                  flows: tuple[str, ...], queues: set[str]) -> tuple[No1TrunkConfig, ...]:
    from signaling.no1.variant import DEFAULT_VARIANT, VARIANTS  # the variant tables name the valid timers

    raw = top.get("trunk", [])
    if not isinstance(raw, list):
        raise c.fail(("trunk",), "must be an array of tables ([[trunk]])")
    num = (int, float)
    trunks: list[No1TrunkConfig] = []
    taken: dict[str, str] = {}
    for i, t in enumerate(raw):
        kp = ("trunk", i)
        c.table(t, kp, set(No1TrunkConfig.__dataclass_fields__))
        name = c.get(t, kp, "name", str)
        ts_raw = c.get(t, kp, "timeslots", (str, list), "1-15,17-31")
        try:
            if isinstance(ts_raw, str):
                timeslots = parse_timeslots(ts_raw)
            elif all(isinstance(x, int) and not isinstance(x, bool) for x in ts_raw):
                timeslots = tuple(ts_raw)
            else:
                raise ValueError("must be integers")
        except ValueError as exc:
            raise c.fail((*kp, "timeslots"), str(exc)) from None
        bad = [ts for ts in timeslots if ts not in E1_BEARERS]
        if bad or not timeslots or len(set(timeslots)) != len(timeslots):
            why = f"{bad[0]} is not a bearer timeslot (1-15, 17-31)" if bad else "must list distinct timeslots"
            raise c.fail((*kp, "timeslots"), why)
        variant_name = c.get(t, kp, "variant", str, DEFAULT_VARIANT, choices=tuple(VARIANTS))
        variant = VARIANTS[variant_name]
        timers_raw = t.get("timers", {})
        if not isinstance(timers_raw, dict):
            raise c.fail((*kp, "timers"), "must be a table of timer = seconds")
        for tname, value in timers_raw.items():
            if tname not in variant.timers:
                raise c.fail((*kp, "timers", tname),
                             f"unknown timer (expected one of: {', '.join(sorted(variant.timers))})")
            if isinstance(value, bool) or not isinstance(value, num) or value < 0:
                raise c.fail((*kp, "timers", tname), f"must be a number of seconds >= 0, not {value!r}")
        trunk = No1TrunkConfig(
            name=name,
            span=c.get(t, kp, "span", int, minimum=1),
            timeslots=timeslots,
            direction=c.get(t, kp, "direction", str, "both", choices=("in", "out", "both")),
            variant=variant_name,
            destination=c.str_list(t, kp, "destination", ()),
            dnis_length=c.get(t, kp, "dnis_length", int, 0, minimum=0),
            dnis_timeout_s=float(c.get(t, kp, "dnis_timeout_s", num, 5.0, minimum=0.5)),
            ani=c.get(t, kp, "ani", str, "first", choices=("first", "after", "none")),
            ani_after_digits=c.get(t, kp, "ani_after_digits", int, 1, minimum=1),
            max_ani=c.get(t, kp, "max_ani", int, 20, minimum=1),
            ka=c.get(t, kp, "ka", int, 1, minimum=1),
            kd=c.get(t, kp, "kd", int, 1, minimum=1),
            accept=c.get(t, kp, "accept", str, "charge", choices=("charge", "no_charge")),
            glare=c.get(t, kp, "glare", str, "yield", choices=("yield", "hold")),
            mf_level_dbm0=float(c.get(t, kp, "mf_level_dbm0", num, -11.0)),
            caller=c.get(t, kp, "caller", str, "", pattern=re.compile(r"^[0-9]*$")),
            timers=tuple(sorted((k, float(v)) for k, v in timers_raw.items())),
            ivr=c.get(t, kp, "ivr", str, ""),
            cos=c.str_list(t, kp, "cos", ()),
            echo_cancel=c.get(t, kp, "echo_cancel", bool, False),
        )
        if trunk.ivr and trunk.ivr not in flows:
            raise c.fail((*kp, "ivr"), f"{trunk.ivr!r} is not a flow of [ivr.flows] ({', '.join(flows) or 'none'})")
        for key in ("ka", "kd"):
            if getattr(trunk, key) > 15:
                raise c.fail((*kp, key), f"must be an R2 signal 1..15, not {getattr(trunk, key)}")
        if not -30.0 <= trunk.mf_level_dbm0 <= -3.0:
            raise c.fail((*kp, "mf_level_dbm0"), f"must be between -30 and -3 dBm0, not {trunk.mf_level_dbm0}")
        _check_destination(c, kp, trunk.destination, numbers, queues)
        if any(o.name == trunk.name for o in trunks):
            raise c.fail((*kp, "name"), f"trunk {trunk.name!r} is defined twice")
        for p in trunk.ports():
            if p in taken or p in used_ports:
                raise c.fail((*kp, "timeslots"), f"timeslot {p} is already used by {taken.get(p, 'a line')}")
            taken[p] = f"trunk {trunk.name!r}"
        trunks.append(trunk)
    return tuple(trunks)
