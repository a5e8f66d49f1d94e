"""What goes into a running flow (inputs) and what comes out of it (actions): small immutable records.

A ``FlowRun`` (``ivr.engine``) never touches audio, sockets or clocks: the daemon feeds it inputs
carrying the loop's time ``now`` (seconds, monotonic) and carries out the actions it returns.
Ids tie answers to requests: a ``PromptDone`` names the ``Play`` it ends, a ``TimerFired`` the
``ArmTimer`` it fires, a ``LookupAnswer`` the ``LookupRequest``; answers with a stale id are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# ---- audio to play ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptFile:
    """A recorded prompt (any WAV; load it through ``ivr.prompts.Prompts``, which converts it once)."""

    name: str
    path: str


@dataclass(frozen=True)
class TtsText:
    """Text to speak: ``ivr.tts.Tts.request(text, voice)`` gives the A-law file (cached; fixed texts are
    synthesised when the flow is loaded, see ``Flow.tts_texts``)."""

    text: str
    voice: str | None = None


AudioItem = PromptFile | TtsText

# ---- inputs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Digit:
    """A DTMF key the caller pressed (0-9 * # A-D)."""

    key: str
    now: float


@dataclass(frozen=True)
class PromptDone:
    """The ``Play`` with this id played to its end (not sent for a play the flow stopped)."""

    play_id: int
    now: float


@dataclass(frozen=True)
class TimerFired:
    timer_id: int
    now: float


@dataclass(frozen=True)
class LookupAnswer:
    """The integrator's answer: ``data`` (field -> value) or None for "no such thing"."""

    request_id: int
    data: dict[str, object] | None
    now: float


@dataclass(frozen=True)
class LookupFailed:
    """No integrator connected, or it answered with an error (a timeout is the flow's own timer)."""

    request_id: int
    reason: str
    now: float


@dataclass(frozen=True)
class RecordingDone:
    """A ``StartRecording`` finished (``reason``: terminator, silence, max_length); ``path`` is the file."""

    record_id: int
    path: str
    seconds: float
    reason: str
    now: float


@dataclass(frozen=True)
class TransferFailed:
    """The transfer could not be completed (busy, no answer, no such target ...)."""

    reason: str
    now: float


@dataclass(frozen=True)
class HungUp:
    """The caller hung up."""

    now: float


Input = Digit | PromptDone | TimerFired | LookupAnswer | LookupFailed | RecordingDone | TransferFailed | HungUp

# ---- actions -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Play:
    """Play these items one after another; answer with ``PromptDone(id)`` at the end. With ``barge_in``
    the flow itself sends ``StopPlay`` when a key is pressed."""

    id: int
    items: tuple[AudioItem, ...]
    barge_in: bool


@dataclass(frozen=True)
class StopPlay:
    id: int


@dataclass(frozen=True)
class Listen:
    """Turn DTMF detection for this call on or off (keys are only meaningful while on)."""

    on: bool


@dataclass(frozen=True)
class ArmTimer:
    """Send ``TimerFired(id)`` at loop time ``at``. A new timer replaces nothing: cancel is explicit."""

    id: int
    at: float


@dataclass(frozen=True)
class CancelTimer:
    id: int


@dataclass(frozen=True)
class LookupRequest:
    """Ask the integrators (API ``ivr.lookup`` event) for ``name`` with ``params``; the flow times it out."""

    id: int
    name: str
    params: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 3.0


@dataclass(frozen=True)
class StartRecording:
    """Record the caller (after a beep if ``beep``) until ``terminator``, ``silence_s`` or ``max_s``."""

    id: int
    max_s: float
    silence_s: float
    terminator: str
    beep: bool


@dataclass(frozen=True)
class TransferRequest:
    """Leave the IVR: ``to`` is extension | queue | voicemail | number; ``target`` its number or name."""

    to: str
    target: str


@dataclass(frozen=True)
class HangupRequest:
    """End the call with a Q.850 cause (16 normal, 21 call rejected)."""

    cause: int = 16
    reason: str = ""


Action = Play | StopPlay | Listen | ArmTimer | CancelTimer | LookupRequest | StartRecording | TransferRequest \
    | HangupRequest
