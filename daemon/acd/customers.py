"""Customer memory: caller ID → customer record, in a named LMDB database of the daemon's environment.

A record holds the customer's name, level (0 = ordinary; VIP routing lifts priority by level), the
agent who last served them (sticky routing), notes, first and last call, and call counts. Every call
updates it: ``record_call`` when a call arrives, ``record_answer`` when an agent answers. The API uses
the CRUD functions (``get``, ``create``, ``update``, ``delete``, ``list``).

Every write is its own LMDB write transaction, committed (and, with the daemon's ``sync=True``
environment, on disk) when the function returns; each function may run on any thread (the daemon
runs them on its store writer thread so fsync never runs on the tick). Reads are cheap (mmap) and
may run on the loop.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields

import lmdb
import msgpack

DB_NAME = b"acd_customers"
_DIGITS = re.compile(r"[^0-9]")


def normalise(number: str) -> str:
    """The key for a caller ID: its digits ("+86 138-0013-8000" → "8613800138000")."""
    digits = _DIGITS.sub("", number or "")
    if not digits:
        raise ValueError(f"{number!r} is not a caller number")
    return digits


@dataclass
class Customer:
    number: str
    name: str = ""
    level: int = 0
    last_agent: str | None = None
    notes: str = ""
    first_call: float | None = None
    last_call: float | None = None
    calls: int = 0  # calls that reached the ACD
    answered: int = 0  # of which answered by an agent

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Customer:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


EDITABLE = ("name", "level", "notes", "last_agent")


class Customers:
    """CRUD over customer records; ``env`` is the daemon's ``Store.env``."""

    def __init__(self, env: lmdb.Environment, db_name: bytes = DB_NAME) -> None:
        self.env = env
        self.db = env.open_db(db_name)

    def get(self, number: str) -> Customer | None:
        with self.env.begin(db=self.db) as txn:
            raw = txn.get(normalise(number).encode())
        return None if raw is None else Customer.from_dict(msgpack.unpackb(raw))

    def list(self, after: str | None = None, limit: int = 100) -> list[Customer]:
        """Up to ``limit`` records in number order, strictly after the number ``after``."""
        out: list[Customer] = []
        with self.env.begin(db=self.db) as txn:
            cur = txn.cursor()
            ok = cur.set_range(after.encode() + b"\0") if after else cur.first()
            while ok and len(out) < limit:
                out.append(Customer.from_dict(msgpack.unpackb(cur.value())))
                ok = cur.next()
        return out

    def count(self) -> int:
        with self.env.begin(db=self.db) as txn:
            return txn.stat(self.db)["entries"]

    def create(self, number: str, name: str = "", level: int = 0, notes: str = "") -> Customer:
        """A new record (the API); ``KeyError`` if the number already has one."""
        _check(name=name, level=level, notes=notes)
        key = normalise(number)
        rec = Customer(key, name=name, level=level, notes=notes)
        with self.env.begin(write=True, db=self.db) as txn:
            if not txn.put(key.encode(), msgpack.packb(rec.to_dict()), overwrite=False):
                raise KeyError(f"customer {key} exists")
        return rec

    def update(self, number: str, **changes: object) -> Customer:
        """Change editable fields (name, level, notes, last_agent); creates the record if missing."""
        bad = set(changes) - set(EDITABLE)
        if bad:
            raise ValueError(f"cannot change {', '.join(sorted(bad))} (editable: {', '.join(EDITABLE)})")
        _check(**changes)
        return self._modify(number, lambda rec: [setattr(rec, k, v) for k, v in changes.items()])

    def delete(self, number: str) -> bool:
        with self.env.begin(write=True, db=self.db) as txn:
            return txn.delete(normalise(number).encode())

    def record_call(self, number: str, now: float) -> Customer:
        """A call from ``number`` reached the ACD (before routing reads the record, see docs/acd.md)."""
        def fn(rec: Customer) -> None:
            rec.calls += 1
            rec.first_call = now if rec.first_call is None else rec.first_call
            rec.last_call = now
        return self._modify(number, fn)

    def record_answer(self, number: str, agent: str, now: float) -> Customer:
        """An agent answered ``number``'s call: they are the customer's last agent now."""
        def fn(rec: Customer) -> None:
            rec.answered += 1
            rec.last_agent = agent
            rec.last_call = max(rec.last_call or now, now)
        return self._modify(number, fn)

    def _modify(self, number: str, fn) -> Customer:
        key = normalise(number).encode()
        with self.env.begin(write=True, db=self.db) as txn:
            raw = txn.get(key)
            rec = Customer(key.decode()) if raw is None else Customer.from_dict(msgpack.unpackb(raw))
            fn(rec)
            txn.put(key, msgpack.packb(rec.to_dict()))
        return rec


def _check(**values: object) -> None:
    for k, v in values.items():
        if k == "level" and (isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 9):
            raise ValueError(f"level must be 0..9, not {v!r}")
        if k in ("name", "notes") and (not isinstance(v, str) or len(v) > 4000):
            raise ValueError(f"{k} must be text (at most 4000 characters)")
        if k == "last_agent" and v is not None and not isinstance(v, str):
            raise ValueError("last_agent must be an agent id or None")
