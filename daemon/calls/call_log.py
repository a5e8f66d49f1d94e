"""The daemon log's account of calls: one INFO line for each call event that matters to someone reading
the log — a call offered on a line, queued, answered by an agent, abandoned, sent on by an overflow,
and ended (with its Q.850 cause, disposition, length, agent and the IVR nodes it went through —
not the keys pressed, which a flow may use to collect a code). Everything else
(rings, announcements, agent states) stays out of the log: it is in the API's events and the CDRs.

``CallLog`` wraps the engine's ``publish``: it writes the line and passes the event on unchanged."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from signaling.events import Cause

log = logging.getLogger("callbox.calls")


def cause_text(cause: object) -> str:
    """``16`` -> ``"16 normal clearing"``; an unknown or missing cause as it is."""
    try:
        return f"{int(cause)} {Cause(int(cause)).name.lower().replace('_', ' ')}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(cause)


def _s(seconds: object) -> str:
    return f"{float(seconds):.0f} s" if isinstance(seconds, int | float) else "? s"


def describe(kind: str, e: dict[str, Any]) -> str | None:
    """The log line for an event, or None when the event is not one the log tells."""
    call = f"call {e.get('call')}"
    if kind == "call.offered" and "line" in e:  # a call arrived on a trunk (not the ACD's offer to an agent)
        to = f" for {e['called']}" if e.get("called") else ""
        return f"{call}: offered on {e.get('line') or e.get('port')} ({e.get('port')}) from {e.get('caller') or 'unknown'}{to}"
    if kind == "call.queued":
        return f"{call}: queued in {e.get('queue')} at position {e.get('position')} (caller {e.get('caller') or 'unknown'})"
    if kind == "call.connected":
        who = f"agent {e['agent']} at {e.get('extension')}" if e.get("agent") else f"extension {e.get('extension')}"
        return f"{call}: answered by {who} after {_s(e.get('wait_s'))} in {e.get('queue')}"
    if kind == "call.abandoned":
        short = " (short)" if e.get("short") else ""
        return f"{call}: abandoned in {e.get('queue')} after {_s(e.get('wait_s'))}{short}"
    if kind == "call.overflow":
        return (f"{call}: overflow from {e.get('queue')} to {e.get('to')} after {_s(e.get('wait_s'))} "
                f"({e.get('reason')})")
    if kind == "call.ended" and isinstance(e.get("cdr"), dict):  # the box's end of a call, with its CDR
        cdr = e["cdr"]
        parts = [f"{call}: ended, cause {cause_text(cdr.get('cause'))}", str(cdr.get("disposition") or "?")]
        if cdr.get("duration") is not None:
            parts.append(f"lasted {_s(cdr['duration'])}")
        if cdr.get("agent"):
            parts.append(f"agent {cdr['agent']}")
        if cdr.get("ivr_path"):  # the menus it went through, not the keys (a flow may collect a code)
            parts.append(f"IVR {' > '.join(str(n) for n in cdr['ivr_path'])}")
        return ", ".join(parts)
    return None


class CallLog:
    """``publish`` for the engine: logs the events ``describe`` tells, then hands every event on."""

    def __init__(self, publish: Callable[..., None]) -> None:
        self.publish = publish

    def __call__(self, kind: str, **data: Any) -> None:
        if kind.startswith("call.") and log.isEnabledFor(logging.INFO):
            line = describe(kind, data)
            if line is not None:
                log.info("%s", line)
        self.publish(kind, **data)
