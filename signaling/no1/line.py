"""No.1 / R2 line signalling on one E1 timeslot: the A and B bits of TS16 (sans-I/O).

Everything that affects the line state lives here: ``FAR`` says what the far end's (debounced) line
signals mean in each state, ``LOCAL`` which of our own line signals each state allows; both by name,
the variant giving each signal's bits in both directions. The
register phase, call events and timers are the trunk's (``trunk.py``); this module knows the bits.

Incoming (we are the backward side)::

    idle --far seize--> in_seized (we send seize-ack) --answer()--> in_answered
    in_answered --clear_back()--> in_cleared_back --far clear-forward--> idle
    in_seized / in_answered --far clear-forward--> idle (we send idle)

Outgoing (we are the forward side)::

    idle --seize()--> out_seizing --far seize-ack--> out_seized --far answer--> out_answered
    out_answered --far clear-back--> out_answered (event clear_back; the trunk clears forward)
    any out_* --clear_forward()--> out_clearing --far idle--> idle

After a restart (``restart()``) nothing is known of the far end and nothing is sent until its bits
are reported (``unknown``): idle -> idle (we send idle); seize -> in_seized (a seizure, met with
seize-ack: a forward side still holding a call from before the restart then sees clear-back and
clears forward, so our idle comes only after its clear-forward); blocked -> blocked_remote;
answer (a call we placed before the restart) -> wait_idle (our idle is its clear-forward).

Blocking: ``block()`` sends "blocked" on an idle timeslot (blocked_local, far seizures are
ignored); far "blocked" bits on an idle timeslot -> blocked_remote until they return to idle.
Anything the table does not list is a protocol error (event "error"); the trunk turns it into a
clean release: forced idle with ``release_to_idle()`` -> wait_idle -> idle when the far end is idle.
"""

from __future__ import annotations

import enum

from signaling.no1.variant import Variant


class LineState(enum.StrEnum):
    UNKNOWN = "unknown"  # restarted: the far end's bits are not known yet, we send nothing
    IDLE = "idle"
    BLOCKED_LOCAL = "blocked_local"
    BLOCKED_REMOTE = "blocked_remote"
    IN_SEIZED = "in_seized"
    IN_ANSWERED = "in_answered"
    IN_CLEARED_BACK = "in_cleared_back"
    OUT_SEIZING = "out_seizing"
    OUT_SEIZED = "out_seized"
    OUT_ANSWERED = "out_answered"
    OUT_CLEARING = "out_clearing"
    WAIT_IDLE = "wait_idle"


class LineError(Exception):
    """The local side asked for a line signal its state does not allow."""


S = LineState

# FAR[state][the far end's line signal] -> (next state, event for the trunk or None); a signal not
# listed is a protocol error. Keyed by the signal's name, not its bits: each variant's ``line_ab``
# gives the bits (``far_table``), as OpenR2 keeps its ABCD tables per variant. In one state no two
# listed signals may share their bits.
FAR: dict[LineState, dict[str, tuple[LineState, str | None]]] = {
    S.UNKNOWN: {"idle": (S.IDLE, "restart_idle"), "seize": (S.IN_SEIZED, "seized"),
                "blocked": (S.BLOCKED_REMOTE, "restart_blocked"), "answer": (S.WAIT_IDLE, "restart_answered")},
    S.IDLE: {"idle": (S.IDLE, None), "seize": (S.IN_SEIZED, "seized"), "blocked": (S.BLOCKED_REMOTE, "blocked")},
    # while we block, the far end's bits mean nothing
    S.BLOCKED_LOCAL: {sig: (S.BLOCKED_LOCAL, None) for sig in ("idle", "seize", "answer", "blocked")},
    S.BLOCKED_REMOTE: {"blocked": (S.BLOCKED_REMOTE, None), "idle": (S.IDLE, "unblocked")},
    S.IN_SEIZED: {"seize": (S.IN_SEIZED, None), "clear_forward": (S.IDLE, "clear_forward")},
    S.IN_ANSWERED: {"seize": (S.IN_ANSWERED, None), "clear_forward": (S.IDLE, "clear_forward")},
    S.IN_CLEARED_BACK: {"seize": (S.IN_CLEARED_BACK, None), "clear_forward": (S.IDLE, "clear_forward")},
    S.OUT_SEIZING: {"idle": (S.OUT_SEIZING, None), "seize_ack": (S.OUT_SEIZED, "seize_ack"),
                    "seize": (S.OUT_SEIZING, "glare")},
    S.OUT_SEIZED: {"seize_ack": (S.OUT_SEIZED, None), "answer": (S.OUT_ANSWERED, "answer"),
                   "forced_release": (S.OUT_SEIZED, "forced_release")},
    S.OUT_ANSWERED: {"answer": (S.OUT_ANSWERED, None), "clear_back": (S.OUT_ANSWERED, "clear_back"),
                     "forced_release": (S.OUT_ANSWERED, "forced_release")},
    S.OUT_CLEARING: {"idle": (S.IDLE, "released"), "clear_back": (S.OUT_CLEARING, None),
                     "answer": (S.OUT_CLEARING, None), "forced_release": (S.OUT_CLEARING, None)},
    S.WAIT_IDLE: {"idle": (S.IDLE, "released"), "seize_ack": (S.WAIT_IDLE, None), "answer": (S.WAIT_IDLE, None),
                  "seize": (S.WAIT_IDLE, None)},
}


