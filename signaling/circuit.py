"""What a circuit-switched stack (No.1 timeslots, later SS7 circuits) reports about a circuit's health, apart
from calls: ``CircuitAlarm`` raised when a circuit cannot be used and cleared when it can again."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CircuitAlarm:
    port: str
    alarm: str  # e.g. "NO_SEIZE_ACK", "FAR_END_HELD"
    raised: bool
