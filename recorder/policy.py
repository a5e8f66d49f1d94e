"""Which calls are recorded: pure decisions from a call's description and the recording policy.

Modes (``RecordingPolicy.mode``):

* ``all``       every call is recorded from the moment both parties are bridged;
* ``selected``  a call is recorded when its trunk, its agent or its queue is listed
                (``trunks`` / ``agents`` / ``queues``); any one match is enough. ``agents`` may
                name ACD agent IDs or extension numbers: a call matches by either;
* ``on_demand`` nothing automatically, only what a feature code or the API starts;
* ``off``       nothing, not even on demand.

On-demand start/stop mid-call (feature code, API) is allowed in every mode but ``off`` when
``on_demand`` is true. An automatic recording may be stopped on demand only if ``allow_stop`` is
true (a centre that must record everything sets it false so an agent cannot pause the recording).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from recorder.wav import Format

Mode = Literal["all", "selected", "on_demand", "off"]
MODES: tuple[str, ...] = ("all", "selected", "on_demand", "off")


@dataclass(frozen=True)
class CallInfo:
    """What the recorder knows of a call: the parties and where it came through."""

    call_id: str
    caller: str = ""
    called: str = ""
    trunk: str = ""  # the line / span the call came in on or went out through ("" for internal)
    agent: str = ""  # the ACD agent ID on the call (the extension number when no agent is logged in)
    queue: str = ""  # the ACD queue that routed it
    direction: str = ""  # inbound | outbound | internal
    extension: str = ""  # the agent's extension number

    @classmethod
    def from_parties(cls, call_id: str, parties: Mapping[str, Any]) -> CallInfo:
        """From the ``parties`` dict the daemon passes to ``Recorder.start`` (unknown keys ignored)."""
        return cls(call_id, **{k: str(parties.get(k) or "") for k in
                               ("caller", "called", "trunk", "agent", "queue", "direction", "extension")})


@dataclass(frozen=True)
class RecordingPolicy:
    mode: Mode = "all"
    trunks: frozenset[str] = field(default_factory=frozenset)
    agents: frozenset[str] = field(default_factory=frozenset)
    queues: frozenset[str] = field(default_factory=frozenset)
    on_demand: bool = True
    allow_stop: bool = True
    format: Format = Format.STEREO_ALAW

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"recording.mode: {self.mode!r} is not one of {', '.join(MODES)}")
        for name in ("trunks", "agents", "queues"):
            object.__setattr__(self, name, frozenset(str(x) for x in getattr(self, name)))
        object.__setattr__(self, "format", Format.parse(self.format))


@dataclass(frozen=True)
class Decision:
    record: bool
    reason: str  # "all", "trunk:<name>", "agent:<n>", "queue:<q>", "demand", or why not


def decide(call: CallInfo, policy: RecordingPolicy) -> Decision:
    """Whether ``call`` is recorded automatically when it is bridged."""
    if policy.mode == "all":
        return Decision(True, "all")
    if policy.mode == "selected":
        if call.trunk and call.trunk in policy.trunks:
            return Decision(True, f"trunk:{call.trunk}")
        for who in (call.agent, call.extension):
            if who and who in policy.agents:
                return Decision(True, f"agent:{who}")
        if call.queue and call.queue in policy.queues:
            return Decision(True, f"queue:{call.queue}")
        return Decision(False, "not selected")
    return Decision(False, f"mode {policy.mode}")


def demand_start(call: CallInfo, policy: RecordingPolicy) -> Decision:
    """Whether an on-demand start (feature code, API) is honoured for ``call``."""
    if policy.mode == "off" or not policy.on_demand:
        return Decision(False, "on-demand recording disabled")
    return Decision(True, "demand")


def demand_stop(reason: str, policy: RecordingPolicy) -> Decision:
    """Whether an on-demand stop is honoured for a recording started for ``reason``."""
    if reason == "demand" or policy.allow_stop:
        return Decision(True, "demand")
    return Decision(False, "policy forbids stopping automatic recordings")
