"""What a call is: its legs on ports and their states, the ``Call`` record a CDR is made from, the CDR's
disposition, and the ``Lines`` interface through which call control asks ports to act. Shared by
call control (``daemon.calls.control``) and everything that builds or bridges calls (ACD, IVR, extension
features, supervisor, recorder).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from daemon.calls.timers import Timer
from hal.dsp.callerid import CallerId
from hal.dsp.tones import ToneName
from signaling.events import Cause


class Lines(Protocol):
    """What call control may ask of the ports (implemented by ``daemon.runtime.engine.Engine``)."""

    def now(self) -> float: ...
    def ring(self, port: str, cid: CallerId | None) -> None: ...
    def answer(self, port: str) -> None: ...
    def dial(self, port: str, number: str, caller: str | None = None) -> None: ...
    def release(self, port: str, cause: Cause) -> None: ...
    def play(self, port: str, tone: ToneName | None) -> None: ...
    def connect(self, a: str, b: str, one_way: bool = False) -> None: ...  # one_way: a hears b, b hears nothing
    def disconnect(self, port: str) -> None: ...
    def is_free(self, port: str) -> bool: ...


class LegState(enum.StrEnum):
    DIALING = "dialing"  # an extension collecting digits
    OFFERED = "offered"
    ALERTING = "alerting"
    ANSWERED = "answered"
    FEATURE = "feature"  # an extension hearing a feature code's reply: keys ignored, no CDR
    RELEASED = "released"


@dataclass
class Leg:
    port: str
    kind: str  # "extension" | "trunk"
    label: str  # extension number or trunk line name
    state: LegState = LegState.OFFERED


@dataclass
class Call:
    id: str
    direction: str  # inbound | outbound | internal
    a: Leg
    caller: str | None
    called: str | None = None
    caller_name: str | None = None
    b: Leg | None = None
    start: float = field(default_factory=time.time)
    answer: float | None = None
    end: float | None = None
    cause: Cause | None = None
    digits: str = ""
    dial_after_answer: str | None = None  # click-to-dial: the number to dial once the agent answers
    transfer_to: Leg | None = None  # blind transfer: the extension leg now ringing in place of the agent
    transfer_failed: Callable[[str], None] | None = None  # told instead of hanging up (IVR transfers)
    ivr: dict[str, Any] | None = None  # what the IVR reported: flow, path, keys, variables, outcome
    category: int | None = None  # calling-party category from the trunk (No.1 KA, ISUP CPC), if given
    dnis: str | None = None  # inbound on a trunk: the number the caller dialled (No.1 DNIS)
    dnis_name: str | None = None  # the [[dnis]] entry's name (e.g. "Booking line"), if it has one
    destinations: tuple[str, ...] = ()  # inbound: extensions to hunt over, when its DNIS route names them
    timer: Timer | None = None
    tried: list[str] = field(default_factory=list)  # extensions already offered (inbound hunt)
    circuits: list[str] = field(default_factory=list)  # trunk ports seized for it (outbound: one per attempt)
    queue: str | None = None  # the ACD queue the call waited in, if any
    agent: str | None = None  # the ACD agent ID who took it, if any
    wait_s: float | None = None  # how long it waited for an agent (or until it left the queue)
    forwards: int = 0  # times an extension forwarded it (extension features: at most MAX_FORWARDS)
    # class of service (daemon.calls.class_of_service): who pays for an outside number ([] = the a-leg's extension or
    # trunk), the outside number actually dialled, its class, who paid, and why it was refused (if it was)
    payers: list[Any] = field(default_factory=list)
    dialled: str | None = None
    number_class: str | None = None
    paid_by: str | None = None
    denied: str | None = None
    # an outbound call on an analog line (docs/analog-answer.md): what decided whether it was answered
    # (polarity | voice | tone | timeout) and what was heard (voice, silence, fax, polarity; busy,
    # congestion, sit, announcement, ringback); None where the trunk signals its answer
    answer_by: str | None = None
    answer_reason: str | None = None

    def legs(self) -> list[Leg]:
        return [leg for leg in (self.a, self.b) if leg is not None]

    def leg_on(self, port: str) -> Leg | None:
        """The leg (``a`` or ``b``) on ``port``, if any."""
        return next((leg for leg in self.legs() if leg.port == port), None)

    def other_leg(self, port: str) -> Leg | None:
        """The leg facing the one on ``port``: ``b`` for ``a``'s port, ``a`` for ``b``'s; None if no leg
        is on ``port`` (or the call has no ``b`` yet)."""
        if self.a.port == port:
            return self.b
        return self.a if self.b is not None and self.b.port == port else None

    def dnis_fields(self) -> dict[str, Any]:
        """What screen pops show of an inbound call's DNIS (nothing for a call without one)."""
        return {"dnis": self.dnis, "dnis_name": self.dnis_name} if self.dnis else {}

    def record(self) -> dict[str, Any]:
        """The call as stored: the journal row while it runs, the CDR when it ends."""
        rec: dict[str, Any] = {
            "id": self.id, "direction": self.direction, "caller": self.caller, "called": self.called,
            "caller_name": self.caller_name,
            "src_port": self.a.port, "src": self.a.label,
            "dst_port": self.b.port if self.b else None, "dst": self.b.label if self.b else None,
            "trunk": next((leg.label for leg in self.legs() if leg.kind == "trunk"), None),
            "start": self.start, "answer": self.answer, "end": self.end, "category": self.category,
            "queue": self.queue, "agent": self.agent, "wait_s": self.wait_s,
            "dnis": self.dnis, "dnis_name": self.dnis_name,
            "dialled": self.dialled, "number_class": self.number_class, "paid_by": self.paid_by,
            "denied": self.denied, "answer_by": self.answer_by, "answer_reason": self.answer_reason,
        }
        if self.end is not None:
            rec["duration"] = round(self.end - self.start, 3)
            rec["billsec"] = round(self.end - self.answer, 3) if self.answer else 0.0
            rec["cause"] = int(self.cause or Cause.NORMAL_CLEARING)
            rec["disposition"] = disposition(self.answer is not None, self.cause)
            rec["interrupted"] = False
        if self.ivr:
            rec["ivr_flow"] = self.ivr.get("flow")
            rec["ivr_path"] = list(self.ivr.get("path", []))
            rec["ivr_keys"] = self.ivr.get("keys", "")
        return rec


def disposition(answered: bool, cause: Cause | None) -> str:
    if answered:
        return "ANSWERED"
    if cause == Cause.USER_BUSY:
        return "BUSY"
    if cause in (Cause.NO_ANSWER, Cause.NO_USER_RESPONSE, Cause.NORMAL_CLEARING, None):
        return "NO ANSWER"
    return "FAILED"
