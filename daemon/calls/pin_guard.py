"""Brute-force protection for PINs: a growing delay, then a lockout, per subject and per source.

A *subject* is what a PIN opens (``agent:1001``, ``supervisor`` for the supervisor codes, a voicemail
box); a *source* is where the tries come from (``api:uid 65534``: one Unix user on the API socket,
whatever connection or process it uses; ``port:2/3``: one phone). Each wrong PIN counts against
both. A first wrong PIN may be retyped at once (a typo); after the n-th failure in a row (n >= 2) a
key takes no try for ``delay_s * 2**(n-2)`` seconds; at ``max_failures`` it is locked for ``lockout_s``. A try while either key is held back is refused
without looking at the PIN (the right PIN too). A right PIN clears its subject's count (not the
source's: knowing one's own PIN must not reset the count of guesses at others'); a count with no
failure for ``lockout_s`` is forgotten. A lock ends when its time is up (``pin.unlocked`` by
``timeout``, reported at the next try or listing) or when a supervisor unlocks it (``pin.unlock``).

Every failure is written to the audit log (who: the source) and published as ``pin.failed``; a lock
as ``pin.locked``. The PIN itself is never recorded. Time comes from ``clock`` (the frame clock in
the daemon, a virtual one in tests).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from daemon.api.protocol import ApiError, ErrorCode
from daemon.api.roles import SUPERVISOR
from daemon.api.schema import Str


@dataclass(frozen=True)
class PinLimits:
    """``[pin]`` in the config."""

    max_failures: int = 5  # wrong PINs in a row that lock a subject or a source
    lockout_s: float = 900.0  # how long a lock lasts (and how long a count of failures is remembered)
    delay_s: float = 1.0  # the pause after the second failure in a row, doubling with each one after it


@dataclass
class _Count:
    failures: int = 0
    last_failure: float = 0.0
    retry_at: float = 0.0  # no try before this (the growing delay)
    locked_until: float | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a try is refused before the PIN is looked at."""

    key: str
    locked: bool  # locked (else: too soon after a failure)
    retry_in_s: float

    def __str__(self) -> str:
        what = "locked after too many wrong PINs" if self.locked else "too soon after a wrong PIN"
        return f"{self.key}: {what}; try again in {math.ceil(self.retry_in_s)} s"


class PinLocked(Exception):
    """A try refused before the PIN was looked at (``refusal`` says why and for how long)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


class PinGuard:
    def __init__(self, limits: PinLimits, clock: Callable[[], float],
                 publish: Callable[..., None] = lambda kind, **data: None,
                 audit: Callable[[dict], Any] | None = None) -> None:
        self.limits = limits
        self.clock = clock
        self.publish = publish
        self.audit = audit
        self._counts: dict[str, _Count] = {}

    def check(self, subject: str, source: str, is_right: Callable[[], bool], via: str) -> Refusal | bool:
        """One try: a ``Refusal`` if ``subject`` or ``source`` is held back (``is_right`` is not called);
        else whether ``is_right()`` says the PIN is right (a failure is counted, audited and published)."""
        refusal = self.refusal(subject, source)
        if refusal is not None:
            return refusal
        if is_right():
            self.succeeded(subject)
            return True
        self.failed(subject, source, via)
        return False

    def refusal(self, subject: str, source: str) -> Refusal | None:
        now = self.clock()
        for key in (subject, source):
            c = self._current(key, now)
            if c is None:
                continue
            if c.locked_until is not None:
                return Refusal(key, True, c.locked_until - now)
            if now < c.retry_at:
                return Refusal(key, False, c.retry_at - now)
        return None

    def failed(self, subject: str, source: str, via: str) -> None:
        now, lim = self.clock(), self.limits
        counts = []
        for key in (subject, source):
            c = self._current(key, now) or self._counts.setdefault(key, _Count())
            c.failures += 1
            c.last_failure = now
            c.retry_at = now + (lim.delay_s * 2 ** (c.failures - 2) if c.failures >= 2 else 0.0)
            counts.append(c)
        if self.audit is not None:
            self.audit({"who": source, "role": "-", "op": "pin.failed", "args": {"subject": subject, "via": via}})
        s, src = counts
        self.publish("pin.failed", subject=subject, source=source, via=via, failures=s.failures,
                     source_failures=src.failures, remaining=max(0, lim.max_failures - max(s.failures, src.failures)))
        for key, c in ((subject, s), (source, src)):
            if c.locked_until is None and c.failures >= lim.max_failures:
                c.locked_until = now + lim.lockout_s
                self.publish("pin.locked", key=key, failures=c.failures, lockout_s=lim.lockout_s, via=via)

    def succeeded(self, subject: str) -> None:
        self._counts.pop(subject, None)

    def unlock(self, key: str, by: str) -> bool:
        """Lift ``key``'s lock and forget its failures; False if it was not locked."""
        now = self.clock()
        c = self._current(key, now)
        if c is None or c.locked_until is None:
            return False
        del self._counts[key]
        self.publish("pin.unlocked", key=key, by=by)
        return True

    def locks(self) -> list[dict]:
        """The keys locked now, with the seconds left."""
        now = self.clock()
        return [{"key": key, "failures": c.failures, "remaining_s": round(c.locked_until - now, 1)}
                for key in sorted(self._counts) if (c := self._current(key, now)) is not None
                and c.locked_until is not None]

    def _current(self, key: str, now: float) -> _Count | None:
        """``key``'s count, forgotten once its lock or its remembered failures have expired."""
        c = self._counts.get(key)
        if c is None:
            return None
        if c.locked_until is not None and now >= c.locked_until:
            del self._counts[key]
            self.publish("pin.unlocked", key=key, by="timeout")
            return None
        if c.locked_until is None and now - c.last_failure >= self.limits.lockout_s:
            del self._counts[key]
            return None
        return c


def register(api: Any, guard: PinGuard) -> None:
    """``pin.locks`` and ``pin.unlock`` (supervisor; the unlock is audited)."""

    def unlock(req: dict) -> dict:
        key = req["key"]
        if not guard.unlock(key, "supervisor"):
            raise ApiError(ErrorCode.NOT_FOUND, f"{key} is not locked")
        return {"key": key, "unlocked": True}

    api.op("pin.locks", lambda req: guard.locks(), roles=SUPERVISOR)
    api.op("pin.unlock", unlock, roles=SUPERVISOR, audit=True,
           args={"key": Str(64, min_len=1, what="a locked subject or source, from pin.locks")})
