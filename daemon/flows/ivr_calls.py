"""The daemon's side of the IVR: flows answer calls on lines that name one, voicemail takes messages.

``IvrService`` loads the flows of ``[ivr.flows]`` (validated when the config loads), the TTS and
prompt caches and the voicemail store, and gives each call a flow enters an ``IvrLeg``: the
``ivr.interface.CallControl`` the flow drives. Prompts play through the media layer (A-law frames,
copied, never transcoded), keys come from the line's DTMF detector, timers run on the engine's
clock (virtual in tests), lookups go to integrators as API events, and transfers go back to call
control. A voicemail deposit records the caller's frames after a beep; every file operation runs on
one worker thread, never on the tick, and a message counts (events, stutter dial tone) only once
the store has made it durable. docs/ivr.md describes the flow format and this contract.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from daemon.calls.feature_codes import FeatureCode
from daemon.calls.hooks import CallListener, Priority
from daemon.calls.model import Call, LegState
from daemon.calls.timers import Timer
from daemon.config.model import Config
from daemon.runtime.engine import Engine
from hal.clock import FRAME_SAMPLES
from hal.dsp.g711 import SILENT_FRAME, linear_to_alaw
from hal.dsp.tones import sine
from ivr.audio import AudioLibrary, Playback
from ivr.events import (
    Action,
    AudioItem,
    Digit,
    HungUp,
    Input,
    PromptDone,
    PromptFile,
    RecordingDone,
    TimerFired,
    TransferFailed,
    TtsText,
)
from ivr.flow import Flow
from ivr.flow_config import load_flow
from ivr.interface import IvrCall, dispatch
from ivr.mailbox import MailboxSession, StoreRequest, StoreResult, run_store_request
from ivr.prompts import Prompts
from ivr.silence import SilenceDetector
from ivr.tts import Tts
from ivr.voicemail import Box, MessageWriter, PinResult, Voicemail, VoicemailError, alaw_wav_header
from signaling.events import Cause

log = logging.getLogger(__name__)

BEEP = linear_to_alaw(np.concatenate([sine(1000.0, -10.0, 2400), np.zeros(800, np.int16)])).reshape(
    -1, FRAME_SAMPLES)  # 0.3 s + 0.1 s, as frames
SAVED = "您的留言已保存，再见"
VM_CHUNK_FRAMES = 25  # caller audio handed to the voicemail writer every 0.5 s
VM_SILENCE_S = 5.0


class _Frames:
    """Plays fixed A-law frames (ticks, 160) once through the media layer (the beep), like a ``Playback``:
    a view per tick, ``play_id`` with the last frame, silence after."""

    def __init__(self, frames: np.ndarray, play_id: int) -> None:
        self.frames, self.play_id, self.pos = frames, play_id, 0

    def frame(self) -> tuple[np.ndarray, int | None]:
        pos = self.pos
        if pos >= len(self.frames):
            return SILENT_FRAME, None
        self.pos = pos + 1
        return self.frames[pos], (self.play_id if self.pos == len(self.frames) else None)


def box_id(target: str) -> str:
    """A flow's voicemail target as a box id: ``8001`` → ``extension:8001``, ``general`` → ``queue:general``."""
    if ":" in target:
        return target
    return f"extension:{target}" if target.isdigit() else f"queue:{target}"


