"""Spans and ports as the HAL presents them, whatever the board.

A span is a group of ports on one board: a bank of FXS ports, a bank of FXO ports, or an E1 with 30
bearer timeslots (1-15, 17-31) and a signalling timeslot (16) carrying CAS bits or HDLC frames.
Every port that carries audio owns one row ("channel") of the tick's frame array.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class PortKind(enum.StrEnum):
    FXS = "fxs"  # the box feeds an analog phone
    FXO = "fxo"  # the box is a phone on a central-office line
    E1_BEARER = "e1"  # one 64 kbit/s bearer timeslot of an E1


class SpanKind(enum.StrEnum):
    FXS = "fxs"
    FXO = "fxo"
    E1 = "e1"


class E1Signalling(enum.StrEnum):
    CAS = "cas"  # ABCD bits per timeslot on TS16 (China No.1 line signalling)
    HDLC = "hdlc"  # an HDLC signalling link on TS16 (SS7)


class Alarm(enum.StrEnum):
    LOS = "LOS"  # loss of signal
    AIS = "AIS"  # alarm indication signal (all ones from upstream)
    RAI = "RAI"  # remote alarm indication (far end sees a problem)


E1_BEARER_TIMESLOTS: tuple[int, ...] = tuple(list(range(1, 16)) + list(range(17, 32)))
E1_SIGNALLING_TIMESLOT = 16


def port_id(span: int, index: int) -> str:
    """The canonical name of a port: "span/index" (index is the timeslot number on E1)."""
    return f"{span}/{index}"


@dataclass(frozen=True)
class Port:
    id: str  # "span/index", e.g. "1/3", or "3/17" for E1 timeslot 17 of span 3
    span: int
    index: int  # 1-based port number, or the E1 timeslot number
    kind: PortKind
    channel: int  # row of this port in the tick's frame array


@dataclass
class Span:
    id: int
    kind: SpanKind
    ports: list[Port]
    signalling: E1Signalling | None = None  # E1 only
    alarms: set[Alarm] = field(default_factory=set)

    @property
    def name(self) -> str:
        return f"span{self.id}"


def build_spans(layout: list[dict]) -> list[Span]:
    """Build spans from a board's layout description.

    ``layout`` is a list of ``{"id": int, "kind": "fxs"|"fxo"|"e1", "ports": int (analog),
    "signalling": "cas"|"hdlc" (e1)}``; channels are numbered in span order, then port order.
    """
    spans: list[Span] = []
    channel = 0
    for entry in layout:
        kind = SpanKind(entry["kind"])
        sid = int(entry["id"])
        ports: list[Port] = []
        if kind is SpanKind.E1:
            for ts in E1_BEARER_TIMESLOTS:
                ports.append(Port(port_id(sid, ts), sid, ts, PortKind.E1_BEARER, channel))
                channel += 1
            signalling = E1Signalling(entry.get("signalling", "cas"))
        else:
            pkind = PortKind.FXS if kind is SpanKind.FXS else PortKind.FXO
            for i in range(1, int(entry["ports"]) + 1):
                ports.append(Port(port_id(sid, i), sid, i, pkind, channel))
                channel += 1
            signalling = None
        spans.append(Span(sid, kind, ports, signalling))
    return spans


def channel_count(spans: list[Span]) -> int:
    return sum(len(s.ports) for s in spans)
