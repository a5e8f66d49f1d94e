"""Class of service: whether the party who pays for an outside call may make it, and the daily cap of
outside minutes per extension (docs/class-of-service.md).

Call control asks ``ClassOfService.check`` before it seizes a line, naming the payers: the extension
that dials, forwards or transfers (an agent logged in there with a ``cos`` of its own in place of the
extension's), the API role that asks for click-to-dial, the trunk whose inbound call the IVR sends
out again. Every payer must allow the number's class (``daemon.calls.number_classes``); emergency numbers
are always allowed, even from a locked or capped extension. An extension that used up its
``daily_minutes`` of outside calls today (the day of the box's one zone, ``Config.utc_offset_min``) may
make no further outside call except an emergency one; reaching the cap raises the ``DAILY_CAP`` alarm
(``alarm.raised``), which clears when the day ends.

Minutes are counted from the CDRs of answered outside calls (``record``), at their end; the clock is
injected (``clock``), so tests run the day on a virtual one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from daemon.calls.number_classes import NumberClass, classify
from daemon.config.model import Config

log = logging.getLogger(__name__)

DAY_S = 86400.0
CAP_ALARM = "DAILY_CAP"


@dataclass(frozen=True)
class Payer:
    kind: str  # extension | agent | api | token | trunk
    name: str  # the extension number, agent ID, API role, API token's label or line name

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Decision:
    number: str
    number_class: NumberClass
    allowed: bool
    payer: Payer | None = None  # who refused it (None when allowed)
    reason: str = ""  # "class" (not in the payer's class of service) | "daily_cap"

    def message(self) -> str:
        if self.allowed:
            return f"{self.number} ({self.number_class}) allowed"
        if self.reason == "daily_cap":
            return f"{self.payer} has used its daily minutes of outside calls: {self.number} refused"
        return f"{self.number_class} numbers are not in the class of service of {self.payer}: {self.number} refused"


@dataclass
class _Usage:
    day: int = -1
    seconds: float = 0.0
    alarmed: bool = False


@dataclass
class ClassOfService:
    """See the module docstring. ``config`` is read at every check (a config change applies at once);
    ``agent_at(extension)`` gives the agent logged in there (its ID) or None."""

    config: Config
    clock: Callable[[], float] = time.time
    publish: Callable[..., None] = lambda kind, **data: None
    agent_at: Callable[[str], str | None] = lambda extension: None
    usage: dict[str, _Usage] = field(default_factory=dict)

    # --- the checks ----------------------------------------------------------------------------------

    def classify(self, number: str) -> NumberClass:
        return classify(number, self.config.cos.area_code)

    def check(self, number: str, payers: list[Payer]) -> Decision:
        """May ``number`` be dialled out when ``payers`` pay for it?"""
        cls = self.classify(number)
        if cls is NumberClass.EMERGENCY:
            return Decision(number, cls, True)
        for payer in payers:
            if cls not in self.classes_of(payer):
                return Decision(number, cls, False, payer, "class")
            if payer.kind == "extension" and self.cap_reached(payer.name):
                return Decision(number, cls, False, payer, "daily_cap")
        return Decision(number, cls, True)

    def classes_of(self, payer: Payer) -> frozenset[NumberClass]:
        cos, cfg = self.config.cos, self.config
        if payer.kind == "extension":
            agent = self.agent_at(payer.name)
            agent_cfg = cfg.acd.agent(agent) if agent is not None else None
            if agent_cfg is not None and agent_cfg.cos:
                return cos.classes(agent_cfg.cos)
            ext = cfg.extension_by_number(payer.name)
            return cos.classes(ext.cos if ext is not None else ())
        if payer.kind == "agent":
            agent_cfg = cfg.acd.agent(payer.name)
            return cos.classes(agent_cfg.cos if agent_cfg is not None else ())
        if payer.kind == "api":
            return cos.api_classes(payer.name)
        if payer.kind == "token":
            return cos.classes(next((classes for _, label, classes in cfg.api_token_cos if label == payer.name), ()))
        line = next((ln for ln in cfg.lines + cfg.trunk_lines if (ln.name or ln.port) == payer.name), None)
        return cos.classes(line.cos if line is not None else ())

    # --- the daily cap -------------------------------------------------------------------------------

    def day(self, t: float | None = None) -> int:
        """The day number of ``t`` (default: now) in the box's zone."""
        t = self.clock() if t is None else t
        return int((t + self.config.utc_offset_min * 60) // DAY_S)

    def day_start(self) -> float:
        """When today began (epoch seconds), in the box's zone."""
        return self.day() * DAY_S - self.config.utc_offset_min * 60

    def restore(self, cdrs: Any) -> None:
        """Count today's CDRs (from the store, at start-up), so a restart does not reset the caps."""
        for cdr in cdrs:
            self.record(cdr)

    def cap_minutes(self, extension: str) -> float:
        ext = self.config.extension_by_number(extension)
        if ext is not None and ext.daily_minutes is not None:
            return ext.daily_minutes
        return self.config.cos.daily_minutes

    def minutes_today(self, extension: str) -> float:
        u = self._usage(extension)
        return u.seconds / 60.0

    def cap_reached(self, extension: str) -> bool:
        cap = self.cap_minutes(extension)
        return cap > 0 and self.minutes_today(extension) >= cap

    def record(self, cdr: dict[str, Any]) -> None:
        """Count an ended call's billed seconds against its paying extension's day (the day it ended)."""
        payer, billsec, end = cdr.get("paid_by"), cdr.get("billsec") or 0.0, cdr.get("end")
        if not cdr.get("dialled") or not isinstance(payer, str) or not payer.startswith("extension ") or not end:
            return
        extension = payer.removeprefix("extension ")
        if self.day(end) != self.day():
            return  # a call of another day (restored at start-up): not today's minutes
        u = self._usage(extension)
        u.seconds += float(billsec)
        cap = self.cap_minutes(extension)
        if cap > 0 and u.seconds / 60.0 >= cap and not u.alarmed:
            u.alarmed = True
            log.warning("extension %s reached its daily cap of %g outside minutes (%.1f used): outside calls "
                        "refused until the day ends", extension, cap, u.seconds / 60.0)
            self.publish("alarm.raised", alarm=CAP_ALARM, extension=extension, minutes=round(u.seconds / 60.0, 1),
                         cap=cap)

    def alarms(self) -> list[str]:
        """The extensions whose cap alarm is raised today."""
        return sorted(ext for ext in list(self.usage) if self._usage(ext).alarmed)

    def _usage(self, extension: str) -> _Usage:
        """The extension's usage of today (a new day clears yesterday's, and its alarm)."""
        today = self.day()
        u = self.usage.setdefault(extension, _Usage(today))
        if u.day != today:
            if u.alarmed:
                log.info("extension %s: a new day, its daily cap of outside minutes starts again", extension)
                self.publish("alarm.cleared", alarm=CAP_ALARM, extension=extension)
            u.day, u.seconds, u.alarmed = today, 0.0, False
        return u
