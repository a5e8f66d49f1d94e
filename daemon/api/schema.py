"""Declared argument schemas of the API ops: every request is checked against its op's schema before
any work is done.

An op is registered with ``args``: a map of argument name to its type (or an ``Args`` when some
arguments are alternatives). ``Args.check_request(request)`` returns the arguments to hand to the op
(each checked, defaults filled in) or raises ``BadArgument`` (``bad_argument``) naming the argument,
nested ones by path (``changes[2].key``, ``filters.agent[0]``). Arguments nobody declared are refused
too, so a typo is an error rather than silently ignored; ``id`` and ``op`` (and ``token``) belong to
the server.

What a check costs is bounded by the schema, not by what was sent: a length is checked before the
items are, TOML values are counted over the whole request (``TOML_VALUES``), a path is built only
for a refusal, and no value is converted in a way that grows with it (a string where a number is
due is refused, never multiplied). Numbers are finite and within their declared range.
``describe()`` gives each type as a plain map, which the ``ops`` op reports so integrators can see
what every op takes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import Any

from daemon.api.protocol import ApiError, ErrorCode

SERVER_KEYS = frozenset({"id", "op", "token"})  # in every request; handled by the server
TOML_VALUES = 10_000  # TOML values (config.set's and ivr.flow.set's change values) in one request, in all
_toml_left: ContextVar[list[int] | None] = ContextVar("toml_left", default=None)  # the request's budget


class BadArgument(ApiError):
    """``bad_argument`` naming the argument (``argument``: its path)."""

    def __init__(self, argument: str, problem: str) -> None:
        super().__init__(ErrorCode.BAD_ARGUMENT, f"{argument!r}: {problem}", argument=argument)
        self.problem = problem

    def within(self, outer: str) -> BadArgument:
        """The same problem, its path put under ``outer`` (paths are built only for a refusal: checking
        what is right builds no strings)."""
        inner = self.argument or ""
        if not outer:
            path = inner
        elif not inner or inner.startswith("["):
            path = outer + inner
        else:
            path = f"{outer}.{inner}"
        return BadArgument(path, self.problem)


def _kind(value: Any) -> str:
    """What was sent, in the API's words (never the value itself: it may be huge)."""
    if value is None:
        return "nil"
    return {bool: "bool", int: "int", float: "float", str: "string", bytes: "bytes", list: "list",
            dict: "map"}.get(type(value), type(value).__name__)


def _shown(key: Any) -> str:
    """A map key as it appears in an argument's path (a long or non-string key by its kind)."""
    return key if isinstance(key, str) and len(key) <= 64 else _kind(key)


class Arg:
    """One argument's type. ``check`` returns the value to use or raises ``BadArgument``."""

    required = True
    default: Any = None

    def check(self, value: Any, name: str) -> Any:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError


class Str(Arg):
    """A string of ``min_len``..``max_len`` characters, optionally matching ``pattern`` (whole)."""

    def __init__(self, max_len: int = 64, min_len: int = 0, pattern: str | None = None, what: str = "") -> None:
        self.max_len, self.min_len, self.what = max_len, min_len, what
        self.pattern = re.compile(pattern, re.DOTALL) if pattern else None

    def check(self, value: Any, name: str) -> str:
        if not isinstance(value, str):
            raise BadArgument(name, f"must be a string{self._what()}, not {_kind(value)}")
        if not self.min_len <= len(value) <= self.max_len:
            raise BadArgument(name, f"must be {self.min_len}..{self.max_len} characters long, not {len(value)}")
        if self.pattern is not None and not self.pattern.fullmatch(value):
            raise BadArgument(name, f"must be {self.what or 'of the form ' + self.pattern.pattern}")
        return value

    def _what(self) -> str:
        return f" ({self.what})" if self.what else ""

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "string", "max_len": self.max_len}
        if self.min_len:
            d["min_len"] = self.min_len
        if self.what:
            d["what"] = self.what
        return d


