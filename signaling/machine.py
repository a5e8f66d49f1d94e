"""What every per-port signalling state machine shares: its queue of outputs and its named timers.

Machines are sans-I/O: inputs arrive as method calls with the current time, outputs (board
commands, media requests, call events) queue up until the engine takes them, and timers are named
deadlines the engine honours by calling ``handle_timer`` once ``deadline`` has passed. A due timer
``T_X`` runs the machine's ``_expired_T_X(due_at, now)``.
"""

from __future__ import annotations

from typing import Any


class PortMachine:
    MAX_TIMERS_PER_CALL = 16  # a late call may find a timer and its successors due

    def __init__(self, port: str) -> None:
        self.port = port
        self._out: list[Any] = []
        self._timers: dict[str, float] = {}  # timer name -> deadline (seconds)

    @property
    def deadline(self) -> float | None:
        return min(self._timers.values()) if self._timers else None

    def take_outputs(self) -> list[Any]:
        out, self._out = self._out, []
        return out

    def handle_timer(self, now: float) -> None:
        for _ in range(self.MAX_TIMERS_PER_CALL):
            due = [(t, name) for name, t in self._timers.items() if t <= now]
            if not due:
                return
            t, name = min(due)
            del self._timers[name]
            getattr(self, "_expired_" + name)(t, now)

    def _emit(self, item: Any) -> None:
        self._out.append(item)
