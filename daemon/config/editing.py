"""Configuration through the API: ``config.get`` and ``config.set`` (admin).

``config.set`` takes either the whole TOML ``text`` or ``changes``: ``[{key, value}, ...]`` where
``key`` is a path like ``box.name``, ``dialplan.no_answer_timeout_s``, ``recording.mode``,
``extension[8001].name``, ``line[1/1].destination`` or ``trunk[CT-1].dnis_length`` (arrays of tables
are addressed by their identifying key: extension by number, line by port, trunk by name, voicemail
by box, agent by id, queue by name); a ``value`` of nil removes the key (back to its default). A key
naming an entry itself (``agent[1024]``) takes a table (the entry is added, or replaced whole) or nil
(removed). Changes are made with tomlkit, so comments and layout survive; a table value is written
inline (``skills = { mandarin = 5 }``). The result is validated with ``daemon.config.model.parse_config`` before
anything is written (a mistake is a ``bad_argument`` reply naming file, line and key); then the file
is written atomically (temp file in the same directory, fsync, rename, fsync of the directory; the
previous file kept as ``callbox.toml.bak``) and applied without dropping calls
(``Engine.apply_config``). What cannot change while running (ports added, removed or moved, board
and API sockets, state_dir, IVR, recording; a trunk added, removed or renamed, or moved to another
span, timeslots or variant) is saved and listed as ``restart_required``; a trunk's other settings
(destination, direction, DNIS length, ...) apply at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from daemon.api.limits import fit_to_descriptors
from daemon.api.protocol import MAX_MESSAGE, ApiError, ErrorCode
from daemon.api.roles import ADMIN
from daemon.api.schema import Arg, Args, List, Opt, Str, Toml
from daemon.config.layout import check_layout
from daemon.config.model import Config, ConfigError, parse_config

log = logging.getLogger(__name__)

# arrays of tables and the key that identifies one entry in a path (``extension[8001]``)
ID_KEYS = {"extension": "number", "line": "port", "trunk": "name", "voicemail": "box", "agent": "id", "queue": "name"}
# settings the daemon's command line may override: the running value is kept whatever the file says
OVERRIDABLE = ("state_dir", "cache_dir", "board_socket", "api_socket", "log")
# settings only read at start-up: (Config field, the key an installer knows it by)
RESTART_FIELDS = (("state_dir", "box.state_dir"), ("cache_dir", "box.cache_dir"), ("log", "box.log"), ("log_level", "box.log_level"),
                  ("board_driver", "board.driver"), ("board_socket", "board.socket"),
                  ("api_socket", "api.socket"), ("api_group", "api.group"))
# what the engine, call control and the API read at event time: these apply at once
LIVE_FIELDS = {"path", "name", "api_tokens", "api_token_cos", "api_limits", "dialplan", "extensions", "lines", "trunks", "trunk_lines",
               "acd", "cos", "pin_limits"}
_SEGMENT = re.compile(r"([A-Za-z0-9_\-]+)(?:\[([^\]]+)\])?")


class PathError(ValueError):
    """A key path that does not name a setting: the message names the path."""


def split_path(key: str) -> list[tuple[str, str | None]]:
    """``"extension[8001].name"`` -> ``[("extension", "8001"), ("name", None)]``."""
    parts: list[tuple[str, str | None]] = []
    pos = 0
    while True:
        m = _SEGMENT.match(key, pos)
        if m is None:
            raise PathError(f"{key!r} is not a key path (like box.name or extension[8001].name)")
        parts.append((m.group(1), m.group(2)))
        pos = m.end()
        if pos == len(key):
            return parts
        if key[pos] != ".":
            raise PathError(f"{key!r} is not a key path (like box.name or extension[8001].name)")
        pos += 1


def _find(container: Any, name: str, ident: str, key: str) -> tuple[str, Any, list[int]]:
    """``name[ident]`` in ``container``: the identifying key, the array of tables (None if there is
    none) and the indexes of the entries whose identifying key is ``ident``."""
    id_key = ID_KEYS.get(name)
    if id_key is None:
        raise PathError(f"{key}: {name} is not an array of tables ({', '.join(ID_KEYS)} are)")
    aot = container.get(name)
    if aot is not None and not isinstance(aot, AoT | list):
        raise PathError(f"{key}: {name} is not an array of tables")
    return id_key, aot, [i for i, item in enumerate(aot or []) if str(item.get(id_key)) == ident]


def _entry(container: Any, name: str, ident: str, key: str) -> Any:
    id_key, aot, found = _find(container, name, ident, key)
    if aot is None:
        raise PathError(f"{key}: there is no [[{name}]] in the file")
    if not found:
        raise PathError(f"{key}: no [[{name}]] with {id_key} = {ident!r}")
    return aot[found[0]]


def set_value(doc: tomlkit.TOMLDocument, key: str, value: Any) -> None:
    """Set (``value`` not None) or remove (None) the setting at ``key`` in ``doc``, in place."""
    parts = split_path(key)
    container: Any = doc
    created: Any = None  # a table this change had to create: it ends with a blank line, as the others do
    for name, ident in parts[:-1]:
        if ident is not None:
            container = _entry(container, name, ident, key)
            continue
        nxt = container.get(name)
        if nxt is None:
            if value is None:
                return
            container[name] = tomlkit.table()
            nxt = container[name]
            created = nxt
        if not isinstance(nxt, Table | dict):
            raise PathError(f"{key}: {name} is not a table")
        container = nxt
    name, ident = parts[-1]
    if ident is not None:
        _set_entry(container, name, ident, key, value)
        return
    if value is None:
        if name in container:
            del container[name]
    else:
        put(container, name, value)
    if created is not None:
        created.add(tomlkit.nl())


_BARE = re.compile(r"^[A-Za-z0-9_\-]+$")


def _toml(value: Any) -> str:
    """``value`` as TOML text, tables inline as the files write them (``{ 1 = "routes", 2 = "booking" }``)."""
    if isinstance(value, dict):
        items = [f"{k if _BARE.match(str(k)) else json.dumps(str(k), ensure_ascii=False)} = {_toml(v)}"
                 for k, v in value.items()]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return tomlkit.item(value).as_string()


def toml_item(value: Any, old: Any = None) -> Any:
    """A TOML item for ``value``; a table (or a list holding one) is written inline
    (``skills = { mandarin = 5 }``), unless it replaces a ``[section]`` (``old``), which stays one."""
    if isinstance(value, dict | list) and not isinstance(old, Table | AoT):
        return tomlkit.parse(f"x = {_toml(value)}\n")["x"]
    return tomlkit.item(value)


def put(container: Any, name: str, value: Any) -> None:
    """Set ``container[name]`` to ``value``, keeping the old line's own comment and spacing."""
    old = container.get(name)
    item = toml_item(value, old)
    trivia = getattr(old, "trivia", None)
    if trivia is not None and hasattr(item, "trivia"):
        item.trivia.comment = trivia.comment
        item.trivia.comment_ws = trivia.comment_ws
        item.trivia.indent = trivia.indent
        item.trivia.trail = trivia.trail
    container[name] = item


