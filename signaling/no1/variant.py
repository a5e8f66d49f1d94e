"""R2 variants as data: the ITU-T Q.400-series base and each national variant as a table of differences.

A ``Variant`` holds everything that differs between networks: the line-signal bits in both
directions (``bits`` what we send, ``far_ab`` what we recognise: A and B from ``line_ab``, the C and
D bits fixed per variant on send, not read on receive), what each backward Group A and Group B
signal means, the forward Group I digits and end and restriction signals, the default calling-party categories (KA, KD), and the timers.
The machines in ``line``, ``register`` and ``trunk`` read only this table, never a variant's name.

``CHINA`` (China No.1, MFC/R2 China) = ``ITU`` with: C and D both 1; A-6 asks for the category KA
(then A-1 asks for ANI digits); no A-5/A-6 "address complete, charge"; B-1 free with charge, B-2
busy; no end-of-DNIS signal (the backward side knows the length or times out and pulses A-3).
A trunk may override any timer and the categories (``Variant.with_overrides``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from signaling.events import Cause

# Line signals: the A and B bits as a 2-bit value (A = 2, B = 1); C and D come from the variant.
LINE_AB_ITU: dict[str, int] = {
    "idle": 0b10,  # both directions; the forward side's clear-forward too
    "seize": 0b00,  # forward
    "seize_ack": 0b11,  # backward
    "answer": 0b01,  # backward
    "clear_back": 0b11,  # backward, after answer
    "clear_forward": 0b10,  # forward
    "blocked": 0b11,  # backward (or either side of an idle circuit)
    "forced_release": 0b00,  # backward
}

# Forward Group I digits: digit -> signal (the register sends and reads DNIS and ANI digits by this table)
DIGITS_ITU: dict[str, int] = {str(d): d for d in range(1, 10)} | {"0": 10}

# Backward Group A: signal -> meaning
GROUP_A_ITU: dict[int, str] = {
    1: "next_digit", 2: "resend_1", 3: "address_complete", 4: "congestion", 5: "send_category",
    6: "address_complete_charge", 7: "resend_2", 8: "resend_3",
}
# Backward Group B: signal -> meaning
GROUP_B_ITU: dict[int, str] = {
    2: "special_info", 3: "busy", 4: "congestion", 5: "unallocated", 6: "free_charge",
    7: "free_no_charge", 8: "out_of_order",
}
# Forward Group I specials (digits 1..10 are 1..9, 0)
GROUP_I_ITU: dict[str, int | None] = {"end_of_dnis": 15, "end_of_ani": 15, "ani_restricted": 12}

TIMERS_ITU: dict[str, float] = {
    "T_CAS_DEBOUNCE": 0.02,  # bits must hold this long to count
    "T_SEIZE_ACK": 8.0,  # forward: seize sent, no seize-ack
    "T_MF_CYCLE": 5.0,  # a compelled cycle that does not complete (tone not answered / not removed)
    "T_END_OF_DNIS": 5.0,  # backward: no further digit this long -> DNIS complete (A-3 pulse)
    "T_A3_PULSE": 0.15,  # length of a pulsed backward signal
    "T_FWD_SILENT": 30.0,  # forward: out of digits, silent, waiting for a pulsed A-3 or the line
    "T_ACCEPT": 0.04,  # backward: call control's time to refuse an offered call before it is accepted
    "T_ANSWER": 60.0,  # after B accepted: no answer
    "T_RELEASE": 10.0,  # waiting for the far end's idle after clear-forward / a protocol error
    "T_CLEAR_FORWARD": 60.0,  # backward: clear-back sent, no clear-forward
    "T_RESYNC": 1.0,  # after a restart: the board reports the far end's bits within this, else idle is assumed
}

# What each Group B meaning tells the calling side (None: accepted).
B_CAUSE: dict[str, Cause | None] = {
    "free_charge": None, "free_no_charge": None,
    "busy": Cause.USER_BUSY, "congestion": Cause.SWITCHING_EQUIPMENT_CONGESTION,
    "unallocated": Cause.UNALLOCATED_NUMBER, "out_of_order": Cause.DESTINATION_OUT_OF_ORDER,
    "special_info": Cause.NORMAL_UNSPECIFIED,
}
# What the called side answers for a refusing cause (anything else: congestion).
CAUSE_B: dict[Cause, str] = {
    Cause.USER_BUSY: "busy", Cause.UNALLOCATED_NUMBER: "unallocated", Cause.INVALID_NUMBER_FORMAT: "unallocated",
    Cause.DESTINATION_OUT_OF_ORDER: "out_of_order", Cause.NETWORK_OUT_OF_ORDER: "out_of_order",
}


def _frozen(d: dict) -> MappingProxyType:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class Variant:
    name: str
    cd_bits: int
    line_ab: MappingProxyType = field(default_factory=lambda: _frozen(LINE_AB_ITU))
    group_a: MappingProxyType = field(default_factory=lambda: _frozen(GROUP_A_ITU))
    group_b: MappingProxyType = field(default_factory=lambda: _frozen(GROUP_B_ITU))
    group_i: MappingProxyType = field(default_factory=lambda: _frozen(GROUP_I_ITU))
    digits: MappingProxyType = field(default_factory=lambda: _frozen(DIGITS_ITU))
    timers: MappingProxyType = field(default_factory=lambda: _frozen(TIMERS_ITU))
    ka: int = 1  # calling-party category sent on request (A-6 in China)
    kd: int = 1  # Group II category sent after address complete

    # --- derived tables -----------------------------------------------------------------------

    def bits(self, line_signal: str) -> int:
        """The ABCD nibble we send for a line signal (transmit direction)."""
        return (self.line_ab[line_signal] << 2) | self.cd_bits

    def far_ab(self, line_signal: str) -> int:
        """The A/B bits by which we recognise the far end's line signal (receive direction: C and D are
        not read, as OpenR2 masks them)."""
        return self.line_ab[line_signal]

    def digit_signal(self, digit: str) -> int | None:
        """The forward Group I signal for a DNIS/ANI digit (None: not a digit this variant can send)."""
        return self.digits.get(digit)

    def signal_digit(self, signal: int) -> str | None:
        """The digit a forward Group I signal carries (None: the signal is not a digit)."""
        return next((d for d, s in self.digits.items() if s == signal), None)

    def a_signal(self, meaning: str) -> int:
        return next(s for s, m in self.group_a.items() if m == meaning)

    def b_signal(self, meaning: str) -> int:
        return next(s for s, m in self.group_b.items() if m == meaning)

    def b_for_cause(self, cause: Cause) -> int:
        return self.b_signal(CAUSE_B.get(cause, "congestion"))

    def timer(self, name: str) -> float:
        return self.timers[name]

    def derive(self, name: str, **diffs: Any) -> Variant:
        """A new variant: this one with ``diffs`` applied; dict-valued fields are merged key by key
        (a value of None removes the key)."""
        changes: dict[str, Any] = {"name": name}
        for key, value in diffs.items():
            current = getattr(self, key)
            if isinstance(current, MappingProxyType):
                merged = dict(current)
                for k, v in value.items():
                    if v is None and key != "group_i":
                        merged.pop(k, None)
                    else:
                        merged[k] = v
                changes[key] = _frozen(merged)
            else:
                changes[key] = value
        return replace(self, **changes)

    def with_overrides(self, timers: dict[str, float] | None = None, ka: int | None = None,
                       kd: int | None = None) -> Variant:
        """Per-trunk settings on top of the variant (unknown timer names are an error)."""
        for t in timers or {}:
            if t not in self.timers:
                raise KeyError(f"unknown No.1 timer {t!r}")
        diffs: dict[str, Any] = {}
        if timers:
            diffs["timers"] = timers
        if ka is not None:
            diffs["ka"] = ka
        if kd is not None:
            diffs["kd"] = kd
        return self.derive(self.name, **diffs) if diffs else self


ITU = Variant("itu", cd_bits=0b01)

CHINA = ITU.derive(
    "china",
    cd_bits=0b11,
    group_a={5: None, 6: "send_category"},
    group_b={1: "free_charge", 2: "busy", 3: None, 6: None},
    group_i={"end_of_dnis": None},
)

VARIANTS: dict[str, Variant] = {"itu": ITU, "china": CHINA}
DEFAULT_VARIANT = "china"  # a trunk's, unless its config names another
