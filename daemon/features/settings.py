"""Per-extension settings a phone changes with feature codes: call forwarding (always, busy, no answer)
and do-not-disturb.

They live in the daemon's LMDB environment (``daemon.store.database``), table ``ext_settings``, one msgpack map
per extension number, so they survive restarts. Reads come from memory (loaded once at start-up);
a change updates memory at once and is written on a worker thread (``submit``, the store writer's),
never on the 20 ms tick. Without an environment (in-process tests) they are kept in memory only.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import msgpack

log = logging.getLogger(__name__)

DB_NAME = b"ext_settings"


@dataclass(frozen=True)
class ExtensionSettings:
    forward_always: str = ""  # a number ("" = off): every call goes there
    forward_busy: str = ""  # when the extension is busy
    forward_no_answer: str = ""  # when it rings unanswered for the dial plan's no-answer time
    dnd: bool = False  # do not disturb: callers hear busy (forward_busy still applies)


class SettingsStore:
    """The settings of every extension (see the module docstring)."""

    def __init__(self, env: Any = None,
                 submit: Callable[..., concurrent.futures.Future] | None = None) -> None:
        self.env = env
        self._submit = submit
        self._db = env.open_db(DB_NAME) if env is not None else None
        self._settings: dict[str, ExtensionSettings] = {}
        if env is not None:
            with env.begin(db=self._db) as txn:
                for k, v in txn.cursor():
                    try:
                        data = msgpack.unpackb(v)
                        known = {f: data[f] for f in ExtensionSettings.__dataclass_fields__ if f in data}
                        self._settings[bytes(k).decode()] = ExtensionSettings(**known)
                    except Exception:  # a bad row costs that extension its settings, never the start-up
                        log.exception("extension settings for %r unreadable: ignored", bytes(k))

    def get(self, number: str) -> ExtensionSettings:
        return self._settings.get(number, ExtensionSettings())

    def update(self, number: str, **changes: Any) -> concurrent.futures.Future | None:
        """Change some settings of ``number``; returns the write's future (None without a store)."""
        new = replace(self.get(number), **changes)
        self._settings[number] = new
        if self.env is None:
            return None
        row = msgpack.packb(asdict(new))

        def write() -> None:
            with self.env.begin(write=True, db=self._db) as txn:
                txn.put(number.encode(), row)

        if self._submit is not None:
            return self._submit(write)
        write()
        return None
