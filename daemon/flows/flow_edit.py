"""IVR flow files through the API: ``ivr.flow.get`` and ``ivr.flow.set`` (admin; set is audited).

The flows are the files named by ``[ivr] flows`` in the box configuration (docs/ivr.md), addressed
by their name there. ``ivr.flow.set`` takes ``flow`` and either the whole TOML ``text`` or
``changes``: ``[{key, value}, ...]`` where ``key`` is a dotted path into the flow file such as
``prompts.welcome`` (TTS text), ``nodes.main.choices.1`` (a menu key's target), ``nodes.main.prompt``,
``schedules.office.holidays`` or ``lists.blacklist.numbers`` (or a list of path segments, for names
with dots); a ``value`` of nil removes the key. Changes are made with tomlkit, so comments and
layout survive; a table value given for an inline table (``choices``, ``hours``) stays inline.

The result is checked by ``ivr.flow_config`` exactly as at start-up (every problem, each naming
file, line, flow and node) before anything is written; then the file is written atomically (temp
file, fsync, rename, directory fsync, the previous file kept as ``<name>.bak``) and applied without
dropping calls: calls already in the flow finish with the flow they started in, the next call
entering it gets the new one, and its new prompts are synthesised off the tick at once.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import InlineTable, Table

from daemon.api.protocol import ApiError, ErrorCode
from daemon.api.roles import ADMIN
from daemon.api.schema import AnyOf, Args, List, Str
from daemon.config.editing import edit_args, edit_text, put, read_and_edit, read_for_api, write_atomically
from ivr.flow import Flow, FlowError
from ivr.flow_config import parse_flow

log = logging.getLogger(__name__)


FLOW = Str(64, min_len=1, what="a flow's name in [ivr] flows")
FLOW_KEY = AnyOf(Str(256, min_len=1, what="a key path like prompts.welcome"),
                 List(Str(64, min_len=1), max_len=16, min_len=1))
GET_ARGS = Args({"flow": FLOW})
SET_ARGS = edit_args(FLOW_KEY, flow=FLOW)


class FlowPathError(ValueError):
    """A key path that does not name a place in the flow file: the message names the path."""


def split_key(key: Any) -> list[str]:
    """``"nodes.main.choices.1"`` (or ``["nodes", "main", "choices", "1"]``) -> the path's segments."""
    parts = key.split(".") if isinstance(key, str) else key
    if not isinstance(parts, list) or not parts or not all(isinstance(p, str) and p for p in parts):
        raise FlowPathError(f"{key!r} is not a key path (like prompts.welcome or nodes.main.choices.1)")
    return parts


def _set_plain(data: dict, parts: list[str], value: Any, shown: str) -> None:
    for name in parts[:-1]:
        nxt = data.setdefault(name, {})
        if not isinstance(nxt, dict):
            raise FlowPathError(f"{shown}: {name} is not a table")
        data = nxt
    if value is None:
        data.pop(parts[-1], None)
    else:
        data[parts[-1]] = value


def set_value(doc: tomlkit.TOMLDocument, key: Any, value: Any) -> None:
    """Set (``value`` not None) or remove (None) the value at ``key`` in ``doc``, in place. Inside an
    inline table (a menu's ``choices``, a schedule's ``hours``) the inline table is written anew."""
    parts = split_key(key)
    shown = ".".join(parts)
    container: Any = doc
    for i, name in enumerate(parts[:-1]):
        nxt = container.get(name)
        if nxt is None and value is None:
            return
        if nxt is None and i >= 2 or isinstance(nxt, InlineTable):
            plain = nxt.unwrap() if nxt is not None else {}
            _set_plain(plain, parts[i + 1:], value, shown)
            put(container, name, plain)
            return
        if nxt is None:  # a node's, prompt's or schedule's own [section]
            container[name] = tomlkit.table()
            nxt = container[name]
        if not isinstance(nxt, Table | dict):
            raise FlowPathError(f"{shown}: {'.'.join(parts[:i + 1])} is not a table")
        container = nxt
    if value is None:
        if parts[-1] in container:
            del container[parts[-1]]
    else:
        put(container, parts[-1], value)


def edit_flow_text(text: str, changes: list[dict]) -> str:
    """``text`` with ``changes`` (``[{key, value}]``, flow key paths) made; layout and comments kept."""
    return edit_text(text, changes, set_value)


def validate_flow_text(text: str, path: Path | str) -> Flow:
    """Check ``text`` as the flow file at ``path`` (relative prompt files resolved beside it), as the
    daemon does at start-up; ``FlowError`` lists every problem, located."""
    from ivr.validate import validate

    path = Path(path)
    return validate(parse_flow(text, str(path), base_dir=path.parent))


class FlowOps:
    """The ``ivr.flow.*`` ops of one running service."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self._lock = asyncio.Lock()

    def _path(self, req: dict) -> tuple[str, Path]:
        name = req["flow"]
        flows = dict(self.service.config.ivr.flows)
        if name not in flows:
            raise ApiError(ErrorCode.NOT_FOUND, f"no flow {name!r} in [ivr] flows ({', '.join(flows) or 'none'})")
        return name, Path(flows[name])

    def list(self, req: dict) -> list[dict]:
        return [{"flow": name, "path": path} for name, path in self.service.config.ivr.flows]

    def get(self, req: dict) -> dict:
        name, path = self._path(req)
        text, data = read_for_api(path)
        return {"flow": name, "path": str(path), "text": text, "data": data}

    async def set(self, req: dict) -> dict:
        name, path = self._path(req)
        text, changes = req["text"], req["changes"]
        loop = asyncio.get_running_loop()
        async with self._lock:
            old_text, new_text = await read_and_edit(path, text, changes, edit_flow_text)
            try:
                flow = await loop.run_in_executor(None, validate_flow_text, new_text, path)
            except FlowError as exc:
                raise ApiError(ErrorCode.BAD_ARGUMENT, str(exc)) from exc
            await loop.run_in_executor(None, write_atomically, path, new_text)
            applied = self.apply(name, flow)
        log.info("IVR flow %s (%s) saved%s", name, path, " and applied" if applied else "; applies at the next start")
        return {"flow": name, "path": str(path), "saved": True, "applied": applied}

    def apply(self, name: str, flow: Flow) -> bool:
        """The next call entering ``name`` gets ``flow``; calls in the old one keep theirs."""
        ivr = getattr(self.service, "ivr", None)
        if ivr is None or name not in ivr.flows:
            return False
        ivr.flows[name] = flow
        # new TTS texts are synthesised now, off the tick; ``ready()`` waits for what is still running
        ivr.preloaded = [f for f in ivr.preloaded if not f.done()] + ivr.library.preload(flow)
        return True


def register(api: Any, service: Any) -> None:
    """Register ``ivr.flows``, ``ivr.flow.get`` (admin) and ``ivr.flow.set`` (admin, audited)."""
    ops = FlowOps(service)
    api.op("ivr.flows", ops.list, roles=ADMIN)
    api.op("ivr.flow.get", ops.get, roles=ADMIN, args=GET_ARGS)
    api.op("ivr.flow.set", ops.set, roles=ADMIN, audit=True, args=SET_ARGS)
