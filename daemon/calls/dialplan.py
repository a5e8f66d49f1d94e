"""The dial plan: what a string of digits dialled on an extension means.

Extension numbers are matched exactly as soon as they are complete; the outbound prefix (e.g. 9)
takes the rest as an outside number, complete on ``#`` or after the inter-digit timeout; anything
that can no longer match an extension or the prefix is invalid at once (congestion, Q.850 cause 1).
The emergency numbers (110, 119, 120, 122) go out as dialled, with or without the prefix, unless an
extension number begins with them (then only with the prefix).
"""

from __future__ import annotations

from dataclasses import dataclass

from daemon.calls.number_classes import EMERGENCY_NUMBERS
from daemon.config.model import Config


@dataclass(frozen=True)
class Extension:
    number: str


@dataclass(frozen=True)
class Outside:
    number: str


@dataclass(frozen=True)
class Incomplete:
    timeout_completes: bool  # True when the digits so far make a call if no more come


@dataclass(frozen=True)
class Invalid:
    digits: str


Route = Extension | Outside | Incomplete | Invalid


class Dialplan:
    def __init__(self, config: Config) -> None:
        self.extensions = {e.number for e in config.extensions}
        self.prefix = config.dialplan.outbound_prefix
        self.has_outbound = any(ln.outbound for ln in config.lines + config.trunk_lines)  # FXO or No.1

    def match(self, digits: str, timed_out: bool = False) -> Route:
        """Classify ``digits``; ``timed_out`` means no further digit will come."""
        terminated = digits.endswith("#")
        body = digits.rstrip("#")
        if self.has_outbound and self.prefix and body.startswith(self.prefix):
            outside = body[len(self.prefix):]
            if outside and (terminated or timed_out):
                return Outside(outside) if outside.isdigit() else Invalid(digits)
            if terminated or timed_out:
                return Invalid(digits)
            return Incomplete(timeout_completes=bool(outside))
        if body in self.extensions:
            return Extension(body)
        if self.has_outbound and body and not any(n.startswith(body) for n in self.extensions):
            if body in EMERGENCY_NUMBERS:
                return Outside(body)
            if not terminated and not timed_out and any(e.startswith(body) for e in EMERGENCY_NUMBERS):
                return Incomplete(timeout_completes=False)
        if not terminated and not timed_out and any(n.startswith(body) for n in self.extensions):
            return Incomplete(timeout_completes=False)
        if not body and not terminated and not timed_out:
            return Incomplete(timeout_completes=False)
        return Invalid(digits)
