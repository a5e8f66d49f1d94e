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
Events ``diag.*`` (every DTMF digit keyed, PINs among them) and ``pin.*`` go to supervisor and admin
connections only, like the ops that show the same things. Subscriptions take kind prefixes and optional field filters (``extension``, ``agent``, ``queue``,
``port``, ...): with filters, an event is delivered only if it carries one of the filtered fields
and every filtered field it carries matches. Events of the daemon's start-up (``publish_startup``:
recordings a crash left, repaired) happen before any client can connect; they are kept and sent to
each client when it subscribes to them.

Connections are capped in total and per user (``daemon.api.limits``: a refused client gets an error
frame saying why; the admins' reserve keeps the installer's CLI reachable), and the listening socket
backs off when the process is out of descriptors instead of spinning on ``accept``. Each client is
served a few requests per loop turn (``REQUESTS_PER_TURN``) and at most ``SHARE_S`` of work per 20 ms,
so one client pipelining thousands of requests shares the loop (and the CPU) with the tick and with
the others. Its replies wait in a bounded backlog
(``BACKLOG_BYTES``): past it the client is not read from until it catches up; once it is gone,
whatever was waiting for it is freed. A reply over ``MAX_MESSAGE`` is never sent: the client gets
``too_large`` telling it to page (list ops return a page and a cursor, ``daemon.api.paging``).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import socket
import time
from collections import Counter, deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from daemon.api.access import secure_socket
from daemon.api.limits import ApiLimits, Throttled
from daemon.api.paging import Page
from daemon.api.protocol import LENGTH, MAX_MESSAGE, PROTOCOL_VERSION, ApiError, ErrorCode, pack, unpack
from daemon.api.roles import ALL, CURRENT_ROLE, CURRENT_TOKEN, ROLES, SUPERVISOR, Peer, peer_of
from daemon.api.schema import Arg, Args, Int, List, Opt, Str, args_of
from signaling.machine import WrongState

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
SUPERVISOR_EVENTS = ("diag.", "pin.")  # delivered to supervisor and admin connections only
REQUESTS_PER_TURN = 4  # a client's requests served back to back before the loop's other work gets a turn
SHARE_S, TICK_S = 0.004, 0.02  # a client's requests take at most 4 ms of each 20 ms: a share of the CPU, not all
BACKLOG_BYTES = 4 << 20  # a client's unsent replies beyond which it is not read from until it catches up
REFUSAL_LOG_S = 60.0  # refused connections and accept errors are logged at most this often
ACCEPT_BACKOFF_S = (0.05, 1.0)  # out of descriptors: wait before accepting again, doubling up to the second
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
    def __init__(self, writer: asyncio.StreamWriter, peer: Peer) -> None:
        self.writer = writer
        self.out: deque[bytes] = deque()  # frames not yet handed to the transport
        self.out_bytes = 0
        self.wake = asyncio.Event()  # the sender has frames to write
        self.room = asyncio.Event()  # the backlog is under BACKLOG_BYTES (or the client is gone)
        self.room.set()
        self.closed = False
        self.subscribed: set[str] | None = None  # None: no subscription; empty set: everything
        self.filters: dict[str, set] = {}
        self.dropped = 0
        self.errors: dict[str, int] = {}  # error replies sent, by code (logged once, summed up at close)
        self.peer = peer
        self.role = peer.role
        self.agent: str | None = None  # the agent an agent-role connection acts for (None: none yet)
        self.token: str | None = None  # the last token it authenticated with

    def wants(self, kind: str, data: dict) -> bool:
        if kind.startswith(SUPERVISOR_EVENTS) and self.role not in SUPERVISOR:
            return False  # the digits keyed on any phone (PINs among them), wrong-PIN reports
        if self.subscribed is None or (self.subscribed and not any(kind.startswith(p) for p in self.subscribed)):
            return False
        if not self.filters:
            return True
        carried = [f for f in self.filters if f in data]
        return bool(carried) and all(data[f] in self.filters[f] for f in carried)

    def push(self, data: bytes) -> None:
        """Queue an event; beyond ``CLIENT_QUEUE`` waiting messages it is counted as dropped instead."""
        if len(self.out) >= CLIENT_QUEUE:
            self.dropped += 1
        else:
            self.reply(data)

    def reply(self, data: bytes) -> None:
        if self.closed:
            return
        self.out.append(data)
        self.out_bytes += len(data)
        if self.out_bytes > BACKLOG_BYTES:
            self.room.clear()
        self.wake.set()

    def take(self) -> bytes:
        data = self.out.popleft()
        self.out_bytes -= len(data)
        if self.out_bytes <= BACKLOG_BYTES // 2:
            self.room.set()
        return data

    def close(self) -> None:
        """The connection is gone: free what waits for it and wake whoever waits on it."""
        self.closed = True
        self.out.clear()
        self.out_bytes = 0
        self.room.set()
        self.wake.set()


