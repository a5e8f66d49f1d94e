"""The integrator's call control: ``call.dial`` (click-to-dial, paid for by the connection's token or
role under class of service), ``call.hangup``, ``call.transfer``, and the IVR's ``ivr.lookup_reply`` and
``ivr.calls`` (registered once the IVR runs). Call control's refusals become the API's error codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from daemon.api.host import OpsHost
from daemon.api.protocol import ApiError, ErrorCode
from daemon.api.roles import CURRENT_ROLE, CURRENT_TOKEN, INTEGRATOR
from daemon.api.schema import CALL, EXTENSION, NUMBER, MapOf, Opt, Scalar, Str
from daemon.api.server import ApiServer
from daemon.calls.class_of_service import Payer


def _call_request(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except LookupError as exc:
        raise ApiError(ErrorCode.NOT_FOUND, str(exc).strip("'")) from exc
    except PermissionError as exc:  # class of service: the message names the class and who pays
        raise ApiError(ErrorCode.FORBIDDEN, str(exc)) from exc
    except ValueError as exc:
        raise ApiError(ErrorCode.BAD_ARGUMENT, str(exc)) from exc


def api_payer(host: OpsHost) -> Payer:
    """Who asks for an outside call through the API: the connection's token, where it has a class of
    service of its own, else its role."""
    token = CURRENT_TOKEN.get()
    label = next((label for tok, label, _ in host.config.api_token_cos if tok == token), None)
    return Payer("token", label) if label is not None else Payer("api", CURRENT_ROLE.get())


def register(api: ApiServer, host: OpsHost) -> None:
    calls = host.engine.calls

    def dial(req: dict) -> dict:
        call = _call_request(calls.click_to_dial, req["extension"], req["number"], api_payer(host))
        return {"call": call.id}

    def hangup(req: dict) -> dict:
        _call_request(calls.hangup, req["call"])
        return {"call": req["call"]}

    def transfer(req: dict) -> dict:
        _call_request(calls.transfer, req["call"], req["extension"])
        return {"call": req["call"], "extension": req["extension"]}

    api.op("call.dial", dial, roles=INTEGRATOR, audit=True, args={"extension": EXTENSION, "number": NUMBER})
    api.op("call.hangup", hangup, roles=INTEGRATOR, audit=True, args={"call": CALL})
    api.op("call.transfer", transfer, roles=INTEGRATOR, audit=True, args={"call": CALL, "extension": EXTENSION})


def register_ivr(api: ApiServer, host: OpsHost) -> None:
    """The IVR's ops, once ``host.ivr`` runs."""

    def lookup_reply(req: dict) -> dict:
        request, data, error = req["request"], req["data"], req["error"]
        if host.ivr is None or not host.ivr.lookup_reply(request, data, error):
            raise ApiError(ErrorCode.NOT_FOUND, f"no lookup {request!r} is waiting (timed out, or the caller left)")
        return {"request": request}

    api.op("ivr.lookup_reply", lookup_reply, roles=INTEGRATOR, args={
        "request": Str(64, min_len=1), "data": Opt(MapOf(Str(64), Scalar(1024), max_len=100)),
        "error": Opt(Str(256))})
    api.op("ivr.calls", lambda req: host.ivr.calls() if host.ivr else [])