class IvrLeg:
    """One call in a flow: ``ivr.interface.CallControl`` on a trunk port, then maybe a voicemail deposit."""

    def __init__(self, service: IvrService, call: Call, flow: Flow) -> None:
        self._attach(service, call, flow.voice)
        self.ivr = IvrCall(flow, self, call.caller, call.called, now=service.engine.now(), wall=service.wall())

    def _attach(self, service: IvrService, call: Call, voice: str | None) -> None:
        """What every leg the IVR service holds has: the caller's channel, its prompt player, timers."""
        self.service, self.call, self.voice = service, call, voice
        self.port = call.a.port
        self.channel = service.engine.ports[self.port].port.channel
        self.playback = Playback(service.library)
        self.timers: dict[int, Timer] = {}
        self.lookups: set[str] = set()
        self.deposit: _Deposit | None = None
        self.recording: _Recording | None = None
        self.gone = False
        self._hangup_after: int | None = None
        service.engine.media.prompts[self.channel] = self.playback

    # --- CallControl ------------------------------------------------------------------------------

    def play(self, play_id: int, audio: Sequence[AudioItem], barge_in: bool) -> None:
        self.service.engine.media.prompts[self.channel] = self.playback
        self.playback.play(play_id, list(audio))

    def stop_play(self, play_id: int) -> None:
        self.playback.stop(play_id)

    def listen(self, on: bool) -> None:
        self.service.engine.media.detect(self.channel, "dtmf", True)  # the trunk keeps it on: keys barge in

    def arm_timer(self, timer_id: int, at: float) -> None:
        self.cancel_timer(timer_id)
        self.timers[timer_id] = self.service.engine.timers.call_at(
            at, lambda: self._feed(TimerFired(timer_id, self.service.engine.now())))

    def cancel_timer(self, timer_id: int) -> None:
        t = self.timers.pop(timer_id, None)
        if t is not None:
            t.cancel()

    def lookup(self, request_id: int, name: str, params: dict[str, str], timeout_s: float) -> None:
        key = f"{self.call.id}/{request_id}"
        if not self.service.has_integrator("ivr.lookup"):
            self.service.later(lambda: self._if_here(
                lambda: self.ivr.on_lookup_failed(request_id, "no integrator", self.service.engine.now())))
            return
        self.lookups.add(key)
        self.service.requests[key] = (self, request_id)
        self.service.engine.publish("ivr.lookup", call=self.call.id, request=key, name=name, params=params,
                                    caller=self.call.caller, timeout_s=timeout_s)

    def start_recording(self, record_id: int, max_s: float, silence_s: float, terminator: str, beep: bool) -> None:
        def done(path: str, seconds: float, reason: str) -> None:
            self._feed(RecordingDone(record_id, path, seconds, reason, self.service.engine.now()))

        self.recording = _Recording(self, max_s, silence_s, terminator, beep, done)

    def transfer(self, to: str, target: str, summary: dict[str, object]) -> None:
        self.call.ivr = dict(summary)
        if to == "voicemail":
            try:
                box = self.service.voicemail.box(box_id(target))
            except VoicemailError as exc:
                self._transfer_failed(str(exc))
                return
            self.deposit = _Deposit(self, box)
            return
        reason = self.service.engine.calls.ivr_transfer(self.call, to, target, self._transfer_failed)
        if reason is not None:
            self._transfer_failed(reason)
        else:
            self._leave()

    def hangup(self, cause: int, reason: str, summary: dict[str, object]) -> None:
        self.call.ivr = dict(summary)
        self.service.later(lambda: self._if_here(lambda: self.service.engine.calls.hangup(self.call.id, Cause(cause))))

    # --- from the daemon --------------------------------------------------------------------------

    def _feed(self, event: Input) -> None:
        """One input to the dialogue this leg runs (a flow here; the mailbox in ``MailboxLeg``)."""
        if not self.gone:
            self.ivr.feed(event)

    def digit(self, key: str) -> None:
        if self.recording is not None and self.recording.digit(key):
            return
        if self.deposit is not None:
            self.deposit.digit(key)
        else:
            self._feed(Digit(key, self.service.engine.now()))

    def prompt_done(self, play_id: int) -> None:
        if self.recording is not None and play_id == _Recording.BEEP_ID:
            self.recording.beep_done()
        elif self.deposit is not None:
            self.deposit.prompt_done(play_id)
        elif play_id == self._hangup_after:
            self.service.engine.calls.hangup(self.call.id)
        else:
            self._feed(PromptDone(play_id, self.service.engine.now()))

    def left(self) -> None:
        """The call is over for the IVR (the caller hung up, or it was released)."""
        if self.gone:
            return
        self.gone = True
        self.ivr.on_hangup(self.service.engine.now())
        if self.call.ivr is None:
            self.call.ivr = self.ivr.summary()
        if self.deposit is not None:
            self.deposit.end("hangup")
        if self.recording is not None:
            self.recording.end("hangup")
        self._leave()

    def _leave(self) -> None:
        for t in self.timers.values():
            t.cancel()
        self.timers.clear()
        self.playback.stop()
        media = self.service.engine.media
        if media.prompts.get(self.channel) in (self.playback, getattr(self.deposit, "player", None)):
            del media.prompts[self.channel]
        self.service.legs.pop(self.call.id, None)
        for key in self.lookups:
            self.service.requests.pop(key, None)

    def _transfer_failed(self, reason: str) -> None:
        log.info("call %s: IVR transfer failed: %s", self.call.id, reason)
        self.service.legs[self.call.id] = self
        self.service.engine.media.prompts[self.channel] = self.playback
        self.service.later(lambda: self._feed(TransferFailed(reason, self.service.engine.now())))

    def _if_here(self, fn: Callable[[], None]) -> None:
        if not self.gone:
            fn()

    def say_then_hangup(self, text: str) -> None:
        play_id = -2
        self._hangup_after = play_id
        self.service.engine.media.prompts[self.channel] = self.playback
        self.playback.play(play_id, [TtsText(text, self.voice)])