class ApiServer:
    def __init__(self, path: str, server_info: dict, group: str | None = None,
                 tokens: dict[str, str] | None = None, audit: Callable[[dict], Any] | None = None,
                 limits: ApiLimits | None = None) -> None:
        self.path = path
        self.limits = limits or ApiLimits()
        self.server_info = server_info
        self.group = group
        self.tokens = dict(tokens or {})  # token -> role
        self.audit = audit
        self.ops: dict[str, _Op] = {}
        self.clients: set[_Client] = set()
        self._per_uid: Counter[int] = Counter()
        self._tasks: set[asyncio.Task] = set()
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task | None = None
        self._refused: Throttled | None = None
        self._accept_failed: Throttled | None = None
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
        self._loop = loop = asyncio.get_running_loop()
        self._refused = Throttled(log, REFUSAL_LOG_S, loop.time)
        self._accept_failed = Throttled(log, REFUSAL_LOG_S, loop.time)
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        secure_socket(self.path, self.group)  # before listen: nobody connects through a default mode
        listener.listen(128)
        listener.setblocking(False)
        self._listener = listener
        self._accepting = asyncio.create_task(self._accept_loop())

    async def stop(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
            self._accepting = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for c in list(self.clients):
            c.writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    @property
    def waiting_bytes(self) -> int:
        """Replies and events waiting for their clients to read them, in all (queued and in the transports)."""
        return sum(c.out_bytes + c.writer.transport.get_write_buffer_size() for c in self.clients)

    @property
    def refused(self) -> int:
        """Connections refused so far (over the caps)."""
        return self._refused.count if self._refused else 0

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._listener is not None and self._accept_failed is not None
        delay = ACCEPT_BACKOFF_S[0]
        while True:
            try:
                conn, _ = await loop.sock_accept(self._listener)
            except OSError as exc:  # out of descriptors (EMFILE, ENFILE) or memory, mostly
                # the connection stays in the listen backlog; accepting again at once would only fail again
                self._accept_failed(f"api: cannot accept connections: {exc.strerror or exc}; waiting")
                await asyncio.sleep(delay)
                delay = min(delay * 2, ACCEPT_BACKOFF_S[1])
                continue
            delay = ACCEPT_BACKOFF_S[0]
            try:
                self._admit(conn)
            except Exception:
                log.exception("api: a new connection could not be set up")
                conn.close()

    def _admit(self, conn: socket.socket) -> None:
        peer = peer_of(conn)
        why = self.limits.refusal(peer, len(self.clients), self._per_uid[peer.uid])
        if why is not None:
            assert self._refused is not None
            self._refused(f"api: refusing connections: {why} (latest: {peer.describe()})")
            with contextlib.suppress(OSError):  # a small frame into an empty socket buffer: never blocks
                conn.setblocking(False)
                conn.send(pack({"id": None, "ok": False, "error": {"code": ErrorCode.REFUSED, "message": why}}))
            conn.close()
            return
        self._per_uid[peer.uid] += 1
        task = asyncio.create_task(self._connection(conn, peer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connection(self, conn: socket.socket, peer: Peer) -> None:
        try:
            reader, writer = await asyncio.open_unix_connection(sock=conn)
        except OSError:
            self._per_uid[peer.uid] -= 1
            conn.close()
            return
        try:
            await self._serve(reader, writer, peer)
        finally:
            self._per_uid[peer.uid] -= 1
            if self._per_uid[peer.uid] <= 0:
                del self._per_uid[peer.uid]

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
            client.token = req["token"]
        return {"user": client.peer.user, "uid": client.peer.uid, "pid": client.peer.pid, "role": client.role,
                "agent": client.agent}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Peer) -> None:
        client = _Client(writer, peer)
        self.clients.add(client)
        sender = asyncio.create_task(self._sender(client))
        self._tasks.add(sender)
        sender.add_done_callback(self._tasks.discard)
        client.reply(pack({"type": "hello", "protocol": PROTOCOL_VERSION, **self.server_info}))
        served, window, used = 0, 0.0, 0.0
        try:
            while not client.closed:
                head = await reader.readexactly(LENGTH.size)
                (length,) = LENGTH.unpack(head)
                if length > MAX_MESSAGE:
                    log.warning("api: client sent a %d-byte message (limit %d): closing", length, MAX_MESSAGE)
                    client.reply(pack({"id": None, "ok": False, "error": {
                        "code": ErrorCode.TOO_LARGE, "message": f"message over {MAX_MESSAGE} bytes"}}))
                    break
                body = await reader.readexactly(length)
                started = time.monotonic()
                if started >= window + TICK_S:
                    window, used = started, 0.0
                client.reply(await self._dispatch(client, body))
                used += time.monotonic() - started
                served += 1
                if not client.room.is_set():  # a client that does not read its replies waits for them to go
                    await client.room.wait()
                    served = 0
                elif used >= SHARE_S:  # its share of this tick is used up: the rest waits for the next
                    await asyncio.sleep(max(0.0, window + TICK_S - time.monotonic()))
                    served = 0
                elif served >= REQUESTS_PER_TURN:  # pipelined requests are all buffered: let the tick in
                    await asyncio.sleep(0)
                    served = 0
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            client.close()
            return  # the daemon is stopping: end quietly (asyncio would log a cancelled handler)
        finally:
            self.clients.discard(client)
            self._closed(client)
            if client.out and not client.closed:  # let the last replies (an error, say) go out, briefly
                client.wake.set()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(sender), 1.0)
            client.close()
            sender.cancel()
            writer.close()

    async def _dispatch(self, client: _Client, body: bytes) -> bytes:
        """The framed reply to one request; never raises (a result that cannot be encoded, or whose frame
        would be over ``MAX_MESSAGE``, is an error reply instead)."""
        reply = await self._handle(client, body)
        rid = reply.get("id") if isinstance(reply.get("id"), int | str | None) else None
        try:
            frame = pack(reply)
        except Exception as exc:
            log.exception("api: reply to %r cannot be encoded", rid)
            return pack({"id": rid, "ok": False,
                         "error": {"code": ErrorCode.INTERNAL, "message": f"reply cannot be encoded: {exc}"}})
        if len(frame) - LENGTH.size > MAX_MESSAGE:
            log.info("api: a %d-byte reply to %s refused (limit %d)", len(frame), client.peer.describe(), MAX_MESSAGE)
            return pack({"id": rid, "ok": False, "error": {
                "code": ErrorCode.TOO_LARGE,
                "message": f"the reply would be {len(frame) - LENGTH.size} bytes, over the {MAX_MESSAGE}-byte "
                           "limit: ask for less (list ops page: a smaller 'limit', then 'cursor' = the reply's "
                           "'next')"}})
        return frame

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
                CURRENT_TOKEN.set(client.token)
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
            if isinstance(result, Page):
                return {"id": rid, "ok": True, "result": result.items, "next": result.next}
            return {"id": rid, "ok": True, "result": result}
        except ApiError as exc:
            self._count_error(client, exc)
            return {"id": rid, "ok": False, "error": exc.reply()}
        except WrongState as exc:  # the line moved on since the op looked (a race, not the daemon's fault)
            refused = ApiError(ErrorCode.REFUSED, f"the line cannot do that now: {exc}")
            self._count_error(client, refused)
            return {"id": rid, "ok": False, "error": refused.reply()}
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
        """Write the client's frames in order; ends (freeing its backlog) when the connection fails, or
        once the backlog is written after the reader has finished."""
        w = client.writer
        try:
            while True:
                if not client.out:
                    if client.closed or client not in self.clients:
                        return
                    client.wake.clear()
                    await client.wake.wait()
                    continue
                w.write(client.take())
                if client.dropped and not client.out:  # caught up: say what was lost, in order
                    w.write(pack({"type": "event", "kind": "events.dropped", "count": client.dropped}))
                    client.dropped = 0
                await w.drain()
        except (ConnectionError, RuntimeError):
            pass
        finally:
            client.close()
