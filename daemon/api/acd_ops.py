"""The API ops of the ACD: agents' login, logout, pause and resume, the supervisor's live view,
closed statistics intervals, and the customer records (CRUD). docs/api.md lists them with their fields.

Agent requests run on the loop like the feature codes do (``daemon.acd.host.AcdService``); a
request the ACD refuses (wrong PIN, agent on a call, unknown reason code) is a ``refused`` error
with the ACD's reason. Customer writes are single LMDB transactions, committed before the reply; so are
agents' logins and pauses and a cancelled callback's removal, and ``acd.intervals`` waits for
intervals being written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from daemon.acd.agents import AgentError, NoSuchExtension
from daemon.acd.customers import Customer
from daemon.api.paging import LIST_MAX, Page, take_page
from daemon.api.protocol import ApiError, ErrorCode
from daemon.api.roles import INTEGRATOR, SUPERVISOR
from daemon.api.schema import AGENT, CALL, EXTENSION, TIME, Int, Opt, Str
from daemon.api.server import ApiServer, current_peer
from daemon.calls.pin_guard import PinLocked

PIN = Str(32)
CUSTOMER_NUMBER = Str(64, min_len=1, pattern=r".*[0-9].*", what="a phone number (with digits)")
TEXT = Str(4000)  # a customer's name or notes (daemon.acd.customers)
CUSTOMER_FIELDS = {"number": CUSTOMER_NUMBER, "name": Opt(TEXT), "level": Opt(Int(0, 9)), "notes": Opt(TEXT)}


def register(api: ApiServer, service: Any) -> None:
    """Add the ACD's ops to ``api``; ``service.acd`` is the ``AcdService``."""

    def acd() -> Any:
        return service.acd

    def agent_op(fn_name: str, *args: str):
        async def handler(req: dict) -> dict:
            agent = req["agent"]
            if service.config.acd.agent(agent) is None:
                raise ApiError(ErrorCode.NOT_FOUND, f"no agent {agent}")
            values = [req[a] for a in args]
            svc = acd()
            try:
                if fn_name == "login":  # tries counted per agent and per Unix user (daemon.calls.pin_guard)
                    peer = current_peer()
                    svc.login(agent, *values, f"api:uid {peer.uid if peer else '?'}", "api")
                else:
                    svc.feed(getattr(svc.acd, fn_name), agent, *values)
            except PinLocked as exc:
                raise ApiError(ErrorCode.REFUSED, str(exc)) from exc
            except NoSuchExtension as exc:
                raise ApiError(ErrorCode.NOT_FOUND, str(exc)) from exc
            except AgentError as exc:
                raise ApiError(ErrorCode.REFUSED, str(exc)) from exc
            await service.writer.flushed()  # the login as stored (it survives a restart) before the reply
            return next(a for a in svc.acd.snapshot(svc.now())["agents"] if a["id"] == agent)
        return handler

    def snapshot(req: dict) -> dict:
        return acd().acd.snapshot(acd().now())

    async def intervals(req: dict) -> Page:
        store = acd().acd.intervals
        if store is None:
            return Page([])
        since, until, cursor = req["since"] or 0.0, req["until"], req["cursor"]
        await service.writer.flushed()  # an interval whose stats.interval event was sent is in the reply

        def rows() -> Iterator[tuple[float, dict]]:
            for rec in store.scan(max(since, cursor or 0.0), until):
                if cursor is None or rec["start"] > cursor:
                    yield rec["start"], rec

        return await asyncio.to_thread(take_page, rows(), req["limit"])

    async def callback_cancel(req: dict) -> dict:
        call, svc = req["call"], acd()
        if not svc.feed(svc.acd.cancel_callback, call):
            raise ApiError(ErrorCode.NOT_FOUND, f"no callback {call} waiting")
        await service.writer.flushed()
        return {"call": call, "cancelled": True}

    def customers() -> Any:
        c = acd().acd.customers
        if c is None:
            raise ApiError(ErrorCode.NOT_FOUND, "no customer store")
        return c

    def as_dict(rec: Customer | None) -> dict | None:
        return rec.to_dict() if rec is not None else None

    def customer_get(req: dict) -> dict | None:
        rec = customers().get(req["number"])
        if rec is None:
            raise ApiError(ErrorCode.NOT_FOUND, f"no customer {req['number']}")
        return as_dict(rec)

    async def customer_list(req: dict) -> dict:
        after, limit, store = req["cursor"] or req["after"], req["limit"], customers()

        def read() -> tuple[Page, int]:
            recs = store.list(after, limit + 1)
            return take_page(((r.number, r.to_dict()) for r in recs), limit), store.count()

        page, total = await asyncio.to_thread(read)
        return {"customers": page.items, "total": total, "next": page.next}

    def changes(req: dict) -> dict[str, Any]:
        return {key: req[key] for key in ("name", "level", "notes") if req[key] is not None}

    def customer_create(req: dict) -> dict | None:
        try:
            return as_dict(customers().create(req["number"], **changes(req)))
        except KeyError as exc:
            raise ApiError(ErrorCode.REFUSED, f"customer {req['number']} exists") from exc
        except ValueError as exc:
            raise ApiError(ErrorCode.BAD_ARGUMENT, str(exc)) from exc

    def customer_update(req: dict) -> dict | None:
        try:
            return as_dict(customers().update(req["number"], **changes(req)))
        except ValueError as exc:
            raise ApiError(ErrorCode.BAD_ARGUMENT, str(exc)) from exc

    def customer_delete(req: dict) -> dict:
        if not customers().delete(req["number"]):
            raise ApiError(ErrorCode.NOT_FOUND, f"no customer {req['number']}")
        return {"deleted": req["number"]}

    api.op("acd.snapshot", snapshot)
    api.op("acd.intervals", intervals, roles=INTEGRATOR,
           args={"since": Opt(TIME, 0.0), "until": Opt(TIME), "limit": Opt(Int(1, LIST_MAX), 96),
                 "cursor": Opt(TIME)})  # a page's ``next``: the last interval's start
    # an agent-role connection acts for the agent it logged in as (with the PIN) or whose token it showed
    api.op("agent.login", agent_op("login", "pin", "extension"), audit=True, own_agent="agent", binds_agent=True,
           args={"agent": AGENT, "pin": Opt(PIN, ""), "extension": EXTENSION})
    api.op("agent.logout", agent_op("logout"), audit=True, own_agent="agent", args={"agent": AGENT})
    api.op("agent.pause", agent_op("pause", "reason"), audit=True, own_agent="agent",
           args={"agent": AGENT, "reason": Str(32)})
    api.op("agent.resume", agent_op("resume"), audit=True, own_agent="agent", args={"agent": AGENT})
    api.op("callback.cancel", callback_cancel, roles=SUPERVISOR, audit=True, args={"call": CALL})
    api.op("customer.get", customer_get, roles=INTEGRATOR, args={"number": CUSTOMER_NUMBER})
    api.op("customer.list", customer_list, roles=INTEGRATOR,
           args={"cursor": Opt(Str(64)), "after": Opt(Str(64)), "limit": Opt(Int(1, LIST_MAX), 100)})
    api.op("customer.create", customer_create, roles=INTEGRATOR, audit=True, args=CUSTOMER_FIELDS)
    api.op("customer.update", customer_update, roles=INTEGRATOR, audit=True, args=CUSTOMER_FIELDS)
    api.op("customer.delete", customer_delete, roles=SUPERVISOR, audit=True, args={"number": CUSTOMER_NUMBER})