class Int(Arg):
    """An integer ``lo``..``hi`` (a bool, a float or a string is refused)."""

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi

    def check(self, value: Any, name: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadArgument(name, f"must be an integer {self.lo}..{self.hi}, not {_kind(value)}")
        if not self.lo <= value <= self.hi:
            raise BadArgument(name, f"must be an integer {self.lo}..{self.hi}")
        return value

    def describe(self) -> dict[str, Any]:
        return {"type": "int", "min": self.lo, "max": self.hi}


class Float(Arg):
    """A finite number ``lo``..``hi`` (an int is taken as a float; inf, NaN, a bool or a string is refused)."""

    def __init__(self, lo: float, hi: float) -> None:
        self.lo, self.hi = lo, hi

    def check(self, value: Any, name: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadArgument(name, f"must be a number {self.lo:g}..{self.hi:g}, not {_kind(value)}")
        if not (math.isfinite(value) and self.lo <= value <= self.hi):
            raise BadArgument(name, f"must be a finite number {self.lo:g}..{self.hi:g}")
        return float(value)

    def describe(self) -> dict[str, Any]:
        return {"type": "number", "min": self.lo, "max": self.hi}


class Bool(Arg):
    """``true`` or ``false`` (not 0/1, not a string)."""

    def check(self, value: Any, name: str) -> bool:
        if not isinstance(value, bool):
            raise BadArgument(name, f"must be true or false, not {_kind(value)}")
        return value

    def describe(self) -> dict[str, Any]:
        return {"type": "bool"}


class Enum(Arg):
    """One of the given strings."""

    def __init__(self, *values: str) -> None:
        self.values = tuple(values)

    def check(self, value: Any, name: str) -> str:
        if not isinstance(value, str) or value not in self.values:
            raise BadArgument(name, f"must be one of {', '.join(self.values)}")
        return value

    def describe(self) -> dict[str, Any]:
        return {"type": "enum", "values": list(self.values)}


class Bytes(Arg):
    """Binary data (msgpack bin) of ``min_len``..``max_len`` bytes."""

    def __init__(self, max_len: int, min_len: int = 0) -> None:
        self.max_len, self.min_len = max_len, min_len

    def check(self, value: Any, name: str) -> bytes:
        if not isinstance(value, bytes):
            raise BadArgument(name, f"must be bytes (msgpack bin), not {_kind(value)}")
        if not self.min_len <= len(value) <= self.max_len:
            raise BadArgument(name, f"must be {self.min_len}..{self.max_len} bytes long, not {len(value)}")
        return value

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "bytes", "max_len": self.max_len}
        if self.min_len:
            d["min_len"] = self.min_len
        return d


class List(Arg):
    """A list of ``min_len``..``max_len`` items, each of type ``of``."""

    def __init__(self, of: Arg, max_len: int, min_len: int = 0) -> None:
        self.of, self.max_len, self.min_len = of, max_len, min_len

    def check(self, value: Any, name: str) -> list:
        if not isinstance(value, list):
            raise BadArgument(name, f"must be a list, not {_kind(value)}")
        if not self.min_len <= len(value) <= self.max_len:
            raise BadArgument(name, f"must have {self.min_len}..{self.max_len} items, not {len(value)}")
        of = self.of
        for i, item in enumerate(value):  # checked in place: the caller's list is the one used
            try:
                value[i] = of.check(item, "")
            except BadArgument as exc:
                raise exc.within(f"{name}[{i}]") from None
        return value

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "list", "of": self.of.describe(), "max_len": self.max_len}
        if self.min_len:
            d["min_len"] = self.min_len
        return d


class Scalar(Arg):
    """A string (up to ``max_len`` characters), an integer, a finite number or a bool."""

    def __init__(self, max_len: int = 256) -> None:
        self.max_len = max_len

    def check(self, value: Any, name: str) -> Any:
        if isinstance(value, str):
            return Str(self.max_len).check(value, name)
        if isinstance(value, float) and not math.isfinite(value):
            raise BadArgument(name, "must be finite")
        if not isinstance(value, int | float):  # bool is an int
            raise BadArgument(name, f"must be a string, number or bool, not {_kind(value)}")
        return value

    def describe(self) -> dict[str, Any]:
        return {"type": "scalar", "max_len": self.max_len}


class Toml(Arg):
    """A value TOML can hold: a string, a 64-bit integer, a number, a bool, or a list or map (string keys)
    of them, at most ``depth`` levels deep; at most ``max_items`` values in all, counted over every TOML
    argument of the request (so checking a request costs at most that many steps, however its 1 MiB
    was filled)."""

    def __init__(self, depth: int = 6, max_items: int = TOML_VALUES) -> None:
        self.depth, self.max_items = depth, max_items

    def check(self, value: Any, name: str) -> Any:
        left = _toml_left.get() or [self.max_items]
        try:
            self._walk(value, 0, left)
        except BadArgument as exc:
            raise exc.within(name) from None
        return value

    def _walk(self, value: Any, level: int, left: list[int]) -> None:
        left[0] -= 1
        if left[0] < 0:
            raise BadArgument("", f"more than {self.max_items} values in all (the request's)")
        if level > self.depth:
            raise BadArgument("", f"nested more than {self.depth} levels deep")
        if isinstance(value, list):
            for i, item in enumerate(value):
                try:
                    self._walk(item, level + 1, left)
                except BadArgument as exc:
                    raise exc.within(f"[{i}]") from None
        elif isinstance(value, dict):
            for k, item in value.items():
                if not isinstance(k, str):
                    raise BadArgument("", f"map keys must be strings, not {_kind(k)}")
                try:
                    self._walk(item, level + 1, left)
                except BadArgument as exc:
                    raise exc.within(_shown(k)) from None
        elif isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**63:
            raise BadArgument("", "must be a 64-bit integer")
        elif not isinstance(value, str | int | float):  # bool is an int; a float may be inf or nan in TOML
            raise BadArgument("", f"must be a TOML value (string, number, bool, list, map), not {_kind(value)}")

    def describe(self) -> dict[str, Any]:
        return {"type": "toml", "max_items": self.max_items}


