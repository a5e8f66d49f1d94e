"""The control socket's operations: script the simulated world and read results back.

Each op takes a request map (``{"id": n, "op": "...", ...args}``) and returns the reply's fields;
problems raise ``OpError`` and become ``{"ok": false, "error": "..."}``. Every op is listed in
docs/sim.md. Ops run on the simulator's event loop between ticks (WAV files are converted off it).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

from hal.ports import Alarm
from sim.audio import SamplesSource, load_wav
from sim.central_office import SCENARIO_KEYS, Scenario
from sim.hybrid import HybridSettings
from sim.traffic import TrafficGenerator, TrafficSettings
from sim.world import SimWorld

MAX_GARBAGE = 1 << 20


class OpError(ValueError):
    """A request the simulator cannot carry out (bad argument, wrong state)."""


_MISSING = object()


def _arg(req: dict, name: str, typ: type | tuple, default: Any = _MISSING) -> Any:
    if name not in req or req[name] is None:
        if default is _MISSING:
            raise OpError(f"missing argument {name!r}")
        return default
    v = req[name]
    types = typ if isinstance(typ, tuple) else (typ,)
    if float in types and isinstance(v, int) and not isinstance(v, bool):
        v = float(v)
    if not isinstance(v, types) or (isinstance(v, bool) and bool not in types):
        names = "/".join(t.__name__ for t in types)
        raise OpError(f"argument {name!r} must be {names}, not {type(v).__name__}")
    return v


class Ops:
    def __init__(self, world: SimWorld, server: Any = None) -> None:
        self.world = world
        self.server = server
        self.traffic = TrafficGenerator(world)
        self._wav_cache: dict[str, Any] = {}
        self.table: dict[str, Callable[[dict], Any]] = {}
        for name in dir(self):
            if name.startswith("op_"):
                self.table[name[3:].replace("__", ".")] = getattr(self, name)

    async def handle(self, req: Any) -> dict:
        """One request -> one reply map (never raises)."""
        if not isinstance(req, dict):
            return {"id": None, "ok": False, "error": "a request must be a map {id, op, ...}"}
        rid = req.get("id")
        op = req.get("op")
        if not isinstance(op, str):
            return {"id": rid, "ok": False, "error": "missing or non-string 'op'"}
        fn = self.table.get(op)
        if fn is None:
            return {"id": rid, "ok": False, "error": f"unknown op {op!r}"}
        try:
            out = fn(req)
            if isinstance(out, Awaitable):
                out = await out
        except (OpError, ValueError, TypeError, KeyError) as exc:
            return {"id": rid, "ok": False, "error": str(exc) or type(exc).__name__}
        reply = {"id": rid, "ok": True}
        if out:
            reply.update(out)
        return reply

    # ---- helpers ------------------------------------------------------------------------------------

    def _line(self, req: dict):  # noqa: ANN202
        return self.world.co.line(_arg(req, "line", str))

    def _phone(self, req: dict):  # noqa: ANN202
        return self.world.phone(_arg(req, "phone", str))

    def _e1(self, req: dict):  # noqa: ANN202
        fe = self.world.span(_arg(req, "span", int))
        return fe

    def _not_peer(self, fe) -> None:  # noqa: ANN001
        if fe.peer_attached:
            raise OpError(f"span {fe.id} is attached to a peer; the built-in far end is off")

    async def _wav(self, req: dict) -> SamplesSource:
        path = _arg(req, "path", str)
        samples = self._wav_cache.get(path)
        if samples is None:
            samples = await asyncio.to_thread(load_wav, path)
            if len(self._wav_cache) > 32:
                self._wav_cache.clear()
            self._wav_cache[path] = samples
        return SamplesSource(samples, loop=_arg(req, "loop", bool, False), name=os.path.basename(path))

    def _heard(self, rec, req: dict) -> dict:  # noqa: ANN001
        audio, first = rec.heard(_arg(req, "since", int, None), _arg(req, "until", int, None))
        return {"audio": audio, "first_tick": first, "tick": self.world.tick}

    def _tone(self, mouth, req: dict) -> dict:  # noqa: ANN001
        freq = _arg(req, "freq", float)
        if not 0 < freq < 4000:
            raise OpError("freq must be between 0 and 4000 Hz")
        ms = _arg(req, "ms", int, None)
        mouth.tone(freq, _arg(req, "level", float, -10.0), ms)
        return {}

    # ---- board ------------------------------------------------------------------------------------------

    def op_status(self, req: dict) -> dict:
        st = self.world.status()
        if self.server is not None:
            st.update(self.server.status())
        st["traffic"] = self.traffic.running
        return st

    def op_tick(self, req: dict) -> dict:
        return {"tick": self.world.tick}

    def op_link__inject_garbage(self, req: dict) -> dict:
        n = _arg(req, "bytes", int, None)
        n = _arg(req, "n", int, 1000) if n is None else n
        if not 0 < n <= MAX_GARBAGE:
            raise OpError(f"n must be 1..{MAX_GARBAGE}")
        if self.server is None:
            raise OpError("no board link in-process")
        written = self.server.inject_garbage(n, avoid_magic=_arg(req, "avoid_magic", bool, True))
        return {"written": written}

    # ---- line echo ------------------------------------------------------------------------------------

    def op_echo__set(self, req: dict) -> dict:
        """The hybrid of one port: ``erl_db`` (0: no echo), ``delay_ms``, ``dispersion_ms``; keys left out
        keep the port's current values."""
        port = _arg(req, "port", str)
        cur = self.world.hybrid_settings.get(port)
        if cur is None:
            raise OpError(f"no port {port!r} on this board")
        table = {k: req[k] for k in ("erl_db", "delay_ms", "dispersion_ms") if req.get(k) is not None}
        settings = HybridSettings.from_dict(table, "echo", cur)
        self.world.set_echo(port, settings)
        return self.op_echo__state(req)

    def op_echo__state(self, req: dict) -> dict:
        port = _arg(req, "port", str)
        s = self.world.hybrid_settings.get(port)
        if s is None:
            raise OpError(f"no port {port!r} on this board")
        return {"port": port, "erl_db": s.erl_db, "delay_ms": s.delay_ms, "dispersion_ms": s.dispersion_ms}

    # ---- central office -----------------------------------------------------------------------------

    def op_co__call(self, req: dict) -> dict:
        line = self._line(req)
        cid = req.get("caller_id")
        number, name = _arg(req, "number", str, None), _arg(req, "name", str, None)
        if isinstance(cid, dict):
            number = cid.get("number", number)
            name = cid.get("name", name)
        elif isinstance(cid, str):
            number = cid
        elif cid is not None:
            raise OpError("caller_id must be a string or a map {number, name}")
        method = _arg(req, "callerid", str, None) or _arg(req, "method", str, None)
        self.world.co.call(line.id, number, name, method, _arg(req, "absent_reason", str, None))
        return {"line": line.id, "state": line.state}

    def op_co__hangup(self, req: dict) -> dict:
        line = self._line(req)
        line.hangup()
        return {"line": line.id, "state": line.state}

    def op_co__send_tone(self, req: dict) -> dict:
        return self._tone(self._line(req).party, req)

    async def op_co__send_wav(self, req: dict) -> dict:
        line = self._line(req)
        line.party.say(await self._wav(req))
        return {}

    def op_co__dial(self, req: dict) -> dict:
        line = self._line(req)
        line.party.dial(_arg(req, "digits", str))
        return {}

    def op_co__silence(self, req: dict) -> dict:
        self._line(req).party.silence()
        return {}

    def op_co__heard(self, req: dict) -> dict:
        return self._heard(self._line(req).recorder, req)

    def op_co__digits(self, req: dict) -> dict:
        return self._line(req).digits()

    def op_co__state(self, req: dict) -> dict:
        if req.get("line") is None:
            return {"lines": {lid: ln.state_dict() for lid, ln in self.world.co.lines.items()}}
        return self._line(req).state_dict()

    def op_co__scenario(self, req: dict) -> dict:
        number = _arg(req, "number", str)
        if _arg(req, "clear", bool, False):
            self.world.co.scenarios.pop(number, None)
            return {}
        sc = Scenario.from_dict({k: req[k] for k in SCENARIO_KEYS if k in req})
        if number == "*":
            self.world.co.default_scenario = sc
        else:
            self.world.co.scenarios[number] = sc
        return {"number": number, "action": sc.action, "after_s": sc.after_s}

    def op_co__flashes(self, req: dict) -> dict:
        return {"flashes": list(self.world.co.flashes)}

    # ---- phones ---------------------------------------------------------------------------------------

    def op_phone__off_hook(self, req: dict) -> dict:
        ph = self._phone(req)
        ph.off_hook()
        return {"phone": ph.extension, "hook": "off"}

    def op_phone__on_hook(self, req: dict) -> dict:
        ph = self._phone(req)
        ph.on_hook()
        return {"phone": ph.extension, "hook": "on"}

    def op_phone__flash(self, req: dict) -> dict:
        ph = self._phone(req)
        ms = _arg(req, "ms", int, 300)
        if not 10 <= ms <= 5000:
            raise OpError("ms must be 10..5000")
        ph.flash(ms)
        return {}

    def op_phone__dial(self, req: dict) -> dict:
        ph = self._phone(req)
        digits = _arg(req, "digits", str)
        if not digits or any(d not in "0123456789*#ABCD" for d in digits.upper()):
            raise OpError("digits must be 0-9, *, #, A-D")
        kw = {}
        for k in ("level", "on_ms", "off_ms"):
            v = _arg(req, k, float, None)
            if v is not None:
                kw["level_dbm0" if k == "level" else k] = v if k == "level" else int(v)
        ph.dial(digits.upper(), **kw)
        return {}

    def op_phone__send_tone(self, req: dict) -> dict:
        return self._tone(self._phone(req).mouth, req)

    async def op_phone__send_wav(self, req: dict) -> dict:
        ph = self._phone(req)
        ph.mouth.say(await self._wav(req))
        return {}

    def op_phone__silence(self, req: dict) -> dict:
        self._phone(req).mouth.silence()
        return {}

    def op_phone__heard(self, req: dict) -> dict:
        return self._heard(self._phone(req).recorder, req)

    def op_phone__state(self, req: dict) -> dict:
        if req.get("phone") is None:
            return {"phones": {ph.extension: ph.state() for ph in self.world.phones.values()}}
        return self._phone(req).state()

    def op_phone__auto(self, req: dict) -> dict:
        ph = self._phone(req)
        ph.auto_answer_rings = _arg(req, "answer_rings", int, 0)
        ph.auto_hangup_s = _arg(req, "hangup_s", float, None)
        return {}

    # ---- E1 --------------------------------------------------------------------------------------------

    def op_e1__set_cas(self, req: dict) -> dict:
        fe = self._e1(req)
        self._not_peer(fe)
        bits = _arg(req, "bits", int)
        if not 0 <= bits <= 15:
            raise OpError("bits must be 0..15 (A=8 B=4 C=2 D=1)")
        fe.set_cas(_arg(req, "ts", int), bits)
        return {}

    def op_e1__get_cas(self, req: dict) -> dict:
        fe = self._e1(req)
        ts = fe.check_ts(_arg(req, "ts", int))
        return {"bits": fe.host_bits[ts], "far_bits": fe.far_bits[ts]}

    def op_e1__send_hdlc(self, req: dict) -> dict:
        fe = self._e1(req)
        self._not_peer(fe)
        data = _arg(req, "data", bytes)
        if not data or len(data) > 4096:
            raise OpError("data must be 1..4096 bytes")
        return {"delivered": fe.send_hdlc(data, _arg(req, "bad_fcs", bool, False))}

    def op_e1__received_hdlc(self, req: dict) -> dict:
        fe = self._e1(req)
        frames = list(fe.hdlc_received)
        if _arg(req, "clear", bool, False):
            fe.hdlc_received.clear()
        return {"frames": frames}

    def op_e1__alarm(self, req: dict) -> dict:
        fe = self._e1(req)
        alarm = _arg(req, "alarm", str).upper()
        if alarm not in Alarm.__members__:
            raise OpError("alarm must be LOS, AIS or RAI")
        fe.set_alarm(alarm, _arg(req, "on", bool, True))
        return {"alarms": sorted(fe.alarms)}

    def op_e1__send_tone(self, req: dict) -> dict:
        fe = self._e1(req)
        self._not_peer(fe)
        return self._tone(fe.mouth(_arg(req, "ts", int)), req)

    def op_e1__silence(self, req: dict) -> dict:
        fe = self._e1(req)
        fe.mouth(_arg(req, "ts", int)).silence()
        return {}

    def op_e1__heard(self, req: dict) -> dict:
        fe = self._e1(req)
        return self._heard(fe.recorder(_arg(req, "ts", int)), req)

    def op_e1__state(self, req: dict) -> dict:
        return self._e1(req).state()

    # ---- traffic --------------------------------------------------------------------------------------

    async def op_traffic__start(self, req: dict) -> dict:
        args = {k: v for k, v in req.items() if k not in ("id", "op", "wav")}
        settings = TrafficSettings.from_dict(args)
        wav = req.get("wav")
        self.traffic.wav = (await asyncio.to_thread(load_wav, wav)) if isinstance(wav, str) else None
        self.traffic.start(settings)
        return self.traffic.stats()

    def op_traffic__stop(self, req: dict) -> dict:
        self.traffic.stop()
        return self.traffic.stats()

    def op_traffic__stats(self, req: dict) -> dict:
        return self.traffic.stats()
