"""A small synchronous API client, for the CLI, the TUI and tests.

A daemon that refuses the connection (too many open) says why instead of its hello: the constructor
raises ``ApiError`` with that reason. List ops reply a page at a time; ``pages`` follows the cursors.
"""

from __future__ import annotations

import itertools
import select
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

from daemon.api.protocol import LENGTH, MAX_MESSAGE, ApiError, pack, unpack


class ApiClient:
    def __init__(self, path: str, timeout: float = 5.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self._ids = itertools.count(1)
        self.events: list[dict] = []
        try:
            self.hello = self._read()
        except BaseException:
            self.sock.close()
            raise
        if self.hello.get("ok") is False:  # refused: the reason instead of the hello, then closed
            self.sock.close()
            err = self.hello.get("error") or {}
            raise ApiError(err.get("code", "?"), err.get("message", ""))

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("API connection closed")
            buf += chunk
        return bytes(buf)

    def _read(self) -> dict:
        (length,) = LENGTH.unpack(self._read_exact(LENGTH.size))
        if length > MAX_MESSAGE:
            raise ConnectionError(f"message of {length} bytes from server")
        return unpack(self._read_exact(length))

    def call(self, op: str, **args: Any) -> Any:
        """Send a request and return its result; raise ApiError for an error reply."""
        return self.call_page(op, **args)[0]

    def pages(self, op: str, **args: Any) -> Iterator[list]:
        """Each page of a list op (``daemon.api.paging``), from the first to the last, following the
        replies' ``next`` cursors."""
        cursor = args.pop("cursor", None)
        while True:
            rows, cursor = self.call_page(op, cursor=cursor, **args)
            yield rows
            if cursor is None:
                return

    def call_page(self, op: str, **args: Any) -> tuple[Any, Any]:
        """Send a request; return its result and the reply's ``next`` (a list op's cursor of the
        following page, None on the last page and for other ops)."""
        rid = next(self._ids)
        self.sock.sendall(pack({"id": rid, "op": op, **args}))
        while True:
            msg = self._read()
            if msg.get("type") == "event":
                self.events.append(msg)
                continue
            if msg.get("id") != rid:
                continue
            if msg.get("ok"):
                return msg.get("result"), msg.get("next")
            err = msg.get("error") or {}
            raise ApiError(err.get("code", "?"), err.get("message", ""), err.get("argument"))

    def wait_events(self, timeout: float) -> list[dict]:
        """The events received so far and, if there were none, those that come within ``timeout`` seconds
        (it returns as soon as one has come, with every other already waiting); taken out of ``events``."""
        end = time.monotonic() + timeout
        while not self.events and (left := end - time.monotonic()) > 0:
            if select.select([self.sock], [], [], left)[0]:
                self._take_event()
        for _ in range(1000):  # whatever else has arrived, without waiting (bounded: a busy box never stops)
            if not select.select([self.sock], [], [], 0)[0]:
                break
            self._take_event()
        out, self.events = self.events, []
        return out

    def _take_event(self) -> None:
        msg = self._read()
        if msg.get("type") == "event":
            self.events.append(msg)

    def next_event(self, kind: str, timeout: float = 10.0,
                   where: Callable[[dict], bool] | None = None) -> dict:
        """The first event of ``kind`` (matching ``where``) received, waiting up to ``timeout`` seconds;
        it is taken out of ``events``, the others stay. ``TimeoutError`` if none comes."""
        end = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev.get("kind") == kind and (where is None or where(ev)):
                    return self.events.pop(i)
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {kind} event within {timeout}s")
            # wait for a message to start, then read it whole (a timeout inside one would lose the framing)
            if select.select([self.sock], [], [], left)[0]:
                self._take_event()
