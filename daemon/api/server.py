"""The daemon's side of the API socket: accepts clients, dispatches ops, pushes events.

Ops are registered by name (``ApiServer.op``) with a handler taking the request map and returning
a msgpack-able result (or raising ``ApiError``). A bad message gets an error reply and a log line;
a message that cannot be framed (oversized) closes that client; nothing reaches the daemon's other
work. Each client's outgoing queue is bounded: a slow subscriber loses events (and is told how
many) instead of holding up the daemon.

Every op names the roles that may call it (``daemon.api.roles``); a connection's role comes from its
peer credentials or an ``auth`` token. Ops registered with ``audit=True`` (the ones that change
something) are reported to the ``audit`` callback with who called them, once they have succeeded.
A connection of the ``agent`` role acts only for its own agent: ops registered with ``own_agent``
(the argument naming the agent) are ``forbidden`` for any other agent; the connection is bound to an
agent by a successful op registered with ``binds_agent`` (``agent.login`` with the agent's PIN) or
by an agent token (``agent:ID``).
Subscriptions take kind prefixes and optional field filters (``extension``, ``agent``, ``queue``,
``port``, ...): with filters, an event is delivered only if it carries one of the filtered fields
and every filtered field it carries matches. Events of the daemon's start-up (``publish_startup``:
recordings a crash left, repaired) happen before any client can connect; they are kept and sent to
each client when it subscribes to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import inspect
import logging
import os
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from daemon.api.protocol import LENGTH, MAX_MESSAGE, PROTOCOL_VERSION, ApiError, ErrorCode, pack, unpack
from daemon.api.roles import ALL, CURRENT_ROLE, ROLES, Peer, peer_of
from daemon.api.schema import Arg, Args, Int, List, Opt, Str, args_of

log = logging.getLogger(__name__)

Handler = Callable[[dict], Any]
CLIENT_QUEUE = 1000
PENDING_MAX = 20000  # events waiting for fan-out; beyond this they are counted and dropped
FANOUT_BUDGET = 1000  # client deliveries per loop callback (~1 ms), so fan-out never holds up a tick
FILTER_FIELDS = ("extension", "agent", "queue", "port", "span", "call")
FILTER_VALUES = 1000  # values per filtered field
SUBSCRIBE_ARGS = Args({
    "kinds": Opt(List(Str(64), max_len=100), default=[]),
    "filters": Opt(Args({f: Opt(List(Int(0, 255) if f == "span" else Str(128), max_len=FILTER_VALUES))
                         for f in FILTER_FIELDS}), default={}),
})
STARTUP_EVENTS = 1000  # start-up events kept for later subscribers
_PEER: ContextVar[Peer | None] = ContextVar("api_peer", default=None)


def current_peer() -> Peer | None:
    """The peer whose request is being handled (None outside a request): for an op that counts tries
    per client, such as a PIN's."""
    return _PEER.get()


@dataclass(frozen=True)
class _Op:
    handler: Handler
    roles: frozenset[str]
    audit: bool
    args: Args
    own_agent: str | None = None  # the argument naming the agent an agent-role connection may act for
    binds_agent: bool = False  # success binds the connection to that agent (a login with its PIN)
    audit_args: Callable[[dict], dict] | None = None  # what the audit log keeps of the arguments


class _Client:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()  # events bounded in push(); replies never dropped
        self.subscribed: set[str] | None = None  # None: no subscription; empty set: everything
        self.filters: dict[str, set] = {}
        self.dropped = 0
        self.errors: dict[str, int] = {}  # error replies sent, by code (logged once, summed up at close)
        self.peer: Peer = peer_of(writer.get_extra_info("socket"))
        self.role = self.peer.role
        self.agent: str | None = None  # the agent an agent-role connection acts for (None: none yet)

    def wants(self, kind: str, data: dict) -> bool:
        if self.subscribed is None or (self.subscribed and not any(kind.startswith(p) for p in self.subscribed)):
            return False
        if not self.filters:
            return True
        carried = [f for f in self.filters if f in data]
        return bool(carried) and all(data[f] in self.filters[f] for f in carried)

    def push(self, data: bytes) -> None:
        """Queue an event; beyond ``CLIENT_QUEUE`` waiting messages it is counted as dropped instead."""
        if self.queue.qsize() >= CLIENT_QUEUE:
            self.dropped += 1
        else:
            self.queue.put_nowait(data)

    def reply(self, data: bytes) -> None:
        self.queue.put_nowait(data)


