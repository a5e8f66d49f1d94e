"""API socket: hello, ops, error replies for bad input, oversized messages, other clients unaffected."""

from __future__ import annotations

import socket
import struct

import msgpack
import pytest

from daemon.api.client import ApiClient
from daemon.api.protocol import MAX_MESSAGE, PROTOCOL_VERSION, ApiError, ErrorCode


def test_hello_and_ops(server) -> None:
    _, path, _ = server
    with ApiClient(path) as c:
        assert c.hello["type"] == "hello" and c.hello["protocol"] == PROTOCOL_VERSION
        assert c.call("echo", value=[1, "二"]) == [1, "二"]
        assert c.call("hello")["server"] == "test"
        with pytest.raises(ApiError) as err:
            c.call("nope")
        assert err.value.code == ErrorCode.UNKNOWN_OP


def _raw(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    return s


def _read(s: socket.socket) -> dict:
    (n,) = struct.unpack(">I", s.recv(4, socket.MSG_WAITALL))
    return msgpack.unpackb(s.recv(n, socket.MSG_WAITALL))


def test_malformed_messages_get_error_replies(server) -> None:
    _, path, _ = server
    s = _raw(path)
    _read(s)  # hello
    for body in (b"\xc1\xc1\xc1", msgpack.packb([1, 2]), msgpack.packb({"id": 3}), msgpack.packb({"id": 4, "op": 7})):
        s.sendall(struct.pack(">I", len(body)) + body)
        reply = _read(s)
        assert reply["ok"] is False and reply["error"]["code"] == ErrorCode.BAD_MESSAGE
    with ApiClient(path) as c:  # the server is still serving everyone
        assert c.call("echo", value=5) == 5
    s.close()


def test_oversized_message_closes_only_that_client(server) -> None:
    _, path, _ = server
    other = ApiClient(path)
    s = _raw(path)
    _read(s)
    s.sendall(struct.pack(">I", MAX_MESSAGE + 1))
    reply = _read(s)
    assert reply["error"]["code"] == ErrorCode.TOO_LARGE
    assert s.recv(10) == b""  # closed
    assert other.call("echo", value="still here") == "still here"
    other.close()


def test_events_reach_subscribers_with_filter(server) -> None:
    srv, path, loop = server
    with ApiClient(path) as a, ApiClient(path) as b:
        a.call("subscribe", kinds=["call."])
        b.call("subscribe", kinds=["alarm."])
        loop.call_soon_threadsafe(lambda: srv.publish("call.ended", call="x"))
        loop.call_soon_threadsafe(lambda: srv.publish("alarm.raised", span=3))
        assert a.call("echo", value=1) == 1 and b.call("echo", value=1) == 1
        assert [e["kind"] for e in a.events] == ["call.ended"]
        assert [e["kind"] for e in b.events] == ["alarm.raised"]
