"""The daemon's side of call recording: builds the recorder from ``[recording]``, starts and stops
recordings as call control bridges and unbridges calls, taps every tick (through the engine),
publishes the recorder's events and alarms, and serves the recording API ops.

On demand: the API ops ``recordings.start`` / ``recordings.stop`` and the in-call code ``*1`` (keyed
on an extension during a connected call: recording on, or off; a short beep answers, two beeps for
off, a low tone for a refusal) — both honour the policy (``on_demand``, ``allow_stop``). Supervisor
playback: ``*35 <agent ID or extension> # <supervisor PIN> #`` plays that agent's newest recording
(both parties mixed) to the supervisor's phone; ``#`` the one before, ``*`` again from the start;
the PIN is an ``[[agent]]``'s with ``supervisor = true``. Files are read on this module's worker
thread (``files``), a chunk ahead, never on the tick.

The recorder itself (files, index, writer thread, retention, backup) is ``recorder/``; see
docs/recorder.md for what it needs from the daemon, which is what this module does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from daemon.api.paging import LIST_MAX, Page, take_page
from daemon.api.protocol import ApiError, ErrorCode
from daemon.api.roles import INTEGRATOR, SUPERVISOR
from daemon.api.schema import AGENT, CALL, NUMBER, TIME, Bool, Bytes, Enum, Int, Opt
from daemon.api.server import ApiServer
from daemon.calls.feature_codes import FeatureCode
from daemon.calls.hooks import CallListener, Priority
from daemon.calls.model import Call, LegState
from daemon.config.model import Config
from daemon.features.supervisor import supervisor_guarded
from daemon.runtime.engine import Engine
from daemon.runtime.media import Media
from hal.clock import SAMPLE_RATE
from hal.dsp.tones import sine
from recorder import Recorder, RecorderConfig, RecordingPolicy, has_audio
from recorder.index import rec_key
from recorder.playback import Player
from signaling.events import Cause

log = logging.getLogger(__name__)

FETCH_CHUNK = 512 * 1024  # under the API's 1 MiB message limit
QUERY_ARGS = {"since": Opt(TIME), "until": Opt(TIME), "agent": Opt(AGENT), "number": Opt(NUMBER),
              "call_id": Opt(CALL), "status": Opt(Enum("recording", "complete", "interrupted", "purged")),
              "limit": Opt(Int(1, LIST_MAX), 100), "newest_first": Opt(Bool(), False),
              "cursor": Opt(Bytes(64, min_len=9))}  # a page's ``next``: its last row's index key
DEMAND_CODE = "*1"  # keyed during a connected call: recording on / off
PLAYBACK_CODE = "*35"  # *35 <agent ID or extension> # <supervisor PIN> #
CODE_GAP_S = 3.0  # the keys of an in-call code come within this of each other


def _beeps(*parts: tuple[float, float]) -> np.ndarray:
    """16-bit linear samples of (frequency Hz or 0 for a pause, seconds) parts (``Media.play_once``)."""
    return np.concatenate([sine(f, -12.0, round(sec * SAMPLE_RATE)) if f else np.zeros(round(sec * SAMPLE_RATE), np.int16)
                           for f, sec in parts])


BEEP_ON = _beeps((1400, 0.15))
BEEP_OFF = _beeps((1400, 0.1), (0, 0.1), (1400, 0.1))
BEEP_REFUSED = _beeps((400, 0.5))
BEEP_END = _beeps((0, 0.3), (1000, 0.2))  # the end of a recording played back: # for the one before


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
        min_free_bytes=r.min_free_mb << 20, resume_free_bytes=2 * r.min_free_mb << 20,
        housekeeping_interval=r.housekeeping_interval_s)


def parties(call: Call) -> dict[str, str]:
    """What the recorder's policy and index know of a call: ``agent`` is the ACD agent ID (the extension
    number when no agent took the call through the ACD), ``queue`` the ACD queue, if any."""
    extension = next((leg.label for leg in (call.b, call.a) if leg is not None and leg.kind == "extension"), "")
    trunk = next((leg.label for leg in call.legs() if leg.kind == "trunk"), "")
    return {"caller": call.caller or "", "called": call.called or "", "trunk": trunk,
            "agent": call.agent or extension, "queue": call.queue or "", "direction": call.direction,
            "extension": extension}


class _Playback:
    """A supervisor listening to an agent's recordings: newest first, ``#`` the one before, ``*`` again."""

    def __init__(self, owner: Recording, call: Call, target: str, supervisor: str) -> None:
        self.owner, self.call, self.target, self.supervisor = owner, call, target, supervisor
        self.channel = owner.channel_of(call.a.port)
        self.rows: list[dict] | None = None  # the agent's recordings, once looked up
        self.index = -1
        self.player: Player | None = None
        self.loading: Future | None = owner.files.submit(owner.playable, target)

    @property
    def media(self) -> Media:
        assert self.owner.engine.media is not None
        return self.owner.engine.media

    def _play(self, player: Player | None) -> None:
        prompts = self.media.prompts
        if self.player is not None and prompts.get(self.channel) is self.player:
            del prompts[self.channel]
        self.player = player
        if player is not None:
            prompts[self.channel] = player

    def load(self, index: int) -> None:
        assert self.rows is not None
        self._play(None)
        self.media.play_once(self.channel, None)  # an end beep still sounding too
        if index >= len(self.rows):
            log.info("playback for supervisor %s: no more recordings of %s", self.supervisor, self.target)
            self.owner.later(lambda: self.owner.hang_up(self.call, Cause.NORMAL_CLEARING))
            return
        self.index = index
        recorder, files, rec_id = self.owner.recorder, self.owner.files, self.rows[index]["id"]
        self.loading = files.submit(lambda: Player(recorder.path(rec_id), files.submit, play_id=index).prime())

    def tick(self, done: list[tuple[int, int]]) -> None:
        """After each tick: a lookup or a file that became ready; the recording ended (``done``: the
        media layer's ``prompts_done``)."""
        fut = self.loading
        if fut is not None and fut.done():
            self.loading = None
            try:
                result = fut.result()
            except Exception as exc:  # purged meanwhile, unreadable: the one before
                log.warning("playback of %s: %s", self.target, exc)
                result = None
            if self.rows is None:
                self.rows = result or []
                if not self.rows:
                    log.info("playback: no recordings of %s", self.target)
                    self.owner.later(lambda: self.owner.hang_up(self.call, Cause.CALL_REJECTED))
                    return
                self.load(0)
            elif result is None:
                self.load(self.index + 1)
            else:
                self._play(result)
                row = self.rows[self.index]
                self.owner.api.publish("recording.playback", call=self.call.id, supervisor=self.supervisor,
                                       agent=self.target, id=row["id"], start=row["start"])
        if self.player is not None and (self.channel, self.player.play_id) in done:
            self._play(None)
            self.media.play_once(self.channel, BEEP_END)

    def digit(self, key: str) -> None:
        if self.rows is None:
            return
        if key == "#":
            self.load(self.index + 1)
        elif key == "*" and self.index >= 0:
            self.load(self.index)

    def end(self) -> None:
        self._play(None)