class ApiServer:
    def __init__(self, path: str, server_info: dict, group: str | None = None,
                 tokens: dict[str, str] | None = None, audit: Callable[[dict], Any] | None = None) -> None:
        self.path = path
        self.server_info = server_info
        self.group = group
        self.tokens = dict(tokens or {})  # token -> role
        self.audit = audit
        self.ops: dict[str, _Op] = {}
        self.clients: set[_Client] = set()
        self._senders: set[asyncio.Task] = set()
        self._server: asyncio.AbstractServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: deque[tuple[str, dict]] = deque()
        self._fanout_scheduled = False
        self.startup_events: deque[tuple[str, dict]] = deque(maxlen=STARTUP_EVENTS)
        self.events_dropped = 0
        self.op("hello", lambda req: {"protocol": PROTOCOL_VERSION, **self.server_info})
        self.op("subscribe", self._subscribe, args=SUBSCRIBE_ARGS)
        self.op("auth", self._auth, args={"token": Str(256)})
        self.op("whoami", self._auth)

    def op(self, name: str, handler: Handler, roles: frozenset[str] = ALL, audit: bool = False, *,
           args: dict[str, Arg] | Args | None = None, own_agent: str | None = None, binds_agent: bool = False,
           audit_args: Callable[[dict], dict] | None = None) -> None:
        """Register ``name``: ``handler(arguments) -> result`` (or an awaitable of it), callable by ``roles``;
        ``audit`` if it changes state. ``args`` declares its arguments (``daemon.api.schema``; None: it
        takes none): the handler gets them checked, defaults filled in, or the caller ``bad_argument``.
        ``own_agent``: the argument naming the agent it acts on (an agent-role connection may act only
        for the agent it is bound to); ``binds_agent``: success binds the connection to that agent.
        ``audit_args``: what the audit log keeps of the arguments (secrets masked), when a PIN-named
        argument being ``****`` is not enough."""
        self.ops[name] = _Op(handler, roles, audit, args_of(args), own_agent, binds_agent, audit_args)

    def run_op(self, name: str, **args: Any) -> Any:
        """Op ``name``'s handler on ``args`` checked against its schema, as a client's request would be
        (no role, no audit): the result, or an awaitable of it for the ops that are coroutines."""
        entry = self.ops[name]
        return entry.handler(entry.args.check_request(args))

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._server = await asyncio.start_unix_server(self._serve, path=self.path)
        os.chmod(self.path, 0o660)
        if self.group:
            try:
                os.chown(self.path, -1, grp.getgrnam(self.group).gr_gid)
            except (KeyError, PermissionError) as exc:
                log.info("api: socket group %s not applied (%s)", self.group, exc)

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            for c in list(self.clients):
                c.writer.close()
            for task in list(self._senders):
                task.cancel()
            await asyncio.gather(*self._senders, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def subscribers(self, kind: str, **data: Any) -> int:
        """How many connections would receive an event ``kind`` with ``data`` (e.g. is any integrator
        there to answer an IVR lookup)."""
        return sum(1 for c in self.clients if c.wants(kind, data))

    def publish(self, kind: str, **data: Any) -> None:
        """Queue an event for every subscriber whose subscription takes it.

        Called on the tick: it only appends to a bounded list. The fan-out to clients runs as its own
        loop callback after the current one (the tick) has finished, ``FANOUT_BUDGET`` deliveries at a time.
        """
        if not self.clients:
            return
        if len(self._pending) >= PENDING_MAX:
            self.events_dropped += 1
            return
        self._pending.append((kind, data))
        if not self._fanout_scheduled and self._loop is not None:
            self._fanout_scheduled = True
            self._loop.call_soon(self._fanout)

    def publish_startup(self, kind: str, **data: Any) -> None:
        """An event of the daemon's start-up: published, and kept for every client that subscribes to it
        later (nobody can be connected yet when it happens)."""
        self.startup_events.append((kind, data))
        self.publish(kind, **data)

    def _fanout(self) -> None:
        self._fanout_scheduled = False
        budget = FANOUT_BUDGET
        while self._pending and budget > 0:
            budget -= len(self.clients)
            kind, data = self._pending.popleft()
            frame: bytes | None = None
            for c in self.clients:
                if not c.wants(kind, data):
                    continue
                if frame is None:
                    frame = pack({"type": "event", "kind": kind, **data})
                c.push(frame)
        if self._pending and self._loop is not None:
            self._fanout_scheduled = True
            self._loop.call_soon(self._fanout)

    def _subscribe(self, req: dict) -> dict:
        raise ApiError(ErrorCode.INTERNAL, "subscribe is handled per connection")

    def _auth(self, req: dict) -> dict:
        raise ApiError(ErrorCode.INTERNAL, "auth is handled per connection")

    def _per_connection(self, client: _Client, op: str, req: dict) -> dict:
        """The ops that act on the connection itself: subscribe, auth, whoami."""
        if op == "subscribe":
            kinds = req["kinds"]
            filters = {f: v for f, v in req["filters"].items() if v is not None}
            client.subscribed = set(kinds)
            client.filters = {f: set(v) for f, v in filters.items()}
            for kind, data in self.startup_events:  # before the reply: they happened before it
                if client.wants(kind, data):
                    client.push(pack({"type": "event", "kind": kind, **data}))
            return {"kinds": kinds, "filters": filters}
        if op == "auth":
            grant = self.tokens.get(req["token"])
            if grant is None:
                log.warning("api: %s presented an unknown token", client.peer.describe())
                raise ApiError(ErrorCode.FORBIDDEN, "unknown token")
            role, _, agent = grant.partition(":")  # "agent:1001": the agent role, for agent 1001
            if ROLES.index(role) > ROLES.index(client.role):
                client.role = role
            if agent and client.role == "agent":
                client.agent = agent
        return {"user": client.peer.user, "uid": client.peer.uid, "pid": client.peer.pid, "role": client.role,
                "agent": client.agent}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(writer)
        self.clients.add(client)
        sender = asyncio.create_task(self._sender(client))
        self._senders.add(sender)
        sender.add_done_callback(self._senders.discard)
        client.reply(pack({"type": "hello", "protocol": PROTOCOL_VERSION, **self.server_info}))
        try:
            while True:
                head = await reader.readexactly(LENGTH.size)
                (length,) = LENGTH.unpack(head)
                if length > MAX_MESSAGE:
                    log.warning("api: client sent a %d-byte message (limit %d): closing", length, MAX_MESSAGE)
                    client.reply(pack({"id": None, "ok": False, "error": {
                        "code": ErrorCode.TOO_LARGE, "message": f"message over {MAX_MESSAGE} bytes"}}))
                    break
                body = await reader.readexactly(length)
                client.reply(await self._dispatch(client, body))
                if client.queue.qsize() > CLIENT_QUEUE:  # a client that does not read its replies waits
                    await client.queue.join()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            return  # the daemon is stopping: end quietly (asyncio would log a cancelled handler)
        finally:
            self.clients.discard(client)
            self._closed(client)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.queue.join(), 1.0)
            sender.cancel()
            writer.close()

    async def _dispatch(self, client: _Client, body: bytes) -> bytes:
        """The framed reply to one request; never raises (a result that cannot be encoded is an error)."""
        reply = await self._handle(client, body)
        try:
            return pack(reply)
        except Exception as exc:
            log.exception("api: reply to %r cannot be encoded", reply.get("id"))
            return pack({"id": reply.get("id") if isinstance(reply.get("id"), int | str | None) else None, "ok": False,
                         "error": {"code": ErrorCode.INTERNAL, "message": f"reply cannot be encoded: {exc}"}})

    async def _handle(self, client: _Client, body: bytes) -> dict:
        rid = None
        try:
            req = unpack(body)
            rid = req.get("id")
            op = req.get("op")
            if not isinstance(op, str):
                raise ApiError(ErrorCode.BAD_MESSAGE, "missing 'op' (a string)")
            entry = self.ops.get(op)
            if entry is None:
                raise ApiError(ErrorCode.UNKNOWN_OP, f"unknown op {op!r}")
            if client.role not in entry.roles:
                raise ApiError(ErrorCode.FORBIDDEN, f"{op!r} needs one of the roles {', '.join(sorted(entry.roles))}; "
                                                    f"this connection is {client.role}")
            if (entry.own_agent and client.role == "agent" and not entry.binds_agent
                    and req.get(entry.own_agent) != client.agent):
                raise ApiError(ErrorCode.FORBIDDEN, f"{op!r}: an agent connection acts only for its own agent "
                               f"({client.agent or 'none yet: log in with the PIN'})")
            checked = entry.args.check_request(req)
            if op in ("subscribe", "auth", "whoami"):
                result = self._per_connection(client, op, checked)
            else:
                CURRENT_ROLE.set(client.role)  # this connection's task: handlers of its requests see its role
                _PEER.set(client.peer)  # this request's own context: each connection is its own task
                result = entry.handler(checked)
                if inspect.isawaitable(result):  # slow ops (file reads) run off the loop and are awaited
                    result = await result
            if entry.binds_agent and entry.own_agent:
                client.agent = req.get(entry.own_agent)
            if entry.audit and self.audit is not None:
                args = {k: "****" if k in ("pin", "password", "secret") else v for k, v in req.items()
                        if k not in ("id", "op", "token")}
                self.audit({"who": client.peer.describe(), "role": client.role, "op": op,
                            "args": entry.audit_args(args) if entry.audit_args else args})
            return {"id": rid, "ok": True, "result": result}
        except ApiError as exc:
            self._count_error(client, exc)
            return {"id": rid, "ok": False, "error": exc.reply()}
        except Exception as exc:
            log.exception("api: op failed")
            return {"id": rid, "ok": False, "error": {"code": ErrorCode.INTERNAL, "message": str(exc)}}

    @staticmethod
    def _count_error(client: _Client, exc: ApiError) -> None:
        """The first error reply of a connection is logged with its peer; the rest are counted, and
        summed up when it closes (a client sending junk in a loop must not flood the log)."""
        if not client.errors:
            log.info("api: %s: %s (further error replies to this client are counted)", client.peer.describe(), exc)
        client.errors[exc.code] = client.errors.get(exc.code, 0) + 1

    @staticmethod
    def _closed(client: _Client) -> None:
        total = sum(client.errors.values())
        if total > 1:
            log.info("api: %s closed after %d error replies (%s)", client.peer.describe(), total,
                     ", ".join(f"{code} {n}" for code, n in sorted(client.errors.items())))

    async def _sender(self, client: _Client) -> None:
        w = client.writer
        while True:
            data = await client.queue.get()
            try:
                w.write(data)
                if client.dropped and client.queue.qsize() <= 1:  # caught up: say what was lost, in order
                    w.write(pack({"type": "event", "kind": "events.dropped", "count": client.dropped}))
                    client.dropped = 0
                await w.drain()
            except (ConnectionError, RuntimeError):
                return
            finally:
                client.queue.task_done()
