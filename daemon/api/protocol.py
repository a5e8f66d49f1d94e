"""The API's wire format: length-prefixed msgpack maps over a Unix stream socket.

Each message is a 4-byte big-endian length followed by that many bytes of msgpack encoding one map.
The server speaks first with ``{"type": "hello", "protocol": PROTOCOL_VERSION, "server": ...}``.
Requests are ``{"id": int, "op": str, ...args}``; replies ``{"id": same, "ok": true, "result": ...}``
or ``{"id": same, "ok": false, "error": {"code": str, "message": str}}``; events (for subscribers)
``{"type": "event", "kind": str, ...}``. A message longer than ``MAX_MESSAGE`` closes the connection
after an error reply; so does anything that cannot be framed.
"""

from __future__ import annotations

import struct

import msgpack

PROTOCOL_VERSION = 1
MAX_MESSAGE = 1 << 20
LENGTH = struct.Struct(">I")


class ErrorCode:
    BAD_MESSAGE = "bad_message"  # not a msgpack map, or not decodable
    TOO_LARGE = "too_large"
    UNKNOWN_OP = "unknown_op"
    BAD_ARGUMENT = "bad_argument"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"  # the connection's role may not call this op
    REFUSED = "refused"  # valid, but cannot be done now (wrong PIN, agent on a call, record exists)
    INTERNAL = "internal"


class ApiError(Exception):
    """An error reply: ``code`` (an ``ErrorCode``), ``message``, and for ``bad_argument`` the
    ``argument`` it names (its path, like ``changes[0].key``), sent as the error's ``argument``."""

    def __init__(self, code: str, message: str, argument: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.argument = code, message, argument

    def reply(self) -> dict:
        """The reply's ``error`` map."""
        error = {"code": self.code, "message": self.message}
        if self.argument is not None:
            error["argument"] = self.argument
        return error


def pack(message: dict) -> bytes:
    body = msgpack.packb(message, use_bin_type=True)
    return LENGTH.pack(len(body)) + body


def unpack(body: bytes) -> dict:
    try:
        msg = msgpack.unpackb(body, raw=False, strict_map_key=False)
    except Exception as exc:  # msgpack raises several exception types on bad input
        raise ApiError(ErrorCode.BAD_MESSAGE, f"not valid msgpack: {exc}") from exc
    if not isinstance(msg, dict):
        raise ApiError(ErrorCode.BAD_MESSAGE, "a message must be a map")
    return msg
