"""The API under abuse, against a running daemon and simulator: malformed and oversized input
(hypothesis), 100 clients at once, and a subscriber that never reads — none of it may stop the
daemon serving others, carrying calls, or keeping its 20 ms tick."""

from __future__ import annotations

import socket
import struct
import time

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.api.client import ApiClient
from daemon.api.protocol import MAX_MESSAGE
from tests.support.audio import tone_frequency
from tests.support.processes import DaemonProcess
from tests.support.world import World

pytestmark = [pytest.mark.e2e, pytest.mark.serial]

OPS = ["status", "ports", "calls", "cdr.list", "cdr.page", "cdr.export_csv", "spans", "e1.set_cas",
       "e1.send_hdlc", "e1.hdlc_received", "subscribe", "auth", "whoami", "audit.list", "hello"]
values = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.floats() | st.text(max_size=20)
                      | st.binary(max_size=40), lambda kids: st.lists(kids, max_size=4)
                      | st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=12)
requests = st.fixed_dictionaries({"op": st.sampled_from(OPS) | st.text(max_size=12)},
                                 optional={"id": values, "port": values, "bits": values, "span": values,
                                           "data": values, "limit": values, "since": values, "cursor": values,
                                           "kinds": values, "filters": values, "token": values})
framed = st.one_of(requests.map(lambda r: msgpack.packb(r, use_bin_type=True)),
                   values.map(lambda v: msgpack.packb(v, use_bin_type=True)), st.binary(max_size=200))


def _raw(d: DaemonProcess) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(str(d.api_socket))
    return s


def _read_msg(s: socket.socket) -> dict | None:
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            return None
        head += chunk
    (n,) = struct.unpack(">I", head)
    body = b""
    while len(body) < n:
        chunk = s.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return msgpack.unpackb(body, raw=False, strict_map_key=False)


def _read_msg_or_none(s: socket.socket) -> dict | None:
    try:
        return _read_msg(s)
    except TimeoutError:
        return None


def _call_in_progress(w: World, d: DaemonProcess):
    a, b = w.internal_call("8001", "8002", d.api)
    a.send_tone(900.0)
    return a, b


def test_fuzzed_input_gets_error_replies_and_disturbs_nothing(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    a, b = _call_in_progress(w, daemon)
    connections: list[list[bytes]] = []

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.lists(framed, min_size=1, max_size=5))
    def generate(messages: list[bytes]) -> None:
        connections.append(messages)

    generate()  # first: generating them must not take the CPU from the daemon while it serves them
    underruns = w.status()["underruns"]
    for messages in connections:
        s = _raw(daemon)
        try:
            assert _read_msg(s)["type"] == "hello"
            for body in messages:
                s.sendall(struct.pack(">I", len(body)) + body)
                reply = _read_msg(s)
                assert reply is not None and isinstance(reply.get("ok"), bool), body
                if not reply["ok"]:
                    assert isinstance(reply["error"]["code"], str) and reply["error"]["message"]
        finally:
            s.close()
    s = _raw(daemon)  # an oversized message: an error reply, then that connection (only) is closed
    _read_msg(s)
    s.sendall(struct.pack(">I", MAX_MESSAGE + 1) + b"\0" * 64)
    assert _read_msg(s)["error"]["code"] == "too_large"
    assert _read_msg(s) is None
    s.close()
    s = _raw(daemon)  # unframeable garbage: closed at most, never a crash
    s.sendall(b"\xff" * 3)
    s.close()

    assert daemon.api.call("status")["board"] and len(daemon.api.call("calls")) == 1
    mark = w.tick()
    time.sleep(0.8)
    assert tone_frequency(b.heard(since=mark)) == pytest.approx(900.0, rel=0.02)  # the call never noticed
    assert w.status()["underruns"] - underruns == 0
    a.on_hook()
    b.on_hook()


def test_100_clients_and_a_subscriber_that_never_reads(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    clients = [ApiClient(str(daemon.api_socket)) for _ in range(100)]
    try:
        for c in clients:
            c.call("subscribe", kinds=["e1.cas"])  # subscribed, but not to the flood below
        assert all(c.call("status")["board"] for c in clients)
        slow = _raw(daemon)  # subscribes to everything, then reads nothing
        assert _read_msg(slow)["type"] == "hello"
        body = msgpack.packb({"id": 1, "op": "subscribe", "kinds": []})
        slow.sendall(struct.pack(">I", len(body)) + body)
        before = w.status()
        for i in range(2000):  # 2 kB HDLC frames: 4 MB of events to every subscriber, more than it can hold
            w.e1_send_hdlc(4, bytes([i % 256]) * 2000)
        st_after = w.status()
        status = daemon.api.call("status")
        ticks = st_after["tick"] - before["tick"]
        missed = st_after["underruns"] - before["underruns"] + st_after["late_tx"] - before["late_tx"]
        assert missed == 0, (missed, ticks)  # the board got every frame
        print(f"100 clients + a stalled subscriber: worst tick {status['tick_cost_max_ms']} ms")
        got = []
        slow.settimeout(10)
        while (m := _read_msg_or_none(slow)) is not None:
            got.append(m)
            if m.get("kind") == "events.dropped":
                break
        assert any(m.get("kind") == "events.dropped" and m["count"] > 0 for m in got)
        slow.close()
        assert clients[42].call("status")["board"]
    finally:
        for c in clients:
            c.close()