def _set_entry(container: Any, name: str, ident: str, key: str, value: Any) -> None:
    """``agent[1024]`` itself: a table of settings adds that entry (or replaces it whole); nil removes it."""
    id_key, aot, found = _find(container, name, ident, key)
    if value is None:
        for i in reversed(found):
            del aot[i]
        return
    if not isinstance(value, dict):
        raise PathError(f"{key}: a [[{name}]] entry is set to a table of its settings (nil removes it)")
    table = tomlkit.table()
    table[id_key] = ident
    for k, v in value.items():
        if k != id_key:
            table[k] = toml_item(v)
    table.add(tomlkit.nl())
    if aot is None:
        container[name] = tomlkit.aot()
        aot = container[name]
    if found:
        aot[found[0]] = table
    else:
        aot.append(table)


def edit_text(text: str, changes: list[dict], set_value: Callable[[Any, Any, Any], None] = set_value) -> str:
    """``text`` with ``changes`` (``[{key, value}]``) made by ``set_value`` (the box configuration's
    key paths; ``daemon.flows.flow_edit`` passes its own); layout and comments kept."""
    doc = tomlkit.parse(text)
    for change in changes:
        set_value(doc, change["key"], change.get("value"))
    return tomlkit.dumps(doc)


def validate(text: str, path: Path | str) -> Config:
    """Parse and validate ``text`` as the file at ``path``; ``ConfigError`` naming file, line and key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise ConfigError(path, "", int(m.group(1)) if m else None, f"TOML syntax: {exc}") from exc
    return parse_config(data, path, text)


def write_atomically(path: Path | str, text: str) -> None:
    """Replace ``path`` with ``text``: temp file beside it, fsync, rename, fsync the directory. The
    previous file is kept as ``<name>.bak`` (a hard link, so the old file never disappears)."""
    path = Path(path)
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
            bak = path.with_name(path.name + ".bak")
            bak_tmp = path.with_name(f".{path.name}.bak.tmp")
            bak_tmp.unlink(missing_ok=True)
            try:
                os.link(path, bak_tmp)
            except OSError:  # a file system without hard links
                shutil.copy2(path, bak_tmp)
            os.replace(bak_tmp, bak)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _layout(cfg: Config) -> tuple:
    return (tuple((e.number, e.port) for e in cfg.extensions), tuple(ln.port for ln in cfg.lines))


def _trunk_layout(cfg: Config) -> tuple:
    return tuple((t.name, t.span, t.timeslots, t.variant) for t in cfg.trunks)


def plan_apply(running: Config, old_file: Config | None, new_file: Config) -> tuple[Config, list[str]]:
    """What to run now, and which changed keys wait for a restart.

    ``old_file`` is the file as it was (before this change), ``new_file`` as it will be: a difference
    between them in a start-up-only setting is reported; the running value is kept for those (and for
    what the command line overrides)."""
    base = old_file if old_file is not None else running
    restart: list[str] = []
    keep: dict[str, Any] = {f: getattr(running, f) for f in OVERRIDABLE}
    for field, key in RESTART_FIELDS:
        if getattr(base, field) != getattr(new_file, field):
            restart.append(key)
        keep.setdefault(field, getattr(running, field))
    for fld in dataclasses.fields(new_file.recording):
        if getattr(base.recording, fld.name) != getattr(new_file.recording, fld.name):
            restart.append(f"recording.{fld.name}")
    keep["recording"] = running.recording
    if base.ivr != new_file.ivr:
        restart.append("ivr")
    keep["ivr"] = running.ivr
    if _trunk_layout(base) != _trunk_layout(new_file) or _trunk_layout(running) != _trunk_layout(new_file):
        # a trunk added, removed, renamed, or moved to other timeslots: the spans' signalling is set up
        # at start; the same timeslots take their new settings at once (the engine swaps the machines' config)
        restart.append("trunk")
        keep["trunks"], keep["trunk_lines"] = running.trunks, running.trunk_lines
    if _layout(base) != _layout(new_file) or _layout(running) != _layout(new_file):
        old_ext, new_ext = dict(_layout(base)[0]), dict(_layout(new_file)[0])
        restart += [f"extension[{n}]" for n in sorted(set(old_ext) ^ set(new_ext))]
        restart += [f"extension[{n}].port" for n in sorted(set(old_ext) & set(new_ext)) if old_ext[n] != new_ext[n]]
        old_ln, new_ln = set(_layout(base)[1]), set(_layout(new_file)[1])
        restart += [f"line[{p}]" for p in sorted(old_ln ^ new_ln)] or (
            ["line"] if _layout(base)[1] != _layout(new_file)[1] else [])
        # what is on the same port as now takes its new settings; the rest waits for the restart
        new_exts = {(e.number, e.port): e for e in new_file.extensions}
        new_lines = {ln.port: ln for ln in new_file.lines}
        keep["extensions"] = tuple(new_exts.get((e.number, e.port), e) for e in running.extensions)
        keep["lines"] = tuple(new_lines.get(ln.port, ln) for ln in running.lines)
    else:
        pins = {e.number: e.voicemail_pin for e in base.extensions}
        restart += [f"extension[{e.number}].voicemail_pin" for e in new_file.extensions
                    if pins.get(e.number) != e.voicemail_pin]
    if not (running.acd.queues or running.acd.agents):  # the ACD starts only with something to run
        if base.acd != new_file.acd:
            restart.append("acd")
        keep["acd"] = running.acd
    for fld in dataclasses.fields(Config):  # sections added to Config later: start-up only until known otherwise
        if fld.name not in keep and fld.name not in LIVE_FIELDS:
            if getattr(base, fld.name) != getattr(new_file, fld.name):
                restart.append(fld.name)
            keep[fld.name] = getattr(running, fld.name)
    return dataclasses.replace(new_file, **keep), restart


def read_for_api(path: Path) -> tuple[str, dict | None]:
    """A TOML file's text and data (None if it does not parse) for a ``*.get`` op; ``not_found`` if unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ApiError(ErrorCode.NOT_FOUND, f"{path}: cannot read: {exc.strerror}") from exc
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return text, None


