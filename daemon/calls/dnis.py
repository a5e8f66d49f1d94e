"""Inbound routing by the number the caller dialled (DNIS): the ``[[dnis]]`` table.

An agency gets a block of numbers on its trunks (a hotline, a booking line, a complaints line,
branches). Each ``[[dnis]]`` entry matches the called number of an inbound trunk call — No.1's DNIS,
later SS7's called party number: the uniform ``CallOffered.called`` — by an exact ``number``, a
``prefix`` or a ``range`` ("88002000-88002099": numbers of that length between the two) and sends the
call ``to`` one or more extensions (hunted in order), an ACD queue or an IVR flow::

    [[dnis]]
    number = "88001234"
    to = "queue:booking"
    name = "Booking line"        # optional: shown in screen pops, CDRs and reports

The most specific entry wins: an exact number, then a range, then the longest prefix. Entries of the
same kind may not overlap (the same number or prefix twice, two ranges sharing a number): that is a
config error naming the entry's line. Once the table has entries, a called number that matches none
is refused as unallocated (Q.850 cause 1; No.1 answers the variant's "unallocated" Group B signal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from daemon.config.checks import Checker

_DIGITS_RE = re.compile(r"^[0-9]{1,24}$")
_RANGE_RE = re.compile(r"^([0-9]{1,24})-([0-9]{1,24})$")
KINDS = ("number", "prefix", "range")
TARGETS = ("extension", "queue", "ivr")


@dataclass(frozen=True)
class DnisRoute:
    """One ``[[dnis]]`` entry: how it matches (``kind`` + ``match``) and where the call goes."""

    kind: str  # number | prefix | range
    match: str  # the number, the prefix, or "first-last"
    target: str  # extension | queue | ivr
    dest: tuple[str, ...]  # extension numbers (hunted in order), or the queue's / flow's name
    name: str = ""

    @property
    def to(self) -> str:
        """The destination as configured: ``extension:8001,8002``, ``queue:booking``, ``ivr:main``."""
        return f"{self.target}:{','.join(self.dest)}"

    def bounds(self) -> tuple[int, int, int]:
        """A range's (length, first, last)."""
        lo, hi = self.match.split("-")
        return len(lo), int(lo), int(hi)

    def matches(self, called: str) -> bool:
        if self.kind == "number":
            return called == self.match
        if self.kind == "prefix":
            return called.startswith(self.match)
        length, lo, hi = self.bounds()
        return len(called) == length and called.isdigit() and lo <= int(called) <= hi


class DnisTable:
    """The routes, looked up by called number (exact, then range, then the longest prefix)."""

    def __init__(self, routes: tuple[DnisRoute, ...]) -> None:
        self.routes = routes
        self._exact = {r.match: r for r in routes if r.kind == "number"}
        self._ranges = [r for r in routes if r.kind == "range"]
        self._prefixes = sorted((r for r in routes if r.kind == "prefix"), key=lambda r: -len(r.match))

    def __bool__(self) -> bool:
        return bool(self.routes)

    def route(self, called: str) -> DnisRoute | None:
        """The entry for ``called``, or None (unallocated)."""
        hit = self._exact.get(called)
        if hit is not None:
            return hit
        return next((r for r in self._ranges if r.matches(called)), None) or next(
            (r for r in self._prefixes if r.matches(called)), None)


def parse_dnis(c: Checker, top: dict, numbers: set[str], queues: set[str], flows: set[str]) -> tuple[DnisRoute, ...]:
    """The ``[[dnis]]`` array: each entry's match, its target (which must exist) and no overlap with an
    earlier entry of the same kind."""
    raw = top.get("dnis", [])
    if not isinstance(raw, list):
        raise c.fail(("dnis",), "must be an array of tables ([[dnis]])")
    routes: list[DnisRoute] = []
    for i, d in enumerate(raw):
        kp = ("dnis", i)
        c.table(d, kp, {*KINDS, "to", "name"})
        given = [k for k in KINDS if k in d]
        if len(given) != 1:
            raise c.fail(kp, "needs exactly one of number, prefix or range" + (f" (has {', '.join(given)})"
                                                                               if given else ""))
        kind = given[0]
        value = c.get(d, kp, kind, str, pattern=_RANGE_RE if kind == "range" else _DIGITS_RE)
        if kind == "range":
            lo, hi = value.split("-")
            if len(lo) != len(hi) or int(lo) > int(hi):
                raise c.fail((*kp, "range"), f"{value!r}: both ends need the same number of digits, the first "
                                             "not above the second")
        to = c.get(d, kp, "to", str)
        target, _, rest = to.partition(":")
        dest = tuple(x.strip() for x in rest.split(",")) if target == "extension" else (rest,)
        if target not in TARGETS or not all(dest):
            raise c.fail((*kp, "to"), f"{to!r} is not extension:NUMBER[,NUMBER...], queue:NAME or ivr:FLOW")
        missing = {"extension": [x for x in dest if x not in numbers],
                   "queue": [x for x in dest if f"queue:{x}" not in queues],
                   "ivr": [x for x in dest if x not in flows]}[target]
        if missing:
            known = {"extension": "extension number", "queue": "[[queue]]", "ivr": "flow of [ivr.flows]"}[target]
            raise c.fail((*kp, "to"), f"{missing[0]!r} is not a configured {known}")
        route = DnisRoute(kind, value, target, dest, c.get(d, kp, "name", str, ""))
        for j, other in enumerate(routes):
            if other.kind == kind and _overlap(route, other):
                raise c.fail((*kp, kind), f"{value!r} overlaps dnis[{j}] ({other.kind} {other.match!r})")
        routes.append(route)
    return tuple(routes)


def _overlap(a: DnisRoute, b: DnisRoute) -> bool:
    if a.kind != "range":
        return a.match == b.match
    (la, a0, a1), (lb, b0, b1) = a.bounds(), b.bounds()
    return la == lb and a0 <= b1 and b0 <= a1
