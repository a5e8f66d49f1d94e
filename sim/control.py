"""A small synchronous client for the simulator's control socket (tests, the demo, a shell).

``SimControl(path).call(op, **args)`` sends ``{"id": n, "op": op, **args}`` (msgpack) and returns
the reply's fields (without ``id``/``ok``); a reply with ``ok: false`` raises ``SimControlError``.
The convenience methods return plain values (bytes of A-law audio, ints, lists).
"""

from __future__ import annotations

import itertools
import socket
from typing import Any

import msgpack


class SimControlError(RuntimeError):
    """The simulator refused a request; the message is its error text."""


class SimControl:
    def __init__(self, path: str, timeout: float = 10.0) -> None:
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=64 << 20)
        self._ids = itertools.count(1)

    def _connect(self) -> socket.socket:
        if self._sock is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(self.timeout)
            s.connect(self.path)
            self._sock = s
            self._unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=64 << 20)
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> SimControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, req: dict) -> dict:
        """Send one raw request map and return the raw reply map."""
        sock = self._connect()
        try:
            sock.sendall(msgpack.packb(req, use_bin_type=True))
            while True:
                for reply in self._unpacker:
                    if isinstance(reply, dict) and (reply.get("id") == req.get("id") or reply.get("id") is None):
                        return reply
                data = sock.recv(1 << 20)
                if not data:
                    raise ConnectionError("the simulator closed the control socket")
                self._unpacker.feed(data)
        except (OSError, ConnectionError):
            self.close()
            raise

    def call(self, op: str, **args: Any) -> dict:
        rid = next(self._ids)
        reply = self.request({"id": rid, "op": op, **args})
        if not reply.get("ok"):
            raise SimControlError(f"{op}: {reply.get('error')}")
        return {k: v for k, v in reply.items() if k not in ("id", "ok")}

    # ---- convenience ----------------------------------------------------------------------------------

    def tick(self) -> int:
        return self.call("tick")["tick"]

    def status(self) -> dict:
        return self.call("status")

    def echo_set(self, port: str, **settings: float) -> dict:
        """Set the hybrid of ``port`` (``erl_db`` 0 = no echo, ``delay_ms``, ``dispersion_ms``)."""
        return self.call("echo.set", port=port, **settings)

    def co_call(self, line: str, number: str | None, name: str | None = None, callerid: str | None = None) -> dict:
        return self.call("co.call", line=line, number=number, name=name, callerid=callerid)

    def co_hangup(self, line: str) -> None:
        self.call("co.hangup", line=line)

    def co_send_tone(self, line: str, freq: float, level: float = -10.0, ms: int | None = None) -> None:
        self.call("co.send_tone", line=line, freq=freq, level=level, ms=ms)

    def co_send_wav(self, line: str, path: str, loop: bool = False) -> None:
        self.call("co.send_wav", line=line, path=path, loop=loop)

    def co_dial(self, line: str, digits: str) -> None:
        self.call("co.dial", line=line, digits=digits)

    def co_silence(self, line: str) -> None:
        self.call("co.silence", line=line)

    def co_heard(self, line: str, since: int | None = None, until: int | None = None) -> bytes:
        return self.call("co.heard", line=line, since=since, until=until)["audio"]

    def co_digits(self, line: str) -> str:
        return self.call("co.digits", line=line)["digits"]

    def co_state(self, line: str | None = None) -> dict:
        return self.call("co.state", line=line)

    def co_scenario(self, number: str, action: str = "answer", **kw: Any) -> dict:
        return self.call("co.scenario", number=number, action=action, **kw)

    def phone_off_hook(self, phone: str) -> None:
        self.call("phone.off_hook", phone=phone)

    def phone_on_hook(self, phone: str) -> None:
        self.call("phone.on_hook", phone=phone)

    def phone_flash(self, phone: str, ms: int = 300) -> None:
        self.call("phone.flash", phone=phone, ms=ms)

    def phone_dial(self, phone: str, digits: str) -> None:
        self.call("phone.dial", phone=phone, digits=digits)

    def phone_send_tone(self, phone: str, freq: float, level: float = -10.0, ms: int | None = None) -> None:
        self.call("phone.send_tone", phone=phone, freq=freq, level=level, ms=ms)

    def phone_send_wav(self, phone: str, path: str, loop: bool = False) -> None:
        self.call("phone.send_wav", phone=phone, path=path, loop=loop)

    def phone_silence(self, phone: str) -> None:
        self.call("phone.silence", phone=phone)

    def phone_heard(self, phone: str, since: int | None = None, until: int | None = None) -> bytes:
        return self.call("phone.heard", phone=phone, since=since, until=until)["audio"]

    def phone_state(self, phone: str) -> dict:
        return self.call("phone.state", phone=phone)

    def e1_set_cas(self, span: int, ts: int, bits: int) -> None:
        self.call("e1.set_cas", span=span, ts=ts, bits=bits)

    def e1_get_cas(self, span: int, ts: int) -> int:
        return self.call("e1.get_cas", span=span, ts=ts)["bits"]

    def e1_send_hdlc(self, span: int, data: bytes, bad_fcs: bool = False) -> bool:
        return self.call("e1.send_hdlc", span=span, data=data, bad_fcs=bad_fcs)["delivered"]

    def e1_received_hdlc(self, span: int, clear: bool = False) -> list[bytes]:
        return self.call("e1.received_hdlc", span=span, clear=clear)["frames"]

    def e1_alarm(self, span: int, alarm: str, on: bool = True) -> None:
        self.call("e1.alarm", span=span, alarm=alarm, on=on)

    def inject_garbage(self, n: int = 1000) -> int:
        return self.call("link.inject_garbage", n=n)["written"]

    def traffic_start(self, **settings: Any) -> dict:
        return self.call("traffic.start", **settings)

    def traffic_stop(self) -> dict:
        return self.call("traffic.stop")

    def traffic_stats(self) -> dict:
        return self.call("traffic.stats")
