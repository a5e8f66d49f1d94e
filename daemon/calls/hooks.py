"""Call control's hook interface: what the features, the ACD, the IVR and the recorder may be told or asked
at each point of a call, in which order, and the two destinations a call can be sent to (queues, flows).

A part of the daemon plugs into call control (``daemon.calls.control.CallControl``) by subclassing
``CallListener`` (every hook has a default that does nothing and answers "not mine") and registering with
``calls.add_listener(listener, priority)``. Listeners are asked in ``Priority`` order (lower first;
listeners of equal priority in the order they registered):

* **first answer wins** for the hooks that return ``True`` / a value (``intercept``, ``offer``,
  ``no_answer``, ``answered``, ``released``, ``digit``, ``consulting_for``, ``skip_hunt``, ``keeps_line``,
  ``holding``): the first listener that takes the event ends the asking; call control does its own
  handling only if none did;
* **every listener** is told for the notifications (``bridged``, ``unbridged``, ``connected_digit``,
  ``hung_up``, ``ending``, ``ended``, ``call_changed``, ``phone_in_use``, ``agent_left``,
  ``transfer_taken``); ``caller_data`` merges what every listener adds.

docs/call-control.md describes the points and the order.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Any, Protocol

from daemon.calls.model import Call
from signaling.events import CallEvent


class Priority(enum.IntEnum):
    """Where a listener is asked (lower first). Supervision sees a supervisor's keys and answers before
    anything else; extension features (call waiting, forwarding, DND) come before hook-flash, so a
    flash with a call waiting answers it instead of holding the call; hook-flash sessions before the
    ACD (a consultation dialled by an agent is the agent's, not the queue's); the ACD before the IVR
    (a caller waiting in a queue keys for the queue); the recorder last (it only listens)."""

    SUPERVISION = 100
    EXTENSION_FEATURES = 150
    HOOK_FLASH = 200
    ACD = 300
    IVR = 400
    RECORDING = 500


class CallListener(Protocol):
    """What a listener may do at each point of a call (see the module docstring). Subclass it and override
    the hooks you need; the defaults leave everything to call control."""

    # --- first answer wins ------------------------------------------------------------------------------

    def intercept(self, ev: CallEvent) -> bool:
        """Before call control handles a port's event: True if handled here (call control then does nothing)."""
        return False

    def offer(self, call: Call, number: str) -> bool:
        """Call control is about to ring extension ``number`` for ``call``: True if this listener took the
        call elsewhere (forwarded, refused, made it wait)."""
        return False

    def skip_hunt(self, number: str) -> bool:
        """Whether an inbound hunt should pass extension ``number`` by (do not disturb)."""
        return False

    def no_answer(self, call: Call) -> bool:
        """``call``'s ring went unanswered for the dial plan's time: True if handled here (forwarded ...)."""
        return False

    def keeps_line(self, call: Call) -> bool:
        """Call control is failing ``call``: True if its extension's line stays up (a consultation)."""
        return False

    def consulting_for(self, call: Call) -> Call | None:
        """The call on hold while ``call`` is its agent's consultation, if this listener holds one."""
        return None

    def holding(self, port: str) -> bool:
        """Whether the extension on ``port`` has a party on hold here (a hook-flash session)."""
        return False

    def answered(self, port: str) -> bool:
        """The phone or line on ``port`` answered: True if it was ringing for this listener (handled here)."""
        return False

    def released(self, port: str) -> bool:
        """``port`` released: True if it was this listener's ring that failed (handled here)."""
        return False

    def digit(self, call: Call, port: str, digit: str) -> bool:
        """A key on ``port`` of ``call``: True if it was for this listener (a queue, a flow)."""
        return False

    # --- every listener ---------------------------------------------------------------------------------

    def bridged(self, call: Call) -> None:
        """``call``'s two parties are connected (answered, retrieved from hold, transferred)."""

    def unbridged(self, call: Call) -> None:
        """``call``'s bridge is about to go (hold, transfer, end)."""

    def connected_digit(self, call: Call, port: str, digit: str) -> None:
        """A key on an answered leg of ``call`` that no listener took (in-call codes)."""

    def hung_up(self, call: Call) -> None:
        """A port of ``call`` was released, or the call is ending: whatever this listener plays to it stops."""

    def ending(self, call: Call) -> None:
        """``call`` ends; its CDR is made after every listener has been told (it may still add to it)."""

    def ended(self, call: Call) -> None:
        """``call`` ended (CDR written and published)."""

    def call_changed(self, call: Call) -> None:
        """``call`` is about to change hands (hold, transfer)."""

    def phone_in_use(self, port: str, in_use: bool) -> None:
        """The phone on ``port`` is taken by (or freed from) a call that is no queue's."""

    def agent_left(self, call: Call) -> None:
        """The extension that took queued ``call`` handed it on (transfer, back to the IVR)."""

    def transfer_taken(self, call: Call, port: str) -> None:
        """Queued ``call``, handed on by its agent, was answered at ``port``."""

    def caller_data(self, call: Call) -> dict[str, Any]:
        """What this listener adds to every ring of ``call`` (screen pop)."""
        return {}


class Queues(Protocol):
    """The ACD as a destination: where call control and features send a call to wait for an agent."""

    def has_queue(self, name: str) -> bool: ...
    def enqueue(self, call: Call, queue: str) -> bool: ...
    def agent_logged_in_at(self, extension: str) -> str | None: ...
    def agent_extension(self, agent_id: str) -> str | None: ...


class Flows(Protocol):
    """The IVR as a destination: flows that answer calls, and voicemail deposits."""

    def owns(self, call_id: str) -> bool: ...
    def enter(self, call: Call, flow_name: str) -> None: ...
    def deposit_voicemail(self, call: Call, box: str) -> str | None: ...


class Listeners:
    """Call control's listeners in priority order."""

    def __init__(self) -> None:
        self._entries: list[tuple[int, int, CallListener]] = []
        self.ordered: tuple[CallListener, ...] = ()

    def add(self, listener: CallListener, priority: int) -> None:
        if any(entry[2] is listener for entry in self._entries):
            raise ValueError(f"{listener!r} listens already")
        self._entries.append((int(priority), len(self._entries), listener))
        self._entries.sort(key=lambda entry: entry[:2])
        self.ordered = tuple(entry[2] for entry in self._entries)

    def remove(self, listener: CallListener) -> None:
        self._entries = [entry for entry in self._entries if entry[2] is not listener]
        self.ordered = tuple(entry[2] for entry in self._entries)

    def __iter__(self) -> Iterator[CallListener]:
        return iter(self.ordered)