class MailboxLeg(IvrLeg):
    """An extension in the voicemail retrieval dialogue (``ivr.mailbox.MailboxSession``): the same
    prompts, keys and timers as a flow; store work on the voicemail worker thread."""

    def __init__(self, service: IvrService, call: Call, box: str | None) -> None:
        self._attach(service, call, service.voice)
        self.session = MailboxSession(now=service.engine.now(), box=box, box_kind="extension", voice=self.voice,
                                      utc_offset_min=service.config.utc_offset_min)

    def start(self) -> None:
        self._do(self.session.start())

    def _feed(self, event: Input) -> None:
        if not self.gone:
            self._do(self.session.handle(event))

    def _do(self, actions: list[Action]) -> None:
        for a in dispatch(self, actions, dict):
            if isinstance(a, StoreRequest):
                self._store(a)

    def hangup(self, cause: int, reason: str, summary: dict[str, object]) -> None:
        self.service.later(lambda: self._if_here(lambda: self.service.engine.calls.hangup(self.call.id, Cause(cause))))

    def _store(self, request: StoreRequest) -> None:
        service = self.service
        if request.op == "check_pin" and self._pin_refused(request):
            return
        fut = service.files.submit(run_store_request, service.voicemail, request)
        fut.add_done_callback(lambda f: service.done.put(
            lambda: self._stored(request, f.result())))

    def _stored(self, request: StoreRequest, value: Any) -> None:
        if request.op == "check_pin" and isinstance(value, PinResult):
            subject, source = self._pin_keys(request)
            if value.ok:
                self.service.engine.pins.succeeded(subject)
            elif value.tried:  # a wrong PIN (the box's own lockout may have just engaged)
                self.service.engine.pins.failed(subject, source, "phone")
        self._feed(StoreResult(request.id, value, self.service.engine.now()))

    def _pin_keys(self, request: StoreRequest) -> tuple[str, str]:
        return f"voicemail:{request.args['box']}", f"port:{self.call.a.port}"

    def _pin_refused(self, request: StoreRequest) -> bool:
        """The box's PIN through the box's PIN guard (``daemon.calls.pin_guard``, besides the store's own
        per-box lockout): while the box or this phone is locked the PIN is not looked at and the
        caller hears the box is locked; too soon after a wrong PIN, it counts as wrong (not counted)."""
        refusal = self.service.engine.pins.refusal(*self._pin_keys(request))
        if refusal is None:
            return False
        log.info("voicemail %s from %s refused: %s", request.args["box"], self.call.a.label, refusal)
        result = PinResult(False, locked=refusal.locked, tried=False)
        self.service.later(lambda: self._feed(StoreResult(request.id, result, self.service.engine.now())))
        return True

    def left(self) -> None:
        if self.gone:
            return
        if self.recording is not None:
            self.recording.end("hangup")
        self._feed(HungUp(self.service.engine.now()))
        self.gone = True
        self._leave()


class DepositLeg(IvrLeg):
    """A call sent straight to a voicemail box, not by a flow (an ACD queue's overflow)."""

    def __init__(self, service: IvrService, call: Call, box: Box) -> None:
        self._attach(service, call, service.voice)
        self.deposit = _Deposit(self, box)

    def left(self) -> None:
        if self.gone:
            return
        self.gone = True
        if self.deposit is not None:
            self.deposit.end("hangup")
        self._leave()


