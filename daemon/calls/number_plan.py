"""The numbering plan checked at config load: no dialled number may shadow another.

Call control matches what an extension dials digit by digit and takes the first complete match: an
extension ``80`` rings as soon as ``8``, ``0`` are dialled, so ``8001`` could never be reached; an
extension ``9`` hides the outbound prefix ``90``; a voicemail code ``*2`` hides agent login ``*21``.
So, at load, every pair of numbers dialled from dial tone is checked — extension numbers, the
outbound prefix, the voicemail codes (``[ivr] voicemail_code``, ``[[voicemail]] code``) and the
feature codes the daemon owns (``daemon.calls.feature_codes.FIXED_CODES``) — and one that is a prefix of
another (or equal) is a ``ConfigError`` naming the file, line and key of the later one. Extension
numbers begin with a digit: ``*`` and ``#`` begin the feature codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from daemon.calls.feature_codes import FIXED_CODES
from daemon.config.checks import Checker

__all__ = ["Number", "check_numbers"]


@dataclass(frozen=True)
class Number:
    """One number dialled from dial tone: its digits, what it is (for the message) and its key path
    (None for the daemon's own feature codes, which are not in the file)."""

    digits: str
    what: str
    keypath: tuple | None


def _shadow(a: Number, b: Number) -> str | None:
    """Why ``a`` and ``b`` cannot both be dialled, or None."""
    if a.digits == b.digits:
        return f"{b.digits} is already {a.what}"
    short, long_ = (a, b) if len(a.digits) < len(b.digits) else (b, a)
    if long_.digits.startswith(short.digits):
        return (f"{short.what} ({short.digits}) is a prefix of {long_.what} ({long_.digits}): "
                f"{short.digits} is taken as soon as it is dialled, so {long_.digits} could never be reached")
    return None


def check_numbers(c: Checker, numbers: Sequence[Number]) -> None:
    """Raise ``ConfigError`` for the first configured number that overlaps another (see the module).
    ``numbers``: the configured ones in file order; the daemon's feature codes are added here."""
    for n in numbers:
        if n.what.startswith("extension") and n.digits[:1] in ("*", "#"):
            raise c.fail(n.keypath or (), f"{n.digits!r} starts with {n.digits[0]!r}: numbers starting with * or # "
                                          "are feature codes; an extension number starts with a digit")
    fixed = [Number(p, f"the feature code {name}", None) for p, name in FIXED_CODES.items() if p != "*"]
    seen: list[Number] = []
    for n in numbers:
        for other in (*fixed, *seen):
            why = _shadow(other, n)
            if why:
                raise c.fail(n.keypath or (), why)
        seen.append(n)
