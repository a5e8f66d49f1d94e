"""The line-machine interface: what every per-port signalling state machine takes and gives.

FXO, FXS, a No.1 timeslot (and SS7 circuits next) are ``PortMachine``s, and the engine drives them
only through the methods below, never by their kind. Machines are sans-I/O: inputs arrive as method
calls with the current time (``now``, seconds), outputs (board commands, media requests, call events,
circuit alarms) queue up until the engine takes them (``take_outputs``), and timers are named
deadlines the engine honours by calling ``handle_timer`` once ``deadline`` has passed (a due timer
``T_X`` runs the machine's ``_expired_T_X(due_at, now)``).

The inputs, in three groups, and the rule for an input that makes no sense for a kind of line:

* **From the line** (the board and the port's receivers): ``handle_board_event``, ``handle_digit``,
  ``handle_progress``, ``handle_answer`` (the answer detector's verdict), ``handle_caller_id``,
  ``handle_mf``, ``handle_timer``. The network may send anything at any time: an input a line does not expect in its state is the protocol's business (a
  No.1 timeslot answers bad bits with a protocol-error release; an analog line ignores a stray
  ring), and an input a kind of line never gets (MF on an analog line, caller ID on an extension) is
  ignored with a debug log line. These never raise ``WrongState``.
* **From the engine** (maintenance): ``restart`` (the box started: put the line in a clean idle state
  from what the far end shows), ``out_of_service`` / ``in_service`` (a span alarm came and went).
  A line with no service state of its own (an analog port is never on an E1 span) takes
  ``out_of_service`` / ``in_service`` as nothing and reports ``is_out_of_service`` False.
* **From call control** (requests): ``dial``, ``ring``, ``accept``, ``answer``, ``release(cause, now)``,
  ``play``, ``block`` / ``unblock``, ``set_message_waiting``. A request the line's state does not
  allow raises ``WrongState`` naming the machine, its state and the request; so does a request a kind of line can never do
  (``ring`` on a trunk, ``dial`` on an extension): it is wrong in every state. Exceptions, each a
  documented rule: ``release`` or ``answer`` crossing the line's own release (the far end cleared and
  the ``CallReleased`` is still queued for call control) is accepted as done; ``accept`` (the engine's
  "call control kept the offered call") is nothing on a line that cannot refuse a call, or once the
  call was refused; ``play`` puts the tone on the port (a machine with tones of its own keeps track
  of it); ``block`` on a line that cannot be blocked answers False and ``unblock`` is then nothing;
  ``set_message_waiting`` is nothing on a line with no phone.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

from hal.dsp.answer import AnswerVerdict
from hal.dsp.callerid import CallerId
from hal.dsp.progress import ProgressEvent
from hal.dsp.tones import ToneName
from signaling.events import CallReleased, Cause
from signaling.media import PlayTone

log = logging.getLogger(__name__)


class WrongState(Exception):
    """Call control asked a line for something its state does not allow (a bug in the caller, not the
    network's doing): names the machine, the port, the state and the request."""

    def __init__(self, machine: PortMachine, request: str) -> None:
        self.machine = type(machine).__name__
        self.port = machine.port
        self.state = str(machine.state)
        self.request = request
        super().__init__(f"{self.machine} on port {self.port}: {request} is not allowed in state {self.state}")


class PortMachine(ABC):
    """The line-machine interface (see the module docstring) and what every machine shares: its queue of
    outputs and its named timers. The defaults below are the documented rules for inputs a kind of
    line does not take; each machine overrides what it does."""

    MAX_TIMERS_PER_CALL = 16  # a late call may find a timer and its successors due

    config: Any  # the machine's settings (a frozen dataclass), swapped by the engine on a config reload
    state: Any  # the machine's state (a StrEnum)

    def __init__(self, port: str) -> None:
        self.port = port
        self._out: list[Any] = []
        self._timers: dict[str, float] = {}  # timer name -> deadline (seconds)

    # --- the engine's view -----------------------------------------------------------------------

    @property
    def deadline(self) -> float | None:
        return min(self._timers.values()) if self._timers else None

    @property
    @abstractmethod
    def is_idle(self) -> bool:
        """Free for a new call."""

    @property
    def is_out_of_service(self) -> bool:
        """Taken out of service by a span alarm (``out_of_service``) and not back yet."""
        return False

    def take_outputs(self) -> list[Any]:
        out, self._out = self._out, []
        return out

    # --- from the line -------------------------------------------------------------------------------

    def handle_board_event(self, ev: Any, now: float) -> None:
        self._ignored(ev)

    def handle_digit(self, digit: str, now: float) -> None:
        self._ignored(f"digit {digit!r}")

    def handle_progress(self, ev: ProgressEvent, now: float) -> None:
        self._ignored(ev)

    def handle_answer(self, verdict: AnswerVerdict, now: float) -> None:
        self._ignored(verdict)

    def handle_caller_id(self, cid: CallerId, now: float) -> None:
        self._ignored(cid)

    def handle_mf(self, signal: int, now: float) -> None:
        self._ignored(f"MF signal {signal}")

    def handle_timer(self, now: float) -> None:
        for _ in range(self.MAX_TIMERS_PER_CALL):
            due = [(t, name) for name, t in self._timers.items() if t <= now]
            if not due:
                return
            t, name = min(due)
            del self._timers[name]
            getattr(self, "_expired_" + name)(t, now)

    # --- from the engine -----------------------------------------------------------------------------

    @abstractmethod
    def restart(self, now: float) -> None:
        """The box (re)started: whatever the line carried is gone."""

    def out_of_service(self, now: float) -> None:
        """A span alarm: nothing on a line that is never on an E1 span."""
        return

    def in_service(self, now: float) -> None:
        """The span alarm cleared: nothing on a line that is never on an E1 span."""
        return

    # --- from call control -----------------------------------------------------------------------------

    def dial(self, number: str, now: float, caller: str | None = None) -> None:
        """Place a call to ``number`` (calling number ``caller`` where the line can send one)."""
        raise WrongState(self, f"dial({number!r})")

    def ring(self, cid: CallerId | None, now: float) -> None:
        """Offer a call to the phone on this line (caller ID ``cid``)."""
        raise WrongState(self, "ring()")

    def accept(self, now: float) -> None:
        """Call control kept the call this line offered: nothing on a line that cannot refuse one."""
        return

    def answer(self, now: float) -> None:
        """Answer the call this line offered."""
        raise WrongState(self, "answer()")

    @abstractmethod
    def release(self, cause: Cause, now: float) -> None:
        """End (or refuse) this line's call with ``cause``."""

    def play(self, tone: ToneName | None) -> None:
        """Play ``tone`` on the port (``None``: silence)."""
        self._out.append(PlayTone(self.port, tone))

    def set_message_waiting(self, on: bool) -> None:
        """New voicemail waits for the line's user (or no longer): nothing on a line with no phone."""
        return

    def block(self, now: float) -> bool:
        """Take the idle line out of use; True if it is now blocked by us (False: it cannot be blocked)."""
        return False

    def unblock(self, now: float) -> None:
        """Undo ``block``: nothing on a line that cannot be blocked."""
        return

    # --- for the machines ------------------------------------------------------------------------------

    def _emit(self, item: Any) -> None:
        self._out.append(item)

    def _release_crossed(self) -> bool:
        """The line released its call itself and call control has not taken the ``CallReleased`` yet: a
        release request now crosses it (a normal race, not a wrong state)."""
        return any(isinstance(o, CallReleased) for o in self._out)

    def _wrong_state(self, request: str) -> WrongState:
        return WrongState(self, request)

    def _ignored(self, what: object) -> None:
        log.debug("port %s: %s ignored in state %s", self.port, what, self.state)

