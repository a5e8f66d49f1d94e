"""Audio mixing for conferences and supervisor taps, over whole frames (numpy, no per-sample Python).

``Mixer`` is the media layer's routing table for channels that hear something other than one plain
bridged partner: each *output* channel hears the sum of a set of *source* channels (linear domain,
saturated to 16 bits, A-law in and out). An output with exactly one source is a copy of that source's
A-law frame (no transcoding), like a bridge; an output with no source hears silence. The tables the
tick uses, and the arrays it works in, are rebuilt only when the routing changes, so a tick costs one
decode, one gather, one sum and one encode for all mixed outputs together, with no allocation.

``Rooms`` says *who hears whom* and turns it into mixer routes. A room is a set of members, each with
a mode:

* ``talk``: hears every other ``talk`` member and any ``whisper`` member whispering to it; heard by all;
* ``listen``: hears every ``talk`` member; heard by nobody (supervisor listen);
* ``whisper``: hears every ``talk`` member; heard only by its ``target`` (supervisor whisper).

An N-party conference is a room of ``talk`` members; barge is a supervisor joining as ``talk``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from hal.clock import FRAME_SAMPLES
from hal.dsp.g711 import ALAW_SILENCE, alaw_to_linear, linear_to_alaw

_DECODE = alaw_to_linear(np.arange(256, dtype=np.uint8)).astype(np.int32)  # A-law code -> linear
_ENCODE = linear_to_alaw(np.arange(-32768, 32768))  # linear + 32768 -> A-law code


class Mixer:
    """Output channel -> the channels it hears, applied to a tick's tx array (see the module docstring)."""

    def __init__(self) -> None:
        self.routes: dict[int, tuple[int, ...]] = {}
        self._built = True
        self._silent = np.zeros(0, np.int64)
        self._copy_out = np.zeros(0, np.int64)
        self._copy_src = np.zeros(0, np.int64)
        self._sum_out = np.zeros(0, np.int64)
        self._inputs = np.zeros(0, np.int64)
        self._gather = np.zeros((0, 0), np.int64)  # (outputs, max sources) rows of _inputs; len(_inputs) = zero row
        self._alloc(0, 0, 0)

    def _alloc(self, inputs: int, outputs: int, width: int) -> None:
        """The arrays a tick's mix works in (written in place each tick)."""
        self._codes = np.zeros((inputs, FRAME_SAMPLES), np.uint8)  # the inputs' A-law
        self._codes_ix = np.zeros((inputs, FRAME_SAMPLES), np.intp)  # the same, as table indices
        self._lin = np.zeros((inputs + 1, FRAME_SAMPLES), np.int32)  # decoded; the last row stays zero
        self._terms = np.zeros((outputs, width, FRAME_SAMPLES), np.int32)  # each output's sources
        self._mixed = np.zeros((outputs, FRAME_SAMPLES), np.int32)  # their sum, saturated
        self._mixed_ix = np.zeros((outputs, FRAME_SAMPLES), np.intp)  # the same, as encode table indices
        self._out = np.zeros((outputs, FRAME_SAMPLES), np.uint8)

    def __bool__(self) -> bool:
        return bool(self.routes)

    def set(self, out: int, sources: tuple[int, ...] | list[int]) -> None:
        """Channel ``out`` hears the sum of ``sources`` (its own channel is never among them)."""
        srcs = tuple(sorted({s for s in sources if s != out}))
        if self.routes.get(out) != srcs:
            self.routes[out] = srcs
            self._built = False

    def clear(self, out: int) -> None:
        if self.routes.pop(out, None) is not None:
            self._built = False

    def _build(self) -> None:
        silent, copies, sums = [], [], []
        for out, srcs in self.routes.items():
            if not srcs:
                silent.append(out)
            elif len(srcs) == 1:
                copies.append((out, srcs[0]))
            else:
                sums.append((out, srcs))
        self._silent = np.array(silent, np.int64)
        self._copy_out = np.array([o for o, _ in copies], np.int64)
        self._copy_src = np.array([s for _, s in copies], np.int64)
        self._sum_out = np.array([o for o, _ in sums], np.int64)
        inputs = sorted({s for _, srcs in sums for s in srcs})
        index = {ch: i for i, ch in enumerate(inputs)}
        width = max((len(srcs) for _, srcs in sums), default=0)
        gather = np.full((len(sums), width), len(inputs), np.int64)
        for row, (_, srcs) in enumerate(sums):
            gather[row, : len(srcs)] = [index[s] for s in srcs]
        self._inputs = np.array(inputs, np.int64)
        self._gather = gather
        self._alloc(len(inputs), len(sums), width)
        self._built = True

    def apply(self, rx: np.ndarray, tx: np.ndarray) -> None:
        """Overwrite the routed outputs' rows of ``tx`` from this tick's ``rx`` (both channels x 160 A-law)."""
        if not self._built:
            self._build()
        if len(self._silent):
            tx[self._silent] = ALAW_SILENCE
        if len(self._copy_out):
            tx[self._copy_out] = rx[self._copy_src]
        if len(self._sum_out):
            np.take(rx, self._inputs, axis=0, out=self._codes, mode="clip")
            np.copyto(self._codes_ix, self._codes)
            np.take(_DECODE, self._codes_ix, out=self._lin[:-1], mode="clip")
            np.take(self._lin, self._gather, axis=0, out=self._terms, mode="clip")
            mixed = self._mixed
            self._terms.sum(axis=1, out=mixed)
            np.clip(mixed, -32768, 32767, out=mixed)
            np.add(mixed, 32768, out=self._mixed_ix)
            np.take(_ENCODE, self._mixed_ix, out=self._out, mode="clip")
            tx[self._sum_out] = self._out


