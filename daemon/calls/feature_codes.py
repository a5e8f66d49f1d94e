"""Feature codes an extension dials from dial tone: ``*97`` (voicemail), ``*21 1023 # 4711 #`` (agent
login), ``*#`` (pickup) and the rest, each owned by the part of the daemon that carries it out.

A code is a prefix and a number of ``#``-terminated fields (agent ID, PIN, reason code, extension).
``FeatureCodes.match`` tells call control, digit by digit, whether the digits so far are a complete
code (with its fields), may still become one, or are no code at all (then the dial plan decides).
When prefixes overlap, the longest one that the digits start with wins (``*21…`` is agent login,
not the pickup of extension ``21…``). Fields are kept out of the CDR: ``masked`` gives what is
stored as the called number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The codes the daemon's parts add with fixed prefixes (configurable ones, the voicemail codes, come
# from the config), so that ``daemon.calls.number_plan`` can refuse a configured number that would shadow
# one at config load. ``*`` is the pickup (``*<extension>#``, ``*#``): its field is an extension number.
FIXED_CODES: dict[str, str] = {
    "*": "pickup", "*10": "transfer.blind", "*21": "agent.login", "*22": "agent.logout", "*23": "agent.pause",
    "*24": "agent.resume", "*31": "supervisor.listen", "*32": "supervisor.whisper", "*33": "supervisor.barge",
    "*35": "recording.playback", "*40": "transfer.ivr", "*72": "forward_always.set", "*73": "forward_always.clear",
    "*78": "dnd.on", "*79": "dnd.off", "*90": "forward_busy.set", "*91": "forward_busy.clear",
    "*92": "forward_no_answer.set", "*93": "forward_no_answer.clear",
}


@dataclass(frozen=True)
class FeatureCode:
    prefix: str  # "*21"
    name: str  # "agent.login": what the CDR's called number and the logs show
    run: Callable[[Any, list[str]], None]  # (the dialling call, the fields) on the event loop
    fields: int = 0  # '#'-terminated fields after the prefix


@dataclass(frozen=True)
class Matched:
    code: FeatureCode
    fields: list[str]

    @property
    def masked(self) -> str:
        return self.code.prefix + "#" * len(self.fields)


MORE = "more"  # the digits may still become a code: wait for the next digit


class FeatureCodes:
    """The feature codes in force; parts of the daemon add theirs when they start."""

    def __init__(self) -> None:
        self._codes: dict[str, FeatureCode] = {}

    def add(self, code: FeatureCode) -> None:
        if not code.prefix or code.prefix[0] not in "*#":
            raise ValueError(f"feature code {code.prefix!r} must start with * or #")
        self._codes[code.prefix] = code

    def prefixes(self) -> dict[str, str]:
        """The codes in force: prefix -> name."""
        return {p: c.name for p, c in self._codes.items()}

    def match(self, digits: str) -> Matched | str | None:
        """A complete code, ``MORE`` (keep collecting), or None (not a feature code)."""
        owners = [c for c in self._codes.values() if digits.startswith(c.prefix)]
        if owners:
            code = max(owners, key=lambda c: len(c.prefix))
            rest = digits[len(code.prefix):]
            if code.fields == 0:
                return Matched(code, []) if not rest else None
            parts = rest.split("#")
            done, tail = parts[:-1], parts[-1]
            if len(done) == code.fields and tail == "":
                return Matched(code, done)
            if len(done) < code.fields and all(p.isdigit() or p == "" for p in parts):
                return MORE
            return None
        if any(c.prefix.startswith(digits) for c in self._codes.values()):
            return MORE
        return None