def far_table(variant: Variant) -> dict[LineState, dict[int, tuple[LineState, str | None]]]:
    """``FAR`` in ``variant``'s A/B bits: state -> far A/B bits -> (next state, event)."""
    table: dict[LineState, dict[int, tuple[LineState, str | None]]] = {}
    for state, row in FAR.items():
        by_bits: dict[int, tuple[LineState, str | None]] = {}
        for signal, outcome in row.items():
            ab = variant.far_ab(signal)
            if by_bits.get(ab, outcome) != outcome:
                raise ValueError(f"variant {variant.name}: in line state {state.value} the far end's "
                                 f"{signal!r} has the bits of another signal with another meaning")
            by_bits[ab] = outcome
        table[state] = by_bits
    return table


# LOCAL[action] -> (states it is allowed in, next state, line signal we send)
LOCAL: dict[str, tuple[tuple[LineState, ...], LineState, str]] = {
    "seize": ((S.IDLE,), S.OUT_SEIZING, "seize"),
    "ack_seize": ((S.IN_SEIZED,), S.IN_SEIZED, "seize_ack"),
    "answer": ((S.IN_SEIZED,), S.IN_ANSWERED, "answer"),
    "clear_back": ((S.IN_ANSWERED,), S.IN_CLEARED_BACK, "clear_back"),
    # the calling side did not clear forward after clear-back: the called side forces the release
    "forced_release": ((S.IN_CLEARED_BACK,), S.IN_CLEARED_BACK, "forced_release"),
    "clear_forward": ((S.OUT_SEIZING, S.OUT_SEIZED, S.OUT_ANSWERED), S.OUT_CLEARING, "clear_forward"),
    "block": ((S.IDLE,), S.BLOCKED_LOCAL, "blocked"),
    "unblock": ((S.BLOCKED_LOCAL,), S.IDLE, "idle"),
    "yield_to_glare": ((S.OUT_SEIZING,), S.IN_SEIZED, "seize_ack"),
}


class CasLine:
    """The line-signalling state of one timeslot: our bits, the far end's debounced A/B bits."""

    def __init__(self, variant: Variant) -> None:
        self.variant = variant
        self.state = LineState.IDLE
        self.tx = variant.bits("idle")
        self.far_ab: int | None = self.idle_ab  # assumed idle until the board tells otherwise (None: unknown)
        self.pending_ab: int | None = None

    @property
    def variant(self) -> Variant:
        return self._variant

    @variant.setter
    def variant(self, variant: Variant) -> None:
        """Both directions follow the variant: the bits sent (``Variant.bits``) and the receive table."""
        self._variant = variant
        self.far = far_table(variant)
        self.idle_ab = variant.far_ab("idle")

    def bits_changed(self, bits: int) -> bool:
        """Raw ABCD bits arrived; True if they differ from the settled A/B (a debounce starts)."""
        ab = (bits >> 2) & 0b11
        if ab == self.far_ab:
            self.pending_ab = None
            return False
        self.pending_ab = ab
        return True

    def settle(self) -> str | None:
        """The pending bits held for the debounce time: apply them; returns the line event."""
        if self.pending_ab is None:
            return None
        ab, self.pending_ab = self.pending_ab, None
        self.far_ab = ab
        nxt = self.far[self.state].get(ab)
        if nxt is None:
            return "error"
        self.state, event = nxt
        return event

    def local(self, action: str) -> int:
        """Take a local line action; returns the ABCD bits to send."""
        allowed, nxt, signal = LOCAL[action]
        if self.state not in allowed:
            raise LineError(f"{action} not allowed in line state {self.state}")
        self.state = nxt
        self.tx = self.variant.bits(signal)
        return self.tx

    def release_to_idle(self) -> int:
        """After a protocol error or a release: send idle and wait for the far end's idle."""
        self.state = LineState.IDLE if self.far_ab == self.idle_ab else LineState.WAIT_IDLE
        self.tx = self.variant.bits("idle")
        return self.tx

    def restart(self) -> None:
        """The box restarted: the far end's bits are unknown until the board reports them; ``tx`` (idle)
        is what goes out once they are known."""
        self.state = LineState.UNKNOWN
        self.far_ab = None
        self.pending_ab = None
        self.tx = self.variant.bits("idle")

    def far_is(self, signal: str) -> bool:
        """Whether the far end's settled A/B bits are those of ``signal`` in this variant."""
        return self.far_ab == self.variant.far_ab(signal)

    def assume_far(self, signal: str) -> None:
        """Take the far end as sending ``signal`` (its bits unreported: after a restart or span alarm)."""
        self.far_ab = self.variant.far_ab(signal)

    @property
    def both_idle(self) -> bool:
        """Idle in both directions: we send idle and the far end's settled bits are idle."""
        return self.state is LineState.IDLE and self.far_ab == self.idle_ab and self.pending_ab is None

    def force_idle(self) -> int:
        """A release that did not end (T_RELEASE): count the timeslot idle whatever the far end shows."""
        self.state = LineState.IDLE
        self.tx = self.variant.bits("idle")
        return self.tx
