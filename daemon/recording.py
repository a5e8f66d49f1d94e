"""The daemon's side of call recording: builds the recorder from ``[recording]``, starts and stops
recordings as call control bridges and unbridges calls, taps every tick (through the engine),
publishes the recorder's events and alarms, and serves the recording API ops.

The recorder itself (files, index, writer thread, retention, backup) is ``recorder/``; see
docs/recorder.md for what it needs from the daemon, which is what this module does.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from daemon.api.protocol import ApiError, ErrorCode
from daemon.api.roles import INTEGRATOR
from daemon.api.server import ApiServer
from daemon.calls import Call
from daemon.config import Config
from daemon.engine import Engine
from recorder import Recorder, RecorderConfig, RecordingPolicy

log = logging.getLogger(__name__)

FETCH_CHUNK = 512 * 1024  # under the API's 1 MiB message limit


def recorder_config(config: Config) -> RecorderConfig:
    r = config.recording
    state = Path(config.state_dir)
    directory = Path(r.directory) if r.directory else state / "recordings"
    return RecorderConfig(
        directory=directory, index_dir=state / "recordings-index", backup_dir=Path(r.backup_dir) if r.backup_dir else None,
        policy=RecordingPolicy(mode=r.mode, trunks=frozenset(r.trunks), agents=frozenset(r.agents),
                               queues=frozenset(r.queues), on_demand=r.on_demand, allow_stop=r.allow_stop,
                               format=r.format),
        max_age_days=r.max_age_days or None, max_bytes=int(r.max_gb * (1 << 30)) or None,
        min_free_bytes=r.min_free_mb << 20, resume_free_bytes=2 * r.min_free_mb << 20)


def parties(call: Call) -> dict[str, str]:
    """What the recorder's policy and index know of a call."""
    extension = next((leg.label for leg in (call.b, call.a) if leg is not None and leg.kind == "extension"), "")
    trunk = next((leg.label for leg in call.legs() if leg.kind == "trunk"), "")
    return {"caller": call.caller or "", "called": call.called or "", "trunk": trunk, "agent": extension,
            "queue": "", "direction": call.direction}


class Recording:
    """Connects a ``Recorder`` to the engine, call control and the API."""

    def __init__(self, engine: Engine, api: ApiServer, recorder: Recorder) -> None:
        self.engine, self.api, self.recorder = engine, api, recorder
        engine.recorder = recorder
        engine.calls.on_bridge = self._bridged
        engine.calls.on_unbridge = self._unbridged
        api.op("recordings.query", self._query, roles=INTEGRATOR)
        api.op("recordings.fetch", self._fetch, roles=INTEGRATOR)
        api.op("recordings.status", lambda req: {"alarms": self.recorder.alarms, **self.recorder.stats()},
               roles=INTEGRATOR)

    @classmethod
    async def open(cls, config: Config, engine: Engine, api: ApiServer) -> Recording:
        """Build the recorder off the loop (its start-up repairs files a crash left) and attach it."""
        loop = asyncio.get_running_loop()
        attached: list[Recording] = []
        early: list[dict] = []  # events from start-up recovery, before this object exists

        def deliver(ev: dict) -> None:
            if attached:
                attached[0]._event(ev)
            else:
                early.append(ev)

        def on_event(ev: dict) -> None:  # runs on the recorder's threads: hand over to the loop
            loop.call_soon_threadsafe(deliver, ev)

        recorder = await loop.run_in_executor(None, lambda: Recorder(recorder_config(config), on_event=on_event))
        rec = cls(engine, api, recorder)
        attached.append(rec)
        for ev in early:
            rec._event(ev)
        for row in getattr(recorder, "recovered", None) or []:
            log.warning("recording of call %s was interrupted by a restart: repaired", row.get("call_id"))
        return rec

    def _channel(self, port: str) -> int:
        return self.engine.ports[port].port.channel

    def _bridged(self, call: Call) -> None:
        if call.b is None:
            return
        try:
            if self.recorder.start(call.id, parties(call), self._channel(call.a.port), self._channel(call.b.port)):
                self.api.publish("recording.started", call=call.id)
        except Exception:
            log.exception("recording of call %s could not start; the call goes on", call.id)

    def _unbridged(self, call: Call) -> None:
        try:
            self.recorder.stop(call.id)
        except Exception:
            log.exception("recording of call %s could not stop cleanly", call.id)

    def _event(self, ev: dict) -> None:
        kind = ev.get("event", "event")
        data = {k: v for k, v in ev.items() if k != "event"}
        if kind.startswith("alarm") or kind == "recorder.alarm":
            log.warning("recorder alarm: %s", data)
        self.api.publish(kind if kind.startswith(("recording.", "recorder.")) else f"recording.{kind}", **data)

    def _query(self, req: dict) -> list[dict]:
        args = {k: v for k, v in req.items() if k not in ("id", "op")}
        limit = args.get("limit", 100)
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ApiError(ErrorCode.BAD_ARGUMENT, "limit must be an integer 1..1000")
        args["limit"] = limit
        try:
            return self.recorder.query(**args)
        except (TypeError, ValueError) as exc:
            raise ApiError(ErrorCode.BAD_ARGUMENT, str(exc)) from exc

    async def _fetch(self, req: dict) -> dict:
        key, offset = req.get("call") or req.get("key"), req.get("offset", 0)
        if not isinstance(key, str) or not isinstance(offset, int) or offset < 0:
            raise ApiError(ErrorCode.BAD_ARGUMENT, "need call (a call id or recording key) and offset (bytes, >= 0)")
        loop = asyncio.get_running_loop()
        try:
            data = await loop.run_in_executor(None, self.recorder.fetch, key, offset, FETCH_CHUNK)
        except (KeyError, FileNotFoundError) as exc:
            raise ApiError(ErrorCode.NOT_FOUND, f"no recording {key!r}") from exc
        return {"data": data, "offset": offset, "more": len(data) == FETCH_CHUNK}

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.recorder.close)
