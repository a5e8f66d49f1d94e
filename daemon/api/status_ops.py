"""The API's views of the box as it runs: ``status``, ``ops``, ``ports``, ``calls`` and ``spans``
(any role; docs/api.md lists their fields)."""

from __future__ import annotations

import time
from typing import Any

from daemon.api.host import OpsHost
from daemon.api.roles import ROLES
from daemon.api.server import ApiServer

VERSION = "0.1.0"
CDR_ALARM = "CDR_STORE"  # alarm.raised / alarm.cleared while finished calls' CDRs wait for the store


def status(host: OpsHost) -> dict[str, Any]:
    e = host.engine
    return {
        "name": host.config.name, "version": VERSION, "board": host.board_up, "ticks": e.ticks,
        "utc_offset_min": host.config.utc_offset_min,
        "uptime": round(time.time() - host.started, 1), "active_calls": len(e.calls.calls),
        "cdrs": host.store.cdr_count(), "skipped_ticks": e.skipped_ticks,
        "tick_cost_max_ms": round(e.tick_cost_max * 1000, 3), "tick_cost": e.tick_stats.summary(),
        "scheduling": host.scheduling,
        "api": {"clients": len(host.api.clients), "refused": host.api.refused,
                "waiting_bytes": host.api.waiting_bytes},
        "alarms": {str(s.span.id): sorted(s.span.alarms) for s in e.spans.values() if s.span.alarms},
        "circuit_alarms": dict(e.circuit_alarms),
        "store_alarms": {CDR_ALARM: host.writer.alarm} if host.writer.alarm else {},
        "cdrs_held": len(host.writer.held),
        "recorder_alarms": host.recording.recorder.alarms if host.recording else {},
        "cap_alarms": e.calls.cos.alarms(),  # extensions at their daily cap of outside minutes
        "link": {"dropped_bytes": getattr(host.board, "dropped_bytes", 0),
                 "bad_frames": getattr(host.board, "bad_frames", 0)},
    }


def spans(host: OpsHost) -> list[dict]:
    now = host.engine.now()
    out = []
    for s in host.engine.spans.values():
        row = {"id": s.span.id, "kind": s.span.kind.value,
               "signalling": s.span.signalling.value if s.span.signalling else None,
               "ports": len(s.span.ports), "alarms": sorted(s.span.alarms)}
        link = s.hdlc_link(now)
        if link is not None:
            row["hdlc"] = link
        out.append(row)
    return out


def register(api: ApiServer, host: OpsHost) -> None:
    api.op("status", lambda req: status(host))
    api.op("ops", lambda req: [{"op": name, "roles": [r for r in ROLES if r in op.roles], "audit": op.audit,
                                **op.args.describe_args()} for name, op in sorted(api.ops.items())])
    api.op("ports", lambda req: host.engine.port_states())
    api.op("calls", lambda req: [c.record() for c in host.engine.calls.calls.values()])
    api.op("spans", lambda req: spans(host))
