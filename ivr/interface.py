"""The call-control interface the daemon hands the IVR, and ``IvrCall``, which drives a flow over it.

``CallControl`` is what the daemon implements, once per call leg in the IVR (see docs/ivr.md for
when each method is called and what the daemon must answer). ``IvrCall`` glues one ``FlowRun`` to
one ``CallControl``: the daemon calls ``IvrCall``'s ``on_*`` methods from its event loop (never
from the 20 ms tick's audio path, and never from a worker thread) and ``IvrCall`` calls back into
``CallControl`` with what the flow wants. Every call is short: no I/O, no waiting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from ivr.engine import FlowRun
from ivr.events import (
    Action,
    ArmTimer,
    AudioItem,
    CancelTimer,
    Digit,
    HangupRequest,
    HungUp,
    Input,
    Listen,
    LookupAnswer,
    LookupFailed,
    LookupRequest,
    Play,
    PromptDone,
    RecordingDone,
    StartRecording,
    StopPlay,
    TimerFired,
    TransferFailed,
    TransferRequest,
)
from ivr.flow import Flow


@runtime_checkable
class CallControl(Protocol):
    """What the daemon does for a call in the IVR. All methods return at once; results come back as
    ``IvrCall.on_*`` calls on the event loop."""

    def play(self, play_id: int, audio: Sequence[AudioItem], barge_in: bool) -> None:
        """Queue ``audio`` on the caller's leg (replacing anything playing); when the last item has
        played, call ``on_prompt_done(play_id)``. TTS items: ``Tts.request`` first (cache hit is
        immediate); recorded files: ``Prompts.load`` (done at flow load)."""

    def stop_play(self, play_id: int) -> None:
        """Stop that playback now (barge-in); no ``on_prompt_done`` for it."""

    def listen(self, on: bool) -> None:
        """Run DTMF detection on the leg and pass each key to ``on_digit`` (on), or stop (off)."""

    def arm_timer(self, timer_id: int, at: float) -> None:
        """Call ``on_timer(timer_id)`` at loop time ``at`` (``loop.call_at``)."""

    def cancel_timer(self, timer_id: int) -> None:
        """Forget that timer."""

    def lookup(self, request_id: int, name: str, params: dict[str, str], timeout_s: float) -> None:
        """Publish an ``ivr.lookup`` API event to integrators; pass the reply to ``on_lookup_answer`` or
        ``on_lookup_failed``. The flow times out by itself; late replies are ignored."""

    def start_recording(self, record_id: int, max_s: float, silence_s: float, terminator: str, beep: bool) -> None:
        """Record the caller (file written off the tick, fsynced), then ``on_recording_done``."""

    def transfer(self, to: str, target: str, summary: dict[str, object]) -> None:
        """Leave the IVR to an extension, queue, voicemail box or outside number; ``summary`` (path,
        keys, variables) goes with the call to the screen pop and the CDR. If it cannot be done,
        ``on_transfer_failed(reason)``."""

    def hangup(self, cause: int, reason: str, summary: dict[str, object]) -> None:
        """Release the call with Q.850 ``cause`` (16 normal, 21 rejected); ``summary`` as for transfer."""


class IvrCall:
    """One call in one flow: feeds inputs to a ``FlowRun`` and carries its actions out on ``control``."""

    def __init__(self, flow: Flow, control: CallControl, caller: str | None, called: str | None, *, now: float,
                 wall: dt.datetime | None = None, variables: dict[str, str] | None = None) -> None:
        self.control = control
        self.run = FlowRun(flow, caller, called, now=now, wall=wall, variables=variables)

    def start(self) -> None:
        self._do(self.run.start())

    def on_digit(self, key: str, now: float) -> None:
        self.feed(Digit(key, now))

    def on_prompt_done(self, play_id: int, now: float) -> None:
        self.feed(PromptDone(play_id, now))

    def on_timer(self, timer_id: int, now: float) -> None:
        self.feed(TimerFired(timer_id, now))

    def on_lookup_answer(self, request_id: int, data: dict[str, object] | None, now: float) -> None:
        self.feed(LookupAnswer(request_id, data, now))

    def on_lookup_failed(self, request_id: int, reason: str, now: float) -> None:
        self.feed(LookupFailed(request_id, reason, now))

    def on_recording_done(self, record_id: int, path: str, seconds: float, reason: str, now: float) -> None:
        self.feed(RecordingDone(record_id, path, seconds, reason, now))

    def on_transfer_failed(self, reason: str, now: float) -> None:
        self.feed(TransferFailed(reason, now))

    def on_hangup(self, now: float) -> None:
        self.feed(HungUp(now))

    def summary(self) -> dict[str, object]:
        return self.run.summary()

    def feed(self, event: Input) -> None:
        """Any input at all (the ``on_*`` methods are this with the event built for you)."""
        self._do(self.run.handle(event))

    def _do(self, actions: list[Action]) -> None:
        dispatch(self.control, actions, self.run.summary)


def dispatch(c: CallControl, actions: list[Action], summary: Callable[[], dict[str, object]]) -> list[Action]:
    """Carry ``actions`` out on ``c``; returns the actions that are not ``CallControl``'s to do
    (e.g. the mailbox dialogue's store requests). ``summary`` is asked only when a call leaves."""
    rest: list[Action] = []
    for a in actions:
        if isinstance(a, Play):
            c.play(a.id, a.items, a.barge_in)
        elif isinstance(a, StopPlay):
            c.stop_play(a.id)
        elif isinstance(a, Listen):
            c.listen(a.on)
        elif isinstance(a, ArmTimer):
            c.arm_timer(a.id, a.at)
        elif isinstance(a, CancelTimer):
            c.cancel_timer(a.id)
        elif isinstance(a, LookupRequest):
            c.lookup(a.id, a.name, dict(a.params), a.timeout_s)
        elif isinstance(a, StartRecording):
            c.start_recording(a.id, a.max_s, a.silence_s, a.terminator, a.beep)
        elif isinstance(a, TransferRequest):
            c.transfer(a.to, a.target, summary())
        elif isinstance(a, HangupRequest):
            c.hangup(a.cause, a.reason, summary())
        else:
            rest.append(a)
    return rest