class Mode:
    TALK = "talk"
    LISTEN = "listen"
    WHISPER = "whisper"


@dataclass
class Member:
    channel: int
    mode: str = Mode.TALK
    target: int | None = None  # whisper: the one channel that hears this member


@dataclass
class Room:
    id: int
    members: dict[int, Member] = field(default_factory=dict)

    def hears(self, ch: int) -> tuple[int, ...]:
        """The channels member ``ch`` hears."""
        me = self.members[ch]
        out = []
        for other in self.members.values():
            if other.channel == ch:
                continue
            if other.mode == Mode.TALK or (me.mode == Mode.TALK and other.mode == Mode.WHISPER
                                           and other.target == ch):
                out.append(other.channel)
        return tuple(out)


class Rooms:
    """Conference rooms and taps over one ``Mixer`` (a channel is in at most one room)."""

    def __init__(self, mixer: Mixer) -> None:
        self.mixer = mixer
        self.rooms: dict[int, Room] = {}
        self.room_of: dict[int, int] = {}
        self._ids = itertools.count(1)

    def create(self, members: dict[int, tuple[str, int | None]] | None = None) -> int:
        """A new room with ``members`` (channel -> (mode, whisper target)); returns its id."""
        room = Room(next(self._ids))
        self.rooms[room.id] = room
        for ch, (mode, target) in (members or {}).items():
            self._put(room, ch, mode, target)
        self._route(room)
        return room.id

    def join(self, room_id: int, ch: int, mode: str = Mode.TALK, target: int | None = None) -> None:
        """Add channel ``ch`` to the room, or change its mode if it is in it already."""
        room = self.rooms[room_id]
        self._put(room, ch, mode, target)
        self._route(room)

    def leave(self, ch: int) -> None:
        """Channel ``ch`` leaves its room (it goes back to whatever its bridge says)."""
        rid = self.room_of.pop(ch, None)
        if rid is None:
            return
        room = self.rooms[rid]
        room.members.pop(ch, None)
        self.mixer.clear(ch)
        self._route(room)

    def close(self, room_id: int) -> None:
        room = self.rooms.pop(room_id, None)
        if room is None:
            return
        for ch in room.members:
            self.room_of.pop(ch, None)
            self.mixer.clear(ch)

    def _put(self, room: Room, ch: int, mode: str, target: int | None) -> None:
        if mode not in (Mode.TALK, Mode.LISTEN, Mode.WHISPER):
            raise ValueError(f"unknown member mode {mode!r}")
        if mode == Mode.WHISPER and target is None:
            raise ValueError("a whisper needs a target")
        old = self.room_of.get(ch)
        if old is not None and old != room.id:
            self.leave(ch)
        room.members[ch] = Member(ch, mode, target)
        self.room_of[ch] = room.id

    def _route(self, room: Room) -> None:
        for ch in room.members:
            self.mixer.set(ch, room.hears(ch))
