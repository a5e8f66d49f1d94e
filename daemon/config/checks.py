"""Located configuration errors and the checker every config parser uses (``daemon.config.model`` for the
box, ``daemon.acd.config`` for the ACD sections): typed reads of TOML tables whose failures name the
file, the key path and the line.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """A configuration mistake, located: ``file:line: key: message``."""

    def __init__(self, path: Path | str, key: str, line: int | None, message: str) -> None:
        self.path, self.key, self.line, self.message = str(path), key, line, message
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")


class _Locator:
    """Finds the line of a key path in TOML text (tables, arrays of tables, dotted-free keys)."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")

    def __init__(self, text: str) -> None:
        self.index: dict[tuple, int] = {}
        counts: dict[str, int] = {}
        table: tuple = ()
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0] if '"' not in raw else raw
            m = self._HEADER.match(line)
            if m:
                name = m.group(2)
                if m.group(1) == "[[":
                    idx = counts.get(name, 0)
                    counts[name] = idx + 1
                    table = (*name.split("."), idx)
                else:
                    table = tuple(name.split("."))
                self.index.setdefault(table, lineno)
                continue
            m = self._KEY.match(line)
            if m:
                self.index.setdefault((*table, m.group(1)), lineno)

    def line(self, path: tuple) -> int | None:
        while path:
            if path in self.index:
                return self.index[path]
            path = path[:-1]
        return None


class Checker:
    """Typed, located reads of a TOML table: every failure is a ``ConfigError`` with file, key and line."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.loc = _Locator(text)
        self.secrets: dict[str, str] = {}  # key -> what an error shows instead (a token is a key of [api.tokens])

    def secret(self, key: str, shown: str) -> None:
        """``key`` is a secret: an error naming it shows ``shown`` instead (still located by the real key)."""
        self.secrets[key] = shown

    def fail(self, keypath: tuple, message: str) -> ConfigError:
        key = ".".join(self.secrets.get(k, k) if not isinstance(k, int) else f"[{k}]" for k in keypath
                       ).replace(".[", "[")
        return ConfigError(self.path, key, self.loc.line(keypath), message)

    def table(self, data: dict, keypath: tuple, known: set[str]) -> dict:
        if not isinstance(data, dict):
            raise self.fail(keypath, "must be a table")
        for key in data:
            if key not in known:
                raise self.fail((*keypath, key), f"unknown key (expected one of: {', '.join(sorted(known))})")
        return data

    def get(self, data: dict, keypath: tuple, key: str, typ: type | tuple, default: Any = ..., *,
            choices: tuple | None = None, pattern: re.Pattern | None = None,
            minimum: float | None = None, maximum: float | None = None) -> Any:
        kp = (*keypath, key)
        if key not in data:
            if default is ...:
                raise self.fail(kp, "is required")
            return default
        value = data[key]
        if isinstance(value, bool) and typ is not bool or not isinstance(value, typ):
            names = typ.__name__ if isinstance(typ, type) else " or ".join(t.__name__ for t in typ)
            raise self.fail(kp, f"must be {names}, not {type(value).__name__} {value!r}")
        if isinstance(value, float) and not math.isfinite(value):  # TOML has inf and nan; no setting takes them
            raise self.fail(kp, f"must be a finite number, not {value!r}")
        if choices is not None and value not in choices:
            raise self.fail(kp, f"must be one of {', '.join(map(str, choices))}, not {value!r}")
        if pattern is not None and not pattern.match(value):
            raise self.fail(kp, f"{value!r} is not valid (expected {pattern.pattern})")
        if minimum is not None and value < minimum:
            raise self.fail(kp, f"must be at least {minimum}, not {value!r}")
        if maximum is not None and value > maximum:
            raise self.fail(kp, f"must be at most {maximum}, not {value!r}")
        return value

    def str_list(self, data: dict, keypath: tuple, key: str, default: tuple, *, choices: tuple | None = None,
                 pattern: re.Pattern | None = None) -> tuple[str, ...]:
        value = data.get(key, list(default))
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail((*keypath, key), "must be a string or a list of strings")
        for v in value:
            if choices is not None and v not in choices:
                raise self.fail((*keypath, key), f"{v!r} is not one of {', '.join(choices)}")
            if pattern is not None and not pattern.match(v):
                raise self.fail((*keypath, key), f"{v!r} is not valid (expected {pattern.pattern})")
        return tuple(value)
