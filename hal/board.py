"""The interface every driver gives the host: a board's spans, its ticks, and a way back.

A driver yields one ``Tick`` per 20 ms: the tick number, one A-law frame per channel as a
``(channels, 160)`` uint8 array (row = ``Port.channel``), and the events that arrived since the
previous tick. The host answers each tick with ``send(tick, tx, commands)``: the frames to play
(same shape) and any commands. A board that gets no answer in time plays silence, as hardware does.
The first tick after ``open()`` reports the lines' current state as events (every E1 CAS timeslot's
far-end bits, off-hook phones, alarms): a restarted host learns what the far ends still hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from hal.events import Command, Event
from hal.ports import Span


@dataclass
class Tick:
    tick: int
    rx: np.ndarray  # (channels, 160) uint8 A-law
    events: list[Event] = field(default_factory=list)


class BoardError(RuntimeError):
    """The board is gone or unusable (link closed, device removed)."""


DEFAULT_TX_DELAY_FRAMES = 2  # a board that does not say (the simulator's and DAHDI's usual two buffers)


class Board(Protocol):
    name: str
    spans: list[Span]
    # ticks from the host's answer to tick n until that audio is on the line (the board's transmit
    # buffer): a line's echo of it is in the receive audio of tick n + tx_delay_frames at the earliest
    # (a board without the attribute: DEFAULT_TX_DELAY_FRAMES)
    tx_delay_frames: int

    async def open(self) -> None:
        """Connect to the board and learn its spans; raises BoardError if it is not there."""

    async def next_tick(self) -> Tick:
        """Wait for the next tick; raises BoardError if the board went away."""

    def send(self, tick: int, tx: np.ndarray, commands: list[Command]) -> None:
        """Queue the host's frames and commands in answer to ``tick`` (never blocks)."""

    async def close(self) -> None: ...