class Recording(CallListener):
    """Connects a ``Recorder`` to the engine, call control and the API."""

    def __init__(self, engine: Engine, api: ApiServer, recorder: Recorder) -> None:
        self.engine, self.api, self.recorder = engine, api, recorder
        self.files = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recording-files")  # playback reads
        self.sessions: dict[str, _Playback] = {}  # call id → a supervisor's playback
        self._keys: dict[str, tuple[str, float]] = {}  # port → in-call keys so far, when the last came
        self._deferred: list[Callable[[], None]] = []
        engine.recorder = recorder
        engine.calls.add_listener(self, Priority.RECORDING)  # bridged, unbridged, keys on a connected leg
        engine.calls.features.add(FeatureCode(PLAYBACK_CODE, "recording.playback", self._playback_code, fields=2))
        engine.after_tick.append(self._after_tick)
        api.op("recordings.query", self._query, roles=INTEGRATOR, args=QUERY_ARGS)
        api.op("recordings.fetch", self._fetch, roles=INTEGRATOR, args={"call": CALL, "offset": Opt(Int(0, 2**40), 0)})
        api.op("recordings.status", self._status, roles=INTEGRATOR, args={"call": Opt(CALL)})
        api.op("recordings.start", self._api_start, roles=INTEGRATOR, audit=True, args={"call": CALL})
        api.op("recordings.stop", self._api_stop, roles=INTEGRATOR, audit=True, args={"call": CALL})
        api.op("recordings.verify", self._api_verify, roles=SUPERVISOR, audit=True)

    @classmethod
    async def open(cls, config: Config, engine: Engine, api: ApiServer, crashed_at: float | None = None) -> Recording:
        """Build the recorder off the loop (its start-up repairs files a crash left, ending them at
        ``crashed_at``, the crashed run's last-alive mark) and attach it."""
        loop = asyncio.get_running_loop()
        attached: list[Recording] = []
        early: list[dict] = []  # events from start-up recovery, before this object exists

        def deliver(ev: dict) -> None:
            if attached:
                attached[0].publish_event(ev)
            else:
                early.append(ev)

        def on_event(ev: dict) -> None:  # runs on the recorder's threads: hand over to the loop
            loop.call_soon_threadsafe(deliver, ev)

        recorder = await loop.run_in_executor(None, lambda: Recorder(recorder_config(config), on_event=on_event,
                                                                      crashed_at=crashed_at))
        rec = cls(engine, api, recorder)
        attached.append(rec)
        for ev in early:  # crash recovery's come before any client can connect: kept for later subscribers
            rec.publish_event(ev, startup=ev.get("event") == "recording.recovered")
        for row in getattr(recorder, "recovered", None) or []:
            log.warning("recording of call %s was interrupted by a restart: repaired", row.get("call_id"))
        return rec

    def channel_of(self, port: str) -> int:
        """The media channel of ``port``."""
        return self.engine.ports[port].port.channel

    def bridged(self, call: Call) -> None:
        if call.b is None:
            return
        try:
            # recording.started comes from the writer once the segment's file is open
            self.recorder.start(call.id, parties(call), self.channel_of(call.a.port), self.channel_of(call.b.port))
        except Exception:
            log.exception("recording of call %s could not start; the call goes on", call.id)

    def unbridged(self, call: Call) -> None:
        for leg in call.legs():
            self._keys.pop(leg.port, None)
        try:
            self.recorder.stop(call.id)
        except Exception:
            log.exception("recording of call %s could not stop cleanly", call.id)

    # --- on demand: the API and the in-call code ------------------------------------------------------

    def start_demand(self, call: Call) -> bool:
        """Record ``call`` from now on (on demand). False if the policy refuses; ValueError if the call
        is not two parties talking."""
        if call.answer is None or call.end is not None or call.b is None or call.transfer_to is not None or any(
                leg.state is not LegState.ANSWERED for leg in call.legs()):
            raise ValueError(f"call {call.id} is not a connected two-party call")
        return self.recorder.start(call.id, parties(call), self.channel_of(call.a.port), self.channel_of(call.b.port),
                                   on_demand=True)

    def stop_demand(self, call: Call) -> bool:
        """Stop recording ``call`` (on demand). False if the policy refuses (``allow_stop``)."""
        if not self.recorder.recording(call.id):
            return True
        return self.recorder.stop(call.id, on_demand=True)

    def _api_call(self, req: dict) -> Call:
        call_id = req["call"]
        call = self.engine.calls.calls.get(call_id)
        if call is None:
            raise ApiError(ErrorCode.NOT_FOUND, f"no call {call_id}")
        return call

    def _api_start(self, req: dict) -> dict:
        call = self._api_call(req)
        try:
            ok = self.start_demand(call)
        except ValueError as exc:
            raise ApiError(ErrorCode.BAD_ARGUMENT, str(exc)) from exc
        if not ok:
            raise ApiError(ErrorCode.FORBIDDEN, "on-demand recording is off ([recording] mode / on_demand)")
        self.api.publish("recording.demand", call=call.id, action="start", by="api", ok=True)
        return {"call": call.id, "recording": True}

    def _api_stop(self, req: dict) -> dict:
        call = self._api_call(req)
        if not self.stop_demand(call):
            raise ApiError(ErrorCode.FORBIDDEN, "this call is recorded by policy and [recording] allow_stop is false")
        self.api.publish("recording.demand", call=call.id, action="stop", by="api", ok=True)
        return {"call": call.id, "recording": False}

    def connected_digit(self, call: Call, port: str, digit: str) -> None:
        """A key on a connected leg (call control's hook): a supervisor's playback, or ``*1``."""
        session = self.sessions.get(call.id)
        if session is not None:
            session.digit(digit)
            return
        leg = next((leg for leg in call.legs() if leg.port == port), None)
        if leg is None or leg.kind != "extension" or call.b is None or call.answer is None:
            return
        now = self.engine.now()
        keys, last = self._keys.get(port, ("", 0.0))
        keys = ("" if now - last > CODE_GAP_S else keys) + digit
        if keys[-len(DEMAND_CODE):] != DEMAND_CODE:
            self._keys[port] = (keys[-len(DEMAND_CODE):], now)
            return
        self._keys.pop(port, None)
        action = "stop" if self.recorder.recording(call.id) else "start"
        try:
            ok = self.stop_demand(call) if action == "stop" else self.start_demand(call)
        except ValueError:
            ok = False
        except Exception:
            log.exception("call %s: on-demand recording %s failed", call.id, action)
            ok = False
        log.info("call %s: extension %s keyed %s: recording %s%s", call.id, leg.label, DEMAND_CODE, action,
                 "" if ok else " refused")
        self.api.publish("recording.demand", call=call.id, action=action, by=leg.label, ok=ok)
        # over the bridge, to this phone only: not recorded
        self.engine.media.play_once(self.channel_of(port), BEEP_REFUSED if not ok else BEEP_ON if action == "start"
                                    else BEEP_OFF)

    # --- supervisor playback ----------------------------------------------------------------------------

    def _playback_code(self, call: Call, fields: list[str]) -> None:
        target, pin = fields
        call.a.state = LegState.ANSWERED
        self.engine.calls.begin(call)  # the CDR says who listened (called = the masked code)
        supervisor = supervisor_guarded(self.engine, pin, f"port:{call.a.port}")
        if supervisor is None or not target:
            log.warning("extension %s: recording playback refused (wrong supervisor PIN)", call.a.label)
            self.api.publish("recording.playback_refused", call=call.id, extension=call.a.label, agent=target)
            self.later(lambda: self.hang_up(call, Cause.CALL_REJECTED))
            return
        log.info("extension %s: supervisor %s plays the recordings of %s", call.a.label, supervisor, target)
        self.sessions[call.id] = _Playback(self, call, target, supervisor)

    def playable(self, agent: str) -> list[dict]:
        """The agent's recordings that have audio, newest first (on the files thread)."""
        rows = self.recorder.query(agent=agent, newest_first=True, limit=1000)
        return [r for r in rows if has_audio(r)][:100]

    def hang_up(self, call: Call, cause: Cause) -> None:
        """Hang ``call`` up, if it still runs."""
        if call.id in self.engine.calls.calls:
            self.engine.calls.hangup(call.id, cause)

    def later(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` after the next tick (not from inside the step that asks)."""
        self._deferred.append(fn)

    def _after_tick(self, rx: Any, tx: Any) -> None:
        if not (self.sessions or self._deferred):
            return
        calls, done = self.engine.calls.calls, self.engine.media.prompts_done
        for call_id, session in list(self.sessions.items()):
            if call_id not in calls:
                session.end()
                del self.sessions[call_id]
            else:
                session.tick(done)
        deferred, self._deferred = self._deferred, []
        for fn in deferred:
            try:
                fn()
            except Exception:
                log.exception("recording: a deferred step failed")

    def publish_event(self, ev: dict, startup: bool = False) -> None:
        """A recorder event as an API event; ``call`` added to the ones naming a ``call_id`` (so a
        subscription filtered by call gets them)."""
        kind = ev.get("event", "event")
        data = {k: v for k, v in ev.items() if k != "event"}
        if "call_id" in data and "call" not in data:
            data["call"] = data["call_id"]
        if kind.startswith("alarm") or kind == "recorder.alarm":
            log.warning("recorder alarm: %s", data)
        kind = kind if kind.startswith(("recording.", "recorder.")) else f"recording.{kind}"
        (self.api.publish_startup if startup else self.api.publish)(kind, **data)

    async def _query(self, req: dict) -> Page:
        """A page of index rows (``daemon.api.paging``), read on a worker thread."""
        args = {k: v for k, v in req.items() if k != "cursor"}
        args["limit"] = req["limit"] + 1  # one more: is there a next page?
        args["after"] = req["cursor"]
        rows = await asyncio.to_thread(lambda: self.recorder.query(**args))
        return take_page(((rec_key(r["start"], r["id"]), r) for r in rows), req["limit"])

    async def _fetch(self, req: dict) -> dict:
        key, offset = req["call"], req["offset"]
        loop = asyncio.get_running_loop()
        try:
            data = await loop.run_in_executor(None, self.recorder.fetch, key, offset, FETCH_CHUNK)
        except (KeyError, FileNotFoundError) as exc:
            raise ApiError(ErrorCode.NOT_FOUND, f"no recording {key!r}") from exc
        return {"data": data, "offset": offset, "more": len(data) == FETCH_CHUNK}

    async def _status(self, req: dict) -> dict:
        """The recorder's state; with ``call`` (a call or recording id), the second-copy status of its files."""
        key = req["call"]
        if key is None:
            return {"alarms": self.recorder.alarms, **self.recorder.stats()}
        files = await asyncio.get_running_loop().run_in_executor(None, self.recorder.copy_status, key)
        if not files:
            raise ApiError(ErrorCode.NOT_FOUND, f"no recording {key!r}")
        return {"call": key, "files": files}

    async def _api_verify(self, req: dict) -> dict:
        """Read every second copy back now (as the daily check does); mismatches are copied again."""
        if self.recorder.backup is None:
            raise ApiError(ErrorCode.BAD_ARGUMENT, "no second copy configured ([recording] backup_dir)")
        return await asyncio.get_running_loop().run_in_executor(None, self.recorder.verify_copies)

    def close_sync(self) -> None:
        """Stop playbacks and the files thread, then the recorder (blocking: an executor or a test)."""
        self.files.shutdown(wait=True, cancel_futures=True)
        self.recorder.close()

    async def close(self) -> None:
        for session in self.sessions.values():
            session.end()
        self.sessions.clear()
        await asyncio.get_running_loop().run_in_executor(None, self.close_sync)
