"""The API ops of the ACD: agents' login, logout, pause and resume, the supervisor's live view,
closed statistics intervals, and the customer records (CRUD). docs/api.md lists them with their fields.

Agent requests run on the loop like the feature codes do (``daemon.acd_calls.AcdService``); a
request the ACD refuses (wrong PIN, agent on a call, unknown reason code) is a ``refused`` error
with the ACD's reason. Customer writes are single LMDB transactions, committed before the reply; so are
agents' logins and pauses and a cancelled callback's removal, and ``acd.intervals`` waits for
intervals being written.
"""

from __future__ import annotations

from typing import Any

from daemon.acd.agents import AgentError, NoSuchExtension
from daemon.acd.customers import Customer
from daemon.api.protocol import ApiError, ErrorCode
from daemon.api.roles import INTEGRATOR, SUPERVISOR
from daemon.api.server import ApiServer


def _str(req: dict, name: str, default: str | None = None) -> str:
    v = req.get(name, default)
    if not isinstance(v, str):
        raise ApiError(ErrorCode.BAD_ARGUMENT, f"'{name}' must be a str")
    return v


def _num(req: dict, name: str, default: float | None = None) -> float | None:
    v = req.get(name, default)
    if v is not None and (not isinstance(v, int | float) or isinstance(v, bool)):
        raise ApiError(ErrorCode.BAD_ARGUMENT, f"'{name}' must be a number")
    return v


def register(api: ApiServer, service: Any) -> None:
    """Add the ACD's ops to ``api``; ``service.acd`` is the ``AcdService``."""

    def acd() -> Any:
        return service.acd

    def agent_op(fn_name: str, *args: str):
        async def handler(req: dict) -> dict:
            agent = _str(req, "agent")
            if service.config.acd.agent(agent) is None:
                raise ApiError(ErrorCode.NOT_FOUND, f"no agent {agent}")
            values = [_str(req, a, "" if a == "pin" else None) for a in args]
            svc = acd()
            try:
                svc.feed(getattr(svc.acd, fn_name), agent, *values)
            except NoSuchExtension as exc:
                raise ApiError(ErrorCode.NOT_FOUND, str(exc)) from exc
            except AgentError as exc:
                raise ApiError(ErrorCode.REFUSED, str(exc)) from exc
            await service.writer.flushed()  # the login as stored (it survives a restart) before the reply
            return next(a for a in svc.acd.snapshot(svc.now())["agents"] if a["id"] == agent)
        return handler

    def snapshot(req: dict) -> dict:
        return acd().acd.snapshot(acd().now())

    async def intervals(req: dict) -> list[dict]:
        store = acd().acd.intervals
        if store is None:
            return []
        since, until = _num(req, "since", 0.0), _num(req, "until")
        limit = int(_num(req, "limit", 96) or 96)
        await service.writer.flushed()  # an interval whose stats.interval event was sent is in the reply
        out = []
        for rec in store.scan(since or 0.0, until):
            out.append(rec)
            if len(out) >= limit:
                break
        return out

    async def callback_cancel(req: dict) -> dict:
        call, svc = _str(req, "call"), acd()
        if not svc.feed(svc.acd.cancel_callback, call):
            raise ApiError(ErrorCode.NOT_FOUND, f"no callback {call} waiting")
        await service.writer.flushed()
        return {"call": call, "cancelled": True}

    def customers() -> Any:
        c = acd().acd.customers
        if c is None:
            raise ApiError(ErrorCode.NOT_FOUND, "no customer store")
        return c

    def number(req: dict) -> str:
        n = _str(req, "number")
        if not n or not any(ch.isdigit() for ch in n):
            raise ApiError(ErrorCode.BAD_ARGUMENT, "'number' must hold digits")
        return n

    def as_dict(rec: Customer | None) -> dict | None:
        return rec.to_dict() if rec is not None else None

    def customer_get(req: dict) -> dict | None:
        rec = customers().get(number(req))
        if rec is None:
            raise ApiError(ErrorCode.NOT_FOUND, f"no customer {req['number']}")
        return as_dict(rec)

    def customer_list(req: dict) -> dict:
        after = req.get("after")
        if after is not None and not isinstance(after, str):
            raise ApiError(ErrorCode.BAD_ARGUMENT, "'after' must be a str")
        limit = int(_num(req, "limit", 100) or 100)
        recs = customers().list(after, min(max(limit, 1), 1000))
        return {"customers": [r.to_dict() for r in recs], "total": customers().count()}

    def changes(req: dict) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("name", "notes"):
            if key in req:
                out[key] = _str(req, key)
        if "level" in req:
            level = req["level"]
            if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 9:
                raise ApiError(ErrorCode.BAD_ARGUMENT, "'level' must be an int 0..9")
            out["level"] = level
        return out

    def customer_create(req: dict) -> dict | None:
        try:
            return as_dict(customers().create(number(req), **changes(req)))
        except KeyError as exc:
            raise ApiError(ErrorCode.REFUSED, f"customer {req['number']} exists") from exc
        except ValueError as exc:
            raise ApiError(ErrorCode.BAD_ARGUMENT, str(exc)) from exc

    def customer_update(req: dict) -> dict | None:
        try:
            return as_dict(customers().update(number(req), **changes(req)))
        except ValueError as exc:
            raise ApiError(ErrorCode.BAD_ARGUMENT, str(exc)) from exc

    def customer_delete(req: dict) -> dict:
        if not customers().delete(number(req)):
            raise ApiError(ErrorCode.NOT_FOUND, f"no customer {req['number']}")
        return {"deleted": req["number"]}

    api.op("acd.snapshot", snapshot)
    api.op("acd.intervals", intervals, roles=INTEGRATOR)
    # an agent-role connection acts for the agent it logged in as (with the PIN) or whose token it showed
    api.op("agent.login", agent_op("login", "pin", "extension"), audit=True, own_agent="agent", binds_agent=True)
    api.op("agent.logout", agent_op("logout"), audit=True, own_agent="agent")
    api.op("agent.pause", agent_op("pause", "reason"), audit=True, own_agent="agent")
    api.op("agent.resume", agent_op("resume"), audit=True, own_agent="agent")
    api.op("callback.cancel", callback_cancel, roles=SUPERVISOR, audit=True)
    api.op("customer.get", customer_get, roles=INTEGRATOR)
    api.op("customer.list", customer_list, roles=INTEGRATOR)
    api.op("customer.create", customer_create, roles=INTEGRATOR, audit=True)
    api.op("customer.update", customer_update, roles=INTEGRATOR, audit=True)
    api.op("customer.delete", customer_delete, roles=SUPERVISOR, audit=True)
