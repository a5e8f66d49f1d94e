"""Uniform call events: what every signalling stack reports to call control, whatever the line.

Above ``signaling`` nothing knows whether a leg is an analog line, a No.1 timeslot or an SS7
circuit. Every event is a ``CallEvent`` (the base class: the port it happened on), which is how the
engine tells them from a machine's other outputs. Causes are ITU-T Q.850 values (``Cause``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Cause(enum.IntEnum):
    """Q.850 release causes used by the box."""

    UNALLOCATED_NUMBER = 1
    NORMAL_CLEARING = 16
    USER_BUSY = 17
    NO_USER_RESPONSE = 18
    NO_ANSWER = 19
    CALL_REJECTED = 21
    DESTINATION_OUT_OF_ORDER = 27
    INVALID_NUMBER_FORMAT = 28
    NORMAL_UNSPECIFIED = 31
    NO_CIRCUIT_AVAILABLE = 34
    NETWORK_OUT_OF_ORDER = 38
    TEMPORARY_FAILURE = 41
    SWITCHING_EQUIPMENT_CONGESTION = 42
    RECOVERY_ON_TIMER_EXPIRY = 102
    PROTOCOL_ERROR = 111
    INTERWORKING = 127


class Progress(enum.StrEnum):
    DIAL_TONE = "dial_tone"
    RINGING = "ringing"
    BUSY = "busy"
    CONGESTION = "congestion"
    ANNOUNCEMENT = "announcement"  # an analog trunk hears a recorded announcement (or music) instead of ringback


@dataclass(frozen=True)
class CallEvent:
    """What a line machine reports to call control about a call on ``port``."""

    port: str


@dataclass(frozen=True)
class CallOffered(CallEvent):
    """A call arrives on a trunk port (FXO ringing, a No.1 seize with its digits, an SS7 IAM)."""

    caller: str | None = None  # ANI / caller ID number, None if withheld or absent
    called: str | None = None  # DNIS, None on an analog line
    caller_name: str | None = None
    category: int | None = None  # calling-party category (No.1 KA/KD, ISUP CPC) where given


@dataclass(frozen=True)
class OffHookIdle(CallEvent):
    """An extension's phone went off hook with no call on it: it wants to dial."""


@dataclass(frozen=True)
class DigitReceived(CallEvent):
    """A digit dialled on an extension (or received on a trunk after set-up)."""

    digit: str


@dataclass(frozen=True)
class HookFlash(CallEvent):
    """The phone on an extension flashed its hook (a short on-hook) during a call."""


@dataclass(frozen=True)
class CallProgress(CallEvent):
    """An outgoing leg learned something about the far end (ringback heard, busy heard, ...)."""

    progress: Progress


ANSWER_BY = ("polarity", "voice", "tone", "timeout")


@dataclass(frozen=True)
class CallAnswered(CallEvent):
    """The far end answered. On analog trunks ``by`` says how the box knew (``ANSWER_BY``), ``reason``
    what it heard (voice / silence / fax / polarity), and ``ago`` how many seconds before this event the
    answer was (a voice answer is put at the greeting's onset); ``None`` / 0 where the line signals it."""

    by: str | None = None
    reason: str | None = None
    ago: float = 0.0


@dataclass(frozen=True)
class CallReleased(CallEvent):
    """The leg on this port is gone (far end cleared, the extension hung up, or a failure)."""

    cause: Cause = Cause.NORMAL_CLEARING
    answer_by: str | None = None  # an analog trunk's outbound call not answered: what told (``ANSWER_BY``)
    answer_reason: str | None = None  # and why: busy / congestion / sit / announcement


@dataclass(frozen=True)
class CallerIdReceived(CallEvent):
    """Caller ID decoded on a trunk before the call is offered (analog: between rings)."""

    number: str | None
    name: str | None = None
