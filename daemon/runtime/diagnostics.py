"""Line diagnostics for the installer (supervisor+): ring an extension, play a test tone, watch digits
and caller ID.

* ``diag.ring``: ring a free port (``extension`` or ``port``) for ``seconds`` with a test caller ID
  (``number``, ``name``); the ringing is stopped by an engine timer (the frame clock, so it runs on
  virtual time too). A phone answered during the test is released at the end of it.
* ``diag.tone``: play a tone on a port for ``seconds``: a call-progress ``tone`` (``dial``, ``busy``...)
  or a plain sine of ``freq`` Hz at ``level_dbm0``; whatever the port played before comes back after.
  A port in an answered call is refused (``force`` overrides).
* ``diag.watch``: the last digits and caller IDs heard (``{events}``, oldest first). The same things are
  published as events: ``diag.dtmf {port, digit}`` for every DTMF digit detected on any port and
  ``diag.callerid {port, number, name}`` for caller ID decoded on an FXO line; subscribe to ``diag.``.

Digits and caller IDs come from the engine's ``on_detected`` list: each one the media layer detects,
before the port's line machine gets it.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Protocol

from daemon.api.protocol import ApiError, ErrorCode
from daemon.api.roles import SUPERVISOR
from daemon.api.schema import EXTENSION, PORT, Args, Bool, Enum, Float, Opt, Str
from daemon.api.server import ApiServer
from daemon.config.model import Config
from daemon.runtime.engine import Engine
from hal.dsp.callerid import CallerId
from hal.dsp.tones import CHINA, ToneGenerator, ToneName, ToneSpec
from signaling.events import Cause

WATCH_KEEP = 50
MAX_SECONDS = 120.0
WHERE = {"extension": Opt(EXTENSION), "port": Opt(PORT)}  # exactly one of them
RING_ARGS = Args({**WHERE, "seconds": Opt(Float(1.0, MAX_SECONDS), 5.0), "number": Opt(Str(32), "10000"),
                  "name": Opt(Str(32), "TEST")}, one_of=[("extension", "port")])
TONE_ARGS = Args({**WHERE, "seconds": Opt(Float(0.2, MAX_SECONDS), 5.0),
                  "tone": Opt(Enum(*(t.value for t in ToneName))), "freq": Opt(Float(100.0, 3800.0)),
                  "level_dbm0": Opt(Float(-40.0, 0.0), -10.0), "force": Opt(Bool(), False)},
                 one_of=[("extension", "port"), ("tone", "freq")])


class DiagnosticsHost(Protocol):
    """What the diagnostics use of the service: its engine and its configuration."""

    @property
    def engine(self) -> Engine: ...
    @property
    def config(self) -> Config: ...


class Diagnostics:
    def __init__(self, service: DiagnosticsHost) -> None:
        self.service = service
        self.recent: deque[dict] = deque(maxlen=WATCH_KEEP)
        self.ringing: dict[str, Any] = {}  # port -> the engine timer that ends the test ring
        self.tones: dict[str, tuple] = {}  # port -> (timer that ends it, its generator, what played before)
        self.engine.on_detected.append(self._detected)

    @property
    def engine(self) -> Engine:
        return self.service.engine

    # --- watching ---------------------------------------------------------------------------------

    def _detected(self, port: str, kind: str, what: Any) -> None:
        if kind == "dtmf":
            self._seen("diag.dtmf", port=port, digit=what)
        elif kind == "callerid":
            self._seen("diag.callerid", port=port, number=what.number, name=what.name)

    def _seen(self, kind: str, **data: Any) -> None:
        self.recent.append({"kind": kind, "when": time.time(), **data})
        self.engine.publish(kind, **data)

    def watch(self, req: dict) -> dict:
        return {"events": list(self.recent), "subscribe": ["diag.dtmf", "diag.callerid"]}

    # --- ports ------------------------------------------------------------------------------------

    def _port(self, req: dict) -> str:
        ext, port = req["extension"], req["port"]
        if ext is not None:
            e = self.service.config.extension_by_number(ext)
            if e is None:
                raise ApiError(ErrorCode.NOT_FOUND, f"no extension {ext}")
            port = e.port
        if port not in self.engine.ports:
            raise ApiError(ErrorCode.NOT_FOUND, f"no port {port} on the board")
        return port

    def ring(self, req: dict) -> dict:
        port = self._port(req)
        seconds, number, name = req["seconds"], req["number"], req["name"]
        engine = self.engine
        if self.service.config.extension_by_port(port) is None:  # only an extension's phone can ring
            raise ApiError(ErrorCode.BAD_ARGUMENT, f"port {port} is not an extension (FXS) port")
        if port in self.ringing or port in engine.calls.by_port or not engine.is_free(port):
            raise ApiError(ErrorCode.BAD_ARGUMENT, f"port {port} is busy")
        engine.ring(port, CallerId(number=number, name=name))
        self.ringing[port] = engine.timers.call_at(engine.now() + seconds, lambda: self._end_ring(port))
        return {"port": port, "seconds": seconds, "number": number, "name": name}

    def _end_ring(self, port: str) -> None:
        self.ringing.pop(port, None)
        engine = self.engine
        if port not in engine.calls.by_port and not engine.is_free(port):  # still our test ring (or answered)
            engine.release(port, Cause.NORMAL_CLEARING)

    def tone(self, req: dict) -> dict:
        port = self._port(req)
        seconds, tone = req["seconds"], req["tone"]
        spec = CHINA[ToneName(tone)] if tone is not None else ToneSpec((req["freq"],), req["level_dbm0"])
        engine = self.engine
        call = engine.calls.by_port.get(port)
        if call is not None and call.answer is not None and not req["force"]:
            raise ApiError(ErrorCode.BAD_ARGUMENT, f"port {port} is in an answered call (force to play anyway)")
        media = engine.media
        if media is None:
            raise ApiError(ErrorCode.INTERNAL, "the board is not open")
        ch = engine.ports[port].port.channel
        before = media.tones.get(ch)
        if port in self.tones:  # a test tone is already on: replace it, keep what was there before it
            timer, _, before = self.tones.pop(port)
            timer.cancel()
        gen = ToneGenerator(spec)
        media.tones[ch] = gen
        timer = engine.timers.call_at(engine.now() + seconds, lambda: self._end_tone(port, ch))
        self.tones[port] = (timer, gen, before)
        return {"port": port, "seconds": seconds, "freqs": list(spec.freqs), "level_dbm0": spec.level_dbm0}

    def _end_tone(self, port: str, ch: int) -> None:
        _, gen, before = self.tones.pop(port)
        media = self.engine.media
        if media is not None and media.tones.get(ch) is gen:  # nothing else took the channel meanwhile
            if before is None:
                media.tones.pop(ch, None)
            else:
                media.tones[ch] = before


def register(api: ApiServer, service: DiagnosticsHost) -> Diagnostics:
    """Register ``diag.ring``, ``diag.tone`` and ``diag.watch`` (supervisor+; ring and tone audited)."""
    diag = Diagnostics(service)
    api.op("diag.ring", diag.ring, roles=SUPERVISOR, audit=True, args=RING_ARGS)
    api.op("diag.tone", diag.tone, roles=SUPERVISOR, audit=True, args=TONE_ARGS)
    api.op("diag.watch", diag.watch, roles=SUPERVISOR)
    return diag
