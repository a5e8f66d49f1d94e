"""API socket: hello, ops, error replies for bad input, oversized messages, other clients unaffected."""

from __future__ import annotations

import socket
import struct

import msgpack
import pytest

from daemon.api.client import ApiClient
from daemon.api.paging import Page, take_page
from daemon.api.protocol import MAX_MESSAGE, PROTOCOL_VERSION, ApiError, ErrorCode
from daemon.api.schema import Int, Opt, Str


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


def test_a_reply_over_the_frame_limit_is_refused_as_too_large_and_the_connection_goes_on(server) -> None:
    srv, path, _ = server
    srv.op("big", lambda req: ["x" * 1000] * req["n"], args={"n": Int(0, 2000)})
    with ApiClient(path) as c:
        assert len(c.call("big", n=900)) == 900  # 0.9 MB: sent
        with pytest.raises(ApiError) as err:
            c.call("big", n=1100)  # 1.1 MB: never sent (the client would drop the frame)
        assert err.value.code == ErrorCode.TOO_LARGE and "page" in err.value.message
        assert c.call("echo", value="still here") == "still here"


def test_a_list_op_pages_with_next_beside_the_result(server) -> None:
    srv, path, _ = server
    rows = [{"n": i, "pad": "y" * 3000} for i in range(1000)]  # 3 MB in all

    def listing(req: dict) -> Page:
        start = req["cursor"] or 0
        return take_page(((r["n"] + 1, r) for r in rows[start:]), req["limit"])

    srv.op("rows", listing, args={"limit": Opt(Int(1, 1000), 100), "cursor": Opt(Int(0, 1000))})
    with ApiClient(path) as c:
        first, nxt = c.call_page("rows", limit=1000)
        assert 0 < len(first) < 1000 and nxt == len(first)  # cut by bytes, under the frame limit
        pages = list(c.pages("rows", limit=1000))
        assert [r["n"] for p in pages for r in p] == list(range(1000)) and len(pages) == 4
        assert c.call_page("echo", value=1) == (1, None)


def test_a_request_the_line_s_state_does_not_allow_is_refused_naming_it(server, box) -> None:
    """An op whose request reaches a line in a state that does not allow it (the call moved on meanwhile)
    is ``refused`` with the line's words, not ``internal``; the connection goes on."""
    srv, path, _ = server
    srv.op("line.answer", lambda req: box.engine.answer(req["port"]), args={"port": Str()})
    with ApiClient(path) as c:
        with pytest.raises(ApiError) as err:
            c.call("line.answer", port="2/1")
        assert err.value.code == ErrorCode.REFUSED
        assert err.value.message == ("the line cannot do that now: FxsLine on port 2/1: answer() is not allowed "
                                     "in state idle")
        assert c.call("echo", value=1) == 1
