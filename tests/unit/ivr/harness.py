"""The daemon's side of a ``FlowRun`` on a virtual clock, for the flow tests.

Plays last ``prompt_s`` per item and then report ``PromptDone``; timers fire at their time; keys
arrive when the test presses them. Everything the caller would hear is kept, as the prompt texts.
"""

from __future__ import annotations

import datetime as dt

from ivr.engine import FlowRun
from ivr.events import (
    ArmTimer,
    CancelTimer,
    Digit,
    HangupRequest,
    HungUp,
    Listen,
    LookupAnswer,
    LookupRequest,
    Play,
    PromptDone,
    PromptFile,
    StartRecording,
    StopPlay,
    TimerFired,
    TransferFailed,
    TransferRequest,
)
from ivr.flow import Flow

BEIJING = dt.timezone(dt.timedelta(hours=8))


class Call:
    def __init__(self, flow: Flow, caller: str = "13912345678", wall: dt.datetime | None = None,
                 prompt_s: float = 2.0, variables: dict[str, str] | None = None) -> None:
        self.flow = flow
        self.now = 100.0
        self.prompt_s = prompt_s
        self.run = FlowRun(flow, caller, "88886666", now=self.now,
                           wall=wall or dt.datetime(2026, 11, 23, 10, 0, tzinfo=BEIJING), variables=variables)
        self.playing: Play | None = None
        self.play_end = 0.0
        self.timers: dict[int, float] = {}
        self.listening = False
        self.heard: list[tuple[str, ...]] = []  # one tuple of texts / file names per Play
        self.stopped: list[int] = []
        self.lookups: list[LookupRequest] = []
        self.recordings: list[StartRecording] = []
        self.ended: TransferRequest | HangupRequest | None = None
        self.actions: list = []
        self._apply(self.run.start())

    # what the daemon does with actions
    def _apply(self, actions: list) -> None:
        self.actions += actions
        for a in actions:
            if isinstance(a, Play):
                self.playing = a
                self.play_end = self.now + self.prompt_s * len(a.items)
                self.heard.append(tuple(i.name if isinstance(i, PromptFile) else i.text for i in a.items))
            elif isinstance(a, StopPlay):
                self.stopped.append(a.id)
                if self.playing and self.playing.id == a.id:
                    self.playing = None
            elif isinstance(a, Listen):
                self.listening = a.on
            elif isinstance(a, ArmTimer):
                assert a.at >= self.now
                self.timers[a.id] = a.at
            elif isinstance(a, CancelTimer):
                self.timers.pop(a.id, None)
            elif isinstance(a, LookupRequest):
                self.lookups.append(a)
            elif isinstance(a, StartRecording):
                self.recordings.append(a)
            elif isinstance(a, TransferRequest | HangupRequest):
                self.ended = a

    def feed(self, event) -> None:
        self._apply(self.run.handle(event))

    def wait(self, seconds: float) -> None:
        """Let virtual time pass, delivering prompt ends and timers in time order."""
        until = self.now + seconds
        while True:
            due = [(at, "timer", tid) for tid, at in self.timers.items() if at <= until]
            if self.playing is not None and self.play_end <= until:
                due.append((self.play_end, "play", self.playing.id))
            if not due:
                break
            at, what, ident = min(due)
            self.now = at
            if what == "play":
                self.playing = None
                self.feed(PromptDone(ident, at))
            else:
                del self.timers[ident]
                self.feed(TimerFired(ident, at))
        self.now = until

    def press(self, keys: str, gap: float = 0.3) -> None:
        for k in keys:
            if self.listening:
                self.feed(Digit(k, self.now))
            self.wait(gap)

    def answer_lookup(self, data: dict | None) -> None:
        self.feed(LookupAnswer(self.lookups[-1].id, data, self.now))

    def transfer_fails(self, reason: str = "busy") -> None:
        self.feed(TransferFailed(reason, self.now))

    def hang_up(self) -> None:
        self.feed(HungUp(self.now))

    # what the caller heard
    def text(self, prompt: str) -> str:
        return self.flow.prompts[prompt].tts or ""

    def last_heard(self) -> tuple[str, ...]:
        return self.heard[-1]
