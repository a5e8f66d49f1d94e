"""The installer's E1 tools: ``e1.set_cas`` and ``e1.send_hdlc`` (admin, audited: they put bits and
frames on a live span), ``e1.block``/``e1.unblock`` of a No.1 timeslot and ``e1.hdlc_received``
(supervisor). A port or span the board lacks is ``not_found``; one of the wrong kind ``bad_argument``."""

from __future__ import annotations

from daemon.api.host import OpsHost
from daemon.api.paging import Page, take_page
from daemon.api.protocol import ApiError, ErrorCode
from daemon.api.roles import ADMIN, SUPERVISOR
from daemon.api.schema import PORT, Bytes, Int, Opt
from daemon.api.server import ApiServer


def register(api: ApiServer, host: OpsHost) -> None:
    engine = host.engine

    def set_cas(req: dict) -> dict:
        port, bits = req["port"], req["bits"]
        if port not in engine.ports:
            raise ApiError(ErrorCode.NOT_FOUND, f"no port {port} on the board")
        try:
            engine.set_cas(port, bits)
        except ValueError as exc:
            raise ApiError(ErrorCode.BAD_ARGUMENT, str(exc), argument="port") from exc
        return {"port": port, "bits": bits}

    def send_hdlc(req: dict) -> dict:
        span, data = req["span"], req["data"]
        if span not in engine.spans:
            raise ApiError(ErrorCode.NOT_FOUND, f"no span {span}")
        try:
            engine.send_hdlc(span, data)
        except ValueError as exc:
            raise ApiError(ErrorCode.BAD_ARGUMENT, str(exc), argument="span") from exc
        return {"span": span, "length": len(data)}

    def no1_port(req: dict) -> str:
        port = req["port"]
        if host.config.trunk_by_port(port) is None:
            raise ApiError(ErrorCode.BAD_ARGUMENT, f"{port} is not a timeslot of a No.1 trunk", argument="port")
        return port

    def block(req: dict) -> dict:
        port = no1_port(req)
        if not engine.block(port):
            raise ApiError(ErrorCode.BAD_ARGUMENT, f"{port} is not idle: block it when its call has ended")
        return {"port": port, "blocked": True}

    def unblock(req: dict) -> dict:
        port = no1_port(req)
        engine.unblock(port)
        return {"port": port, "blocked": False}

    def hdlc_received(req: dict) -> Page:
        """The frames kept (the last 256), oldest first, a page at a time; a frame's cursor is its number
        since the start (``hdlc_rx_frames`` counts them), so a page follows on as new frames arrive."""
        srt = engine.spans.get(req["span"])
        if srt is None:
            raise ApiError(ErrorCode.NOT_FOUND, "no such span")
        frames = list(srt.hdlc_rx)
        first = srt.hdlc_rx_frames - len(frames)  # the number of frames[0]
        skip = 0 if req["cursor"] is None else max(0, req["cursor"] + 1 - first)
        return take_page(((first + i, f) for i, f in enumerate(frames[skip:], skip)), req["limit"])

    api.op("e1.set_cas", set_cas, roles=ADMIN, audit=True, args={"port": PORT, "bits": Int(0, 15)})
    api.op("e1.send_hdlc", send_hdlc, roles=ADMIN, audit=True, args={"span": Int(0, 255), "data": Bytes(4096, min_len=1)})
    api.op("e1.hdlc_received", hdlc_received, roles=SUPERVISOR,
           args={"span": Int(0, 255), "limit": Opt(Int(1, 256), 256), "cursor": Opt(Int(0, 2**63))})
    api.op("e1.block", block, roles=SUPERVISOR, audit=True, args={"port": PORT})
    api.op("e1.unblock", unblock, roles=SUPERVISOR, audit=True, args={"port": PORT})
