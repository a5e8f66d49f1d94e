"""Board events (board -> host) and board commands (host -> board), and their wire form.

Events are what a board reports between two frames: hook changes, ringing voltage, polarity and
loop-current changes on analog ports, CAS bit changes and HDLC frames on E1, span alarms.
Commands are what the host asks of the board: go off/on hook, flash, ring, reverse polarity, drop
loop current, set CAS bits, send an HDLC frame.

Each kind is declared once here with a one-byte code; ``to_wire``/``from_wire`` give the compact
list form the board link carries (msgpack-encoded by ``hal.boardlink``).
"""

from __future__ import annotations

from dataclasses import MISSING, astuple, dataclass, fields
from typing import Any, ClassVar


class WireError(ValueError):
    """A wire record that does not decode to a known event or command."""


@dataclass(frozen=True)
class _Wire:
    code: ClassVar[int]

    def to_wire(self) -> list[Any]:
        return [self.code, *astuple(self)]


# ---- events: board -> host -------------------------------------------------------------------


@dataclass(frozen=True)
class OffHook(_Wire):
    """FXS: the phone went off hook."""

    code: ClassVar[int] = 1
    port: str


@dataclass(frozen=True)
class OnHook(_Wire):
    """FXS: the phone went on hook."""

    code: ClassVar[int] = 2
    port: str


@dataclass(frozen=True)
class Flash(_Wire):
    """FXS: a hook flash, for boards that time flashes themselves (the simulated board does not)."""

    code: ClassVar[int] = 3
    port: str


@dataclass(frozen=True)
class RingStart(_Wire):
    """FXO: ringing voltage appeared on the line."""

    code: ClassVar[int] = 4
    port: str


@dataclass(frozen=True)
class RingStop(_Wire):
    """FXO: ringing voltage went away."""

    code: ClassVar[int] = 5
    port: str


@dataclass(frozen=True)
class PolarityReversal(_Wire):
    """FXO: the line's polarity reversed (answer or far-end clear, where the exchange gives it)."""

    code: ClassVar[int] = 6
    port: str


@dataclass(frozen=True)
class LoopCurrentDrop(_Wire):
    """FXO: loop current stopped while off hook (the exchange's open-loop disconnect)."""

    code: ClassVar[int] = 7
    port: str
    ms: int = 0  # how long the drop lasted, where the board knows it


@dataclass(frozen=True)
class CasChange(_Wire):
    """E1: the received ABCD bits of a timeslot changed (A=8, B=4, C=2, D=1)."""

    code: ClassVar[int] = 8
    port: str
    bits: int


@dataclass(frozen=True)
class HdlcFrame(_Wire):
    """E1: one HDLC frame received on the span's signalling timeslot (FCS checked and removed)."""

    code: ClassVar[int] = 9
    span: int
    data: bytes


@dataclass(frozen=True)
class AlarmRaised(_Wire):
    code: ClassVar[int] = 10
    span: int
    alarm: str  # hal.ports.Alarm value


@dataclass(frozen=True)
class AlarmCleared(_Wire):
    code: ClassVar[int] = 11
    span: int
    alarm: str


# ---- commands: host -> board -----------------------------------------------------------------


@dataclass(frozen=True)
class SetHook(_Wire):
    """FXO: go off hook (seize / answer) or on hook (release)."""

    code: ClassVar[int] = 64
    port: str
    off_hook: bool


@dataclass(frozen=True)
class SendFlash(_Wire):
    """FXO: flash the hook for ``ms`` milliseconds."""

    code: ClassVar[int] = 65
    port: str
    ms: int = 100


@dataclass(frozen=True)
class SetRing(_Wire):
    """FXS: apply (True) or remove (False) ringing voltage. The host times the cadence."""

    code: ClassVar[int] = 66
    port: str
    on: bool


@dataclass(frozen=True)
class SetPolarity(_Wire):
    """FXS: normal (False) or reversed (True) polarity."""

    code: ClassVar[int] = 67
    port: str
    reversed: bool


@dataclass(frozen=True)
class SetLoopCurrent(_Wire):
    """FXS: feed (True) or drop (False) loop current, e.g. a disconnect signal to the phone."""

    code: ClassVar[int] = 68
    port: str
    on: bool


@dataclass(frozen=True)
class SetCas(_Wire):
    """E1: transmit these ABCD bits on a timeslot."""

    code: ClassVar[int] = 69
    port: str
    bits: int


@dataclass(frozen=True)
class SendHdlc(_Wire):
    """E1: send one HDLC frame on the span's signalling timeslot (the board adds the FCS)."""

    code: ClassVar[int] = 70
    span: int
    data: bytes


Event = OffHook | OnHook | Flash | RingStart | RingStop | PolarityReversal | LoopCurrentDrop | CasChange | HdlcFrame | AlarmRaised | AlarmCleared
Command = SetHook | SendFlash | SetRing | SetPolarity | SetLoopCurrent | SetCas | SendHdlc

_BY_CODE: dict[int, type[_Wire]] = {
    cls.code: cls
    for cls in (OffHook, OnHook, Flash, RingStart, RingStop, PolarityReversal, LoopCurrentDrop, CasChange,
                HdlcFrame, AlarmRaised, AlarmCleared, SetHook, SendFlash, SetRing, SetPolarity,
                SetLoopCurrent, SetCas, SendHdlc)
}
_FIELD_TYPES: dict[type[_Wire], tuple[type, ...]] = {
    cls: tuple({"str": str, "int": int, "bool": bool, "bytes": bytes}[f.type] for f in fields(cls))
    for cls in _BY_CODE.values()
}


def from_wire(record: Any) -> _Wire:
    """Decode one wire record; raise WireError for anything that is not a well-formed event/command."""
    if not isinstance(record, list | tuple) or not record or not isinstance(record[0], int):
        raise WireError(f"not an event record: {record!r:.80}")
    cls = _BY_CODE.get(record[0])
    if cls is None:
        raise WireError(f"unknown event code {record[0]}")
    args = record[1:]
    types = _FIELD_TYPES[cls]
    required = sum(1 for f in fields(cls) if f.default is MISSING)
    if not required <= len(args) <= len(types):
        raise WireError(f"{cls.__name__}: {len(args)} fields, expected {len(types)}")
    for value, typ in zip(args, types, strict=False):
        if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
            raise WireError(f"{cls.__name__}: field {value!r:.40} is not {typ.__name__}")
    return cls(*args)