class _Recording:
    """A flow's record node (or a mailbox greeting): optional beep, then the caller's frames to an A-law
    WAV until the terminator key, silence, the length limit or hang-up; the file is written and fsynced
    on the voicemail thread, and ``done(path, seconds, reason)`` runs on the loop once it is durable."""

    BEEP_ID = -3

    def __init__(self, leg: IvrLeg, max_s: float, silence_s: float, terminator: str, beep: bool,
                 done: Callable[[str, float, str], None]) -> None:
        self.leg, self.done_cb, self.terminator = leg, done, terminator
        self.max_frames = max(1, int(max_s * 50))
        self.silence = SilenceDetector(silence_s, -45.0, after_sound=True) if silence_s > 0 else None
        self.frames: list[np.ndarray] = []
        self.ended = False
        service = leg.service
        directory = Path(service.config.state_dir) / "ivr-recordings"
        self.path = directory / f"{leg.call.id}-{service.next_file_number()}.wav"
        if beep:
            service.engine.media.prompts[leg.channel] = _Frames(BEEP, self.BEEP_ID)
        else:
            self.beep_done()

    def beep_done(self) -> None:
        media = self.leg.service.engine.media
        if isinstance(media.prompts.get(self.leg.channel), _Frames):
            del media.prompts[self.leg.channel]
        self.leg.service.recording[self.leg.channel] = self

    def frame(self, alaw: np.ndarray) -> None:
        self.frames.append(alaw.copy())
        if self.silence is not None and self.silence.feed(alaw):
            self.end("silence")
        elif len(self.frames) >= self.max_frames:
            self.end("max length")

    def digit(self, key: str) -> bool:
        """True if the key ended the recording (it is then not a menu key)."""
        if self.terminator and key in self.terminator and not self.ended:
            self.end("terminator")
            return True
        return False

    def end(self, reason: str) -> None:
        if self.ended:
            return
        self.ended = True
        service, leg = self.leg.service, self.leg
        service.recording.pop(leg.channel, None)
        leg.recording = None
        data = np.concatenate(self.frames) if self.frames else np.zeros(0, np.uint8)
        path = self.path

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as f:
                f.write(alaw_wav_header(len(data)) + data.tobytes())
                f.flush()
                os.fsync(f.fileno())
            service.done.put(lambda: self.done_cb(str(path), len(data) / 8000, reason))

        service.files.submit(write)


class _Deposit:
    """Leaving a message: beep, then the caller's frames to the box until #, silence, the limit or hang-up."""

    BEEP_ID = -1
    GREETING_ID = -4

    def __init__(self, leg: IvrLeg, box: Box) -> None:
        self.leg, self.box = leg, box
        self.player = _Frames(BEEP, self.BEEP_ID)
        self.recording = False
        self.frames: list[np.ndarray] = []
        self.count = 0
        self.max_frames = int(box.max_message_s * 50)
        self.silence = SilenceDetector(VM_SILENCE_S, -45.0, after_sound=True)
        self.writer: Future[MessageWriter] | None = None
        self.ended = False
        greeting = leg.service.voicemail.greeting(box.id)  # the box owner's own words first, if recorded
        if greeting is not None:
            leg.playback.play(self.GREETING_ID, [PromptFile("greeting", str(greeting))])
            leg.service.engine.media.prompts[leg.channel] = leg.playback
        else:
            leg.service.engine.media.prompts[leg.channel] = self.player

    def prompt_done(self, play_id: int) -> None:
        if play_id == self.GREETING_ID and not self.ended:
            self.leg.service.engine.media.prompts[self.leg.channel] = self.player
        elif play_id == self.BEEP_ID and not self.ended:
            del self.leg.service.engine.media.prompts[self.leg.channel]
            vm, caller = self.leg.service.voicemail, self.leg.call.caller or ""
            self.writer = self.leg.service.files.submit(vm.start_message, self.box.id, caller)
            self.recording = True
            self.leg.service.recording[self.leg.channel] = self
        elif play_id == -2:
            self.leg.service.engine.calls.hangup(self.leg.call.id)

    def frame(self, alaw: np.ndarray) -> None:
        """One tick of the caller's audio (on the tick: a copy and a level, nothing more)."""
        self.frames.append(alaw.copy())
        self.count += 1
        if len(self.frames) >= VM_CHUNK_FRAMES:
            self._flush()
        if self.silence.feed(alaw):
            self.end("silence")
        elif self.count >= self.max_frames:
            self.end("limit")

    def digit(self, key: str) -> None:
        if key == "#" and self.recording:
            self.end("#")

    def _flush(self) -> None:
        if self.frames and self.writer is not None:
            data, self.frames = np.concatenate(self.frames), []
            writer = self.writer
            self.leg.service.files.submit(lambda: writer.result().write(data))

    def end(self, why: str) -> None:
        if self.ended:
            return
        self.ended = True
        service = self.leg.service
        service.recording.pop(self.leg.channel, None)
        if self.writer is None:
            return
        self._flush()
        writer, leg = self.writer, self.leg

        def finish() -> None:
            msg = writer.result().finish()
            service.done.put(lambda: service.message_saved(leg, msg, why))

        service.files.submit(finish)