CONFIG_KEY = Str(256, min_len=1, what="a key path like box.name or extension[8001].name")
MAX_CHANGES = 1000


def edit_args(key: Arg = CONFIG_KEY, **more: Arg) -> Args:
    """The arguments of a ``*.set`` op: ``more``, and either ``text`` (the whole file) or ``changes``
    (``[{key, value}]``, ``value`` any TOML value or nil)."""
    return Args({**more, "text": Opt(Str(MAX_MESSAGE)),
                 "changes": Opt(List(Args({"key": key, "value": Opt(Toml())}), max_len=MAX_CHANGES, min_len=1))},
                one_of=[("text", "changes")])


SET_ARGS = edit_args()


async def read_and_edit(path: Path, text: str | None, changes: list | None,
                        edit: Callable[[str, list], str]) -> tuple[str, str]:
    """(old text, new text) of ``path``: ``text`` as given, or ``edit(old, changes)``; read and edited
    off the loop (parsing and editing TOML takes milliseconds, more with many changes). A change that
    cannot be made (a ``ValueError`` such as ``PathError``, or a ``TypeError``) is ``bad_argument``
    naming the file."""
    loop = asyncio.get_running_loop()
    try:
        old_text = await loop.run_in_executor(None, lambda: path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ApiError(ErrorCode.INTERNAL, f"{path}: cannot read: {exc.strerror}") from exc
    try:
        return old_text, text if text is not None else await loop.run_in_executor(None, edit, old_text, changes)
    except (ValueError, TypeError) as exc:
        raise ApiError(ErrorCode.BAD_ARGUMENT, f"{path}: {exc}") from exc
    except tomlkit.exceptions.TOMLKitError as exc:
        raise ApiError(ErrorCode.BAD_ARGUMENT, f"{path}: the file cannot be edited: {exc}") from exc


SECRET_WORDS = ("pin", "token", "secret", "password")


def mask_secrets(req: dict) -> dict:
    """``config.set``'s arguments as the audit log keeps them (a new map): a secret's value (a key
    naming a PIN, token, secret or password, and every ``api.tokens`` key, whose name is the token) is
    ``****``; a whole file (``text``) is kept as its length and digest."""
    req = dict(req)
    if isinstance(req.get("text"), str):
        text = req["text"]
        req["text"] = f"<{len(text)} characters, sha256 {hashlib.sha256(text.encode()).hexdigest()[:16]}>"
    if isinstance(req.get("changes"), list):  # new maps: the caller's own are left as they were
        req["changes"] = [_masked(dict(change)) for change in req["changes"] if isinstance(change, dict)]
    return req


def _masked(change: dict) -> dict:
    key = str(change.get("key", ""))
    if key.startswith("api.tokens"):
        change["key"] = "api.tokens.****" if key != "api.tokens" else key
        change["value"] = "****" if key == "api.tokens" else change.get("value")
    elif any(w in key.rsplit(".", 1)[-1].lower() for w in SECRET_WORDS):
        change["value"] = "****"
    elif isinstance(change.get("value"), dict):  # a whole entry (agent[1024] = {...}): its secrets
        change["value"] = {k: "****" if any(w in k.lower() for w in SECRET_WORDS) else v
                           for k, v in change["value"].items()}
    return change


class ConfigOps:
    """The ``config.*`` ops of one running service."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self._lock = asyncio.Lock()

    @property
    def path(self) -> Path:
        return Path(self.service.config.path)

    def get(self, req: dict) -> dict:
        text, data = read_for_api(self.path)
        return {"path": str(self.path), "text": text, "data": data}

    async def set(self, req: dict) -> dict:
        text, changes = req["text"], req["changes"]
        loop = asyncio.get_running_loop()
        async with self._lock:
            path = self.path
            old_text, new_text = await read_and_edit(path, text, changes, edit_text)
            try:  # validating reads and checks every file the config names: off the loop
                new_file = await loop.run_in_executor(None, validate, new_text, path)
                if self.service.board_up:  # what the board lacks would stop the daemon at its next start
                    check_layout(new_file, self.service.board.spans, new_text)
            except ConfigError as exc:
                raise ApiError(ErrorCode.BAD_ARGUMENT, str(exc)) from exc
            try:
                old_file = await loop.run_in_executor(None, validate, old_text, path)
            except ConfigError:
                old_file = None
            await loop.run_in_executor(None, write_atomically, path, new_text)
            return self.apply(old_file, new_file)

    def apply(self, old_file: Config | None, new_file: Config) -> dict:
        svc = self.service
        applied, restart = plan_apply(svc.config, old_file, new_file)
        ports = svc.engine.apply_config(applied)
        svc.config = applied
        svc.api.server_info["name"] = applied.name
        svc.api.tokens = dict(applied.api_tokens)
        svc.api.limits = fit_to_descriptors(applied.api_limits)  # connections already open stay
        if svc.acd is not None:
            restart += svc.acd.reconfigure(applied)
        log.info("configuration %s saved and applied (ports changed: %s; restart required for: %s)",
                 applied.path, ", ".join(ports) or "none", ", ".join(restart) or "nothing")
        return {"path": applied.path, "saved": True, "ports_changed": ports, "restart_required": restart}


def _with_names(rows: list[dict], config: Config) -> list[dict]:
    for row in rows:
        ext = config.extension_by_number(row["extension"]) if "extension" in row else None
        if ext is not None and ext.name:
            row["name"] = ext.name
    return rows


def register(api: Any, service: Any) -> None:
    """Register ``config.get`` and ``config.set`` (admin; set is audited); ``ports`` rows of extensions
    also carry the extension's ``name``."""
    ops = ConfigOps(service)
    api.op("config.get", ops.get, roles=ADMIN)
    # the audit log (and its log line) records the change, never a PIN or token
    api.op("config.set", ops.set, roles=ADMIN, audit=True, args=SET_ARGS, audit_args=mask_secrets)
    ports = api.ops["ports"]  # whatever the service's own ``ports`` op returns, plus the names
    api.op("ports", lambda req: _with_names(ports.handler(req), service.config), roles=ports.roles, audit=ports.audit,
           args=ports.args)