class AnyOf(Arg):
    """The first of ``choices`` that accepts the value."""

    def __init__(self, *choices: Arg) -> None:
        self.choices = choices

    def check(self, value: Any, name: str) -> Any:
        errors = []
        for choice in self.choices:
            try:
                return choice.check(value, name)
            except BadArgument as exc:
                errors.append(exc.problem)
        raise BadArgument(name, " or ".join(errors))

    def describe(self) -> dict[str, Any]:
        return {"type": "any_of", "choices": [c.describe() for c in self.choices]}


class Opt(Arg):
    """An optional argument: absent or nil means ``default``."""

    required = False

    def __init__(self, arg: Arg, default: Any = None) -> None:
        self.arg, self.default = arg, default

    def check(self, value: Any, name: str) -> Any:
        return self.arg.check(value, name)

    def describe(self) -> dict[str, Any]:
        d = self.arg.describe()
        if self.default is not None:
            d["default"] = self.default
        return d


class Args(Arg):
    """Named fields (a request's arguments, or a nested map): each checked by its type; names not
    declared are refused. ``one_of``: groups of names of which exactly one must be given."""

    def __init__(self, fields: Mapping[str, Arg] | None = None, one_of: Iterable[tuple[str, ...]] = ()) -> None:
        self.fields = dict(fields or {})
        self.one_of = [tuple(g) for g in one_of]
        for group in self.one_of:
            assert all(n in self.fields and not self.fields[n].required for n in group), group

    def check(self, value: Any, name: str = "", skip: frozenset[str] = frozenset()) -> dict:
        if not isinstance(value, dict):
            raise BadArgument(name, f"must be a map, not {_kind(value)}")
        for key in value:
            if key in skip:
                continue
            if not isinstance(key, str) or key not in self.fields:
                raise BadArgument(self._path(name, _shown(key)), "unknown argument" + (
                    f" (takes {', '.join(self.fields)})" if self.fields else " (takes none)"))
        out: dict[str, Any] = {}
        for field, arg in self.fields.items():
            given = value.get(field)
            if given is None:
                if arg.required:
                    raise BadArgument(self._path(name, field), "missing")
                out[field] = arg.default
            else:
                try:
                    out[field] = arg.check(given, field)
                except BadArgument as exc:
                    raise exc.within(name) from None
        for group in self.one_of:
            if sum(value.get(n) is not None for n in group) != 1:
                raise BadArgument(self._path(name, group[0]), f"give exactly one of {', '.join(group)}")
        return out

    @staticmethod
    def _path(name: str, field: str) -> str:
        return f"{name}.{field}" if name else field

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "map", "fields": {n: {**a.describe(), "required": a.required}
                                                       for n, a in self.fields.items()}}
        if self.one_of:
            d["one_of"] = [list(g) for g in self.one_of]
        return d

    def describe_args(self) -> dict[str, Any]:
        """As an op's arguments, for the ``ops`` op: ``{args: {name: type}, one_of?}``."""
        d = self.describe()
        return {"args": d["fields"], **({"one_of": d["one_of"]} if self.one_of else {})}

    def check_request(self, request: dict) -> dict:
        """A request's arguments checked (``id``, ``op``, ``token`` left to the server)."""
        budget = _toml_left.set([TOML_VALUES])
        try:
            return self.check(request, "", SERVER_KEYS)
        finally:
            _toml_left.reset(budget)


class MapOf(Arg):
    """A map of up to ``max_len`` entries, keys and values each of a type."""

    def __init__(self, key: Arg, value: Arg, max_len: int) -> None:
        self.key, self.value, self.max_len = key, value, max_len

    def check(self, value: Any, name: str) -> dict:
        if not isinstance(value, dict):
            raise BadArgument(name, f"must be a map, not {_kind(value)}")
        if len(value) > self.max_len:
            raise BadArgument(name, f"must have at most {self.max_len} entries, not {len(value)}")
        for k, v in value.items():
            self.key.check(k, f"{name} key")
            try:
                value[k] = self.value.check(v, "")
            except BadArgument as exc:
                raise exc.within(f"{name}.{_shown(k)}") from None
        return value

    def describe(self) -> dict[str, Any]:
        return {"type": "map_of", "key": self.key.describe(), "value": self.value.describe(), "max_len": self.max_len}


def args_of(fields: Mapping[str, Arg] | Args | None) -> Args:
    """An op's ``args`` as registered (a map of fields, an ``Args`` or None for no arguments) as ``Args``."""
    return fields if isinstance(fields, Args) else Args(fields)


# Types many ops share.
TIME = Float(0, 1e11)  # epoch seconds
PORT = Str(8, pattern=r"[0-9]{1,3}/[0-9]{1,3}", what="a port like '2/1'")
EXTENSION = Str(32, min_len=1, what="an extension number")
NUMBER = Str(64, min_len=1, what="a phone number")
CALL = Str(128, min_len=1, what="a call id")
AGENT = Str(32, min_len=1, what="an agent ID")
NAME = Str(128, min_len=1)