class _PreloadCheck:
    """Once every fixed prompt is ready or failed: the failures (espeak-ng missing, a cache_dir it cannot
    write, a missing file) are one error in the log, callers would hear silence in their place."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.failed: list[BaseException] = []
        self.lock = threading.Lock()

    def done(self, fut: Future) -> None:
        with self.lock:  # the prompts finish on several worker threads
            if (exc := fut.exception()) is not None:
                self.failed.append(exc)
            self.left -= 1
            if self.left or not self.failed:
                return
        log.error("IVR: %d prompts could not be made, callers hear silence in their place; the first: %s",
                  len(self.failed), self.failed[0])


class IvrService(CallListener):
    """Flows, audio caches and voicemail for the whole box; one ``IvrLeg`` per call in a flow."""

    def __init__(self, config: Config, engine: Engine, env: Any = None, has_integrator: Callable[[str], bool]
                 = lambda kind: False, wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self.config, self.engine, self.wall = config, engine, wall
        self.has_integrator = has_integrator
        state = Path(config.state_dir)
        self.flows: dict[str, Flow] = {name: load_flow(path) for name, path in config.ivr.flows}
        self.voice = next(iter(self.flows.values())).voice if self.flows else None  # for prompts outside a flow
        self.tts = Tts(config.tts_dir)
        self.prompts = Prompts(state / "prompts")
        self.library = AudioLibrary(self.tts, self.prompts)
        self.preloaded = [f for flow in self.flows.values() for f in self.library.preload(flow)]
        check = _PreloadCheck(len(self.preloaded))
        for fut in self.preloaded:
            fut.add_done_callback(check.done)
        self.voicemail = Voicemail(state / "voicemail", env=env)
        for ext in config.extensions:
            self.voicemail.configure(Box(f"extension:{ext.number}", notify_extension=ext.number),
                                     pin=ext.voicemail_pin or None)
        for q in config.acd.queues:  # a queue's own box (its overflow to "voicemail")
            self.voicemail.configure(Box(f"queue:{q.name}"))
        for a in config.acd.agents:  # an agent's own box, wherever they sit
            self.voicemail.configure(Box(f"agent:{a.id}"), pin=a.pin if len(a.pin) >= 4 else None)
        for b in config.ivr.boxes:
            self.voicemail.configure(Box(b.box, max_message_s=b.max_message_s,
                                         notify_extension=b.notify_extension or None), pin=b.pin or None)
        self.files = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voicemail")  # in order, off the tick
        self.done: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()  # worker → loop
        self.legs: dict[str, IvrLeg] = {}
        self.requests: dict[str, tuple[IvrLeg, int]] = {}
        self.recording: dict[int, _Deposit | _Recording] = {}
        self._ids = itertools.count()
        self.voicemail.on_change.append(lambda box, new, saved: self.done.put(lambda: self._changed(box, new, saved)))
        engine.calls.serve_flows(self)
        engine.calls.add_listener(self, Priority.IVR)
        for code in self.feature_codes():
            engine.calls.features.add(FeatureCode(code, "voicemail", lambda call, _f, code=code: self.mailbox(call, code)))
        engine.after_tick.append(self._after_tick)
        self.refresh_message_waiting()

    def refresh_message_waiting(self) -> None:
        """Set every phone's stutter dial tone from the boxes (at start-up and after the board reopens)."""
        for box in [f"extension:{e.number}" for e in self.config.extensions] + [b.box for b in self.config.ivr.boxes]:
            new, saved = self.voicemail.counts(box)
            self._changed(box, new, saved)

    def next_file_number(self) -> int:
        """A number that makes an IVR recording's file name unique within this run."""
        return next(self._ids)

    def ready(self) -> bool:
        """Whether every fixed prompt has been synthesised or loaded."""
        return all(f.done() for f in self.preloaded)

    # --- what call control calls -----------------------------------------------------------------

    def owns(self, call_id: str) -> bool:
        return call_id in self.legs

    def enter(self, call: Call, flow_name: str) -> None:
        leg = IvrLeg(self, call, self.flows[flow_name])
        self.legs[call.id] = leg
        leg.ivr.start()

    def feature_codes(self) -> dict[str, str | None]:
        """Codes an extension may dial to reach voicemail: code → box (None: the caller's own)."""
        codes: dict[str, str | None] = {self.config.ivr.voicemail_code: None}
        codes.update({b.code: b.box for b in self.config.ivr.boxes if b.code})
        return codes

    def mailbox(self, call: Call, code: str) -> None:
        """An extension dialled a voicemail code: the retrieval dialogue takes its call."""
        box = self.feature_codes()[code]
        if box is None:
            ext = self.config.extension_by_port(call.a.port)
            box = f"extension:{ext.number}" if ext else None
        call.a.state = LegState.ANSWERED
        self.engine.calls.begin(call)
        leg = MailboxLeg(self, call, box)
        self.legs[call.id] = leg
        leg.start()

    def deposit_voicemail(self, call: Call, box: str) -> str | None:
        """Take a call that no flow holds (an ACD overflow) to leave a message in ``box``; why not, or None."""
        try:
            b = self.voicemail.box(box_id(box))
        except VoicemailError as exc:
            return str(exc)
        self.legs[call.id] = DepositLeg(self, call, b)
        return None

    def digit(self, call: Call, port: str, digit: str) -> bool:
        """A key from the caller of a call in a flow is the flow's."""
        if call.id not in self.legs or port != call.a.port:
            return False
        self.legs[call.id].digit(digit)
        return True

    def hung_up(self, call: Call) -> None:
        leg = self.legs.get(call.id)
        if leg is not None:
            leg.left()

    # --- from the API ----------------------------------------------------------------------------

    def calls(self) -> list[dict[str, Any]]:
        """Calls in a flow now: where each is and what the caller has pressed."""
        out = []
        for leg in self.legs.values():
            if isinstance(leg, MailboxLeg):
                out.append({"call": leg.call.id, "port": leg.port, "caller": leg.call.caller, "flow": "voicemail",
                            "node": leg.session.box, "keys": "", "voicemail": True, "steps": leg.session.log[-5:]})
                continue
            summary = leg.ivr.summary()
            out.append({"call": leg.call.id, "port": leg.port, "caller": leg.call.caller, "flow": summary["flow"],
                        "node": (summary["path"] or [None])[-1], "keys": summary["keys"],
                        "voicemail": leg.deposit is not None, "steps": summary["steps"][-5:]})
        return out

    def lookup_reply(self, request: str, data: dict | None, error: str | None) -> bool:
        entry = self.requests.pop(request, None)
        if entry is None:
            return False
        leg, request_id = entry
        now = self.engine.now()
        if error is not None:
            leg.ivr.on_lookup_failed(request_id, error, now)
        else:
            leg.ivr.on_lookup_answer(request_id, data, now)
        return True

    # --- plumbing --------------------------------------------------------------------------------

    def later(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` after the current step (the flow must not be re-entered from inside its own actions)."""
        self.done.put(fn)

    def _after_tick(self, rx: np.ndarray, tx: np.ndarray) -> None:
        media = self.engine.media
        for ch, deposit in list(self.recording.items()):
            deposit.frame(rx[ch])
        if media.prompts_done:  # every channel's: this service's legs take theirs
            by_channel = {leg.channel: leg for leg in self.legs.values()}
            for ch, play_id in media.prompts_done:
                leg = by_channel.get(ch)
                if leg is not None:
                    leg.prompt_done(play_id)
        while True:
            try:
                fn = self.done.get_nowait()
            except queue.Empty:
                break
            try:
                fn()
            except Exception:
                log.exception("IVR: a deferred step failed")

    def message_saved(self, leg: IvrLeg, msg: Any, why: str) -> None:
        log.info("voicemail: message %s in %s from %s (%.1f s, ended by %s)", msg.id, msg.box, msg.caller,
                 msg.seconds, why)
        self.engine.publish("voicemail.message", box=msg.box, message=msg.id, caller=msg.caller,
                            seconds=msg.seconds, call=leg.call.id)
        if not leg.gone:
            leg.say_then_hangup(SAVED)

    def _changed(self, box: str, new: int, saved: int) -> None:
        self.engine.publish("voicemail.changed", box=box, new=new, saved=saved)
        try:
            notify = self.voicemail.box(box).notify_extension
        except VoicemailError:
            return
        ext = self.config.extension_by_number(notify) if notify else None
        if ext is not None:
            boxes = [b for b in self._boxes_of(notify)]
            self.engine.set_message_waiting(ext.port, any(self.voicemail.counts(b)[0] > 0 for b in boxes))

    def _boxes_of(self, extension: str) -> list[str]:
        boxes = [f"extension:{extension}"]
        boxes += [b.box for b in self.config.ivr.boxes if b.notify_extension == extension]
        return boxes

    def close(self) -> None:
        self.files.shutdown(wait=True)
        self.library.close()
        self.voicemail.close()
