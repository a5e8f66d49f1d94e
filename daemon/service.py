"""The running service: store, API, board connection and the tick loop, under systemd's rules.

READY=1 is sent only once the board is open and its lines are reset; WATCHDOG=1 only while the
tick loop is healthy (ticks arriving, none stuck); STATUS= carries a one-line summary. If the board
goes away the service raises an alarm, keeps serving the API and reconnects; calls in progress at
that moment end with a CDR. Calls a crash interrupted are marked in their CDRs at start-up, ended at
the crashed run's last-alive mark, which a once-a-second timer keeps (with the store writer's retries
of CDRs the store refused: alarm ``CDR_STORE`` while any wait).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from typing import Any

from daemon.acd.host import AcdService
from daemon.api import acd_ops
from daemon.api.limits import fit_to_descriptors
from daemon.api.paging import LIST_MAX, Page, take_page
from daemon.api.protocol import ApiError, ErrorCode
from daemon.api.roles import ADMIN, CURRENT_ROLE, CURRENT_TOKEN, INTEGRATOR, ROLES, SUPERVISOR
from daemon.api.schema import CALL, EXTENSION, NUMBER, PORT, TIME, Bool, Bytes, Int, MapOf, Opt, Scalar, Str
from daemon.api.server import ApiServer
from daemon.calls import pin_guard
from daemon.calls.call_log import CallLog
from daemon.calls.class_of_service import Payer
from daemon.config import editing as config_editing
from daemon.config.model import Config
from daemon.features import supervisor
from daemon.features.extension import ExtensionFeatures
from daemon.features.settings import SettingsStore
from daemon.flows import flow_edit
from daemon.flows.ivr_calls import IvrService
from daemon.recording.host import Recording
from daemon.runtime import diagnostics
from daemon.runtime.engine import Engine
from daemon.store.cdr_csv import cdrs_to_csv
from daemon.store.database import Store, StoreWriter
from daemon.systemd import sd_notify, watchdog_interval
from daemon.task_guard import TaskGuard
from drivers import open_driver
from hal.board import BoardError
from hal.realtime import freeze_heap, take_realtime
from signaling.events import Cause

log = logging.getLogger(__name__)

VERSION = "0.1.0"
ALIVE_S = 1.0  # the last-alive mark is rewritten (and held CDRs retried when due) this often
CDR_ALARM = "CDR_STORE"  # alarm.raised / alarm.cleared while finished calls' CDRs wait for the store
CSV_PAGE_MAX = 5000  # CDRs per cdr.export_csv page at most (and fewer if their CSV would pass PAGE_BYTES)
CURSOR = Bytes(12, min_len=12)  # a page's ``next``


def _cdr_args(default_limit: int, max_limit: int = LIST_MAX, newest_first: bool = True) -> dict:
    fields = {"since": Opt(TIME), "until": Opt(TIME), "limit": Opt(Int(1, max_limit), default_limit),
              "cursor": Opt(CURSOR)}
    if newest_first:
        fields["newest_first"] = Opt(Bool(), False)
    return fields


class Service:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.store = Store(config.state_dir)
        self.writer = StoreWriter(self.store)
        self.api = ApiServer(config.api_socket, {"server": "callboxd", "version": VERSION, "name": config.name},
                             group=config.api_group, tokens=dict(config.api_tokens), audit=self._audit,
                             limits=fit_to_descriptors(config.api_limits))
        self.board = open_driver(config.board_driver, socket=config.board_socket)
        self.engine = Engine(config, self.board, self._journal, CallLog(self.api.publish))  # calls in the log
        self.engine.pins.audit = self._audit  # every wrong PIN, from a phone or the API
        # hook flash, pickup, forwarding, DND, call waiting, supervisor taps (settings in LMDB)
        self.features = ExtensionFeatures(self.engine, SettingsStore(self.store.env, self.writer.submit))
        self.engine.calls.on_denied = lambda ev: self.writer.add_audit(
            {"who": ev["payer"], "role": "class_of_service", "op": "call.denied", "args": ev})
        self.board_up = False
        self.recording: Recording | None = None
        self.ivr: IvrService | None = None
        self.acd: AcdService | None = None
        self.started = time.time()
        self.scheduling = "normal (not started)"
        self._store_alarm_at_startup = False
        self.guard = TaskGuard()  # the long-lived tasks and threads: one failing stops the daemon, logged
        self._register_ops()

    # --- storage ----------------------------------------------------------------------------------

    def _journal(self, op: str, call_id: str, record: dict) -> None:
        if op == "begin":
            self.writer.begin_call(call_id, record)
        elif op == "update":
            self.writer.update_call(call_id, record)
        else:
            self.writer.finish_call(call_id, record)

    # --- API ops ------------------------------------------------------------------------------------

    def _audit(self, record: dict) -> None:
        log.info("api change by %s: %s %s", record["who"], record["op"], record["args"])
        self.writer.add_audit(record)

    def _register_ops(self) -> None:
        api = self.api
        api.op("status", lambda req: self.status())
        api.op("ops", lambda req: [{"op": name, "roles": [r for r in ROLES if r in op.roles], "audit": op.audit,
                                    **op.args.describe_args()} for name, op in sorted(api.ops.items())])
        api.op("ports", lambda req: self.engine.port_states())
        api.op("calls", lambda req: [c.record() for c in self.engine.calls.calls.values()])
        api.op("cdr.list", self._cdr_list, roles=INTEGRATOR, args=_cdr_args(50))
        api.op("cdr.page", self._cdr_page, roles=INTEGRATOR, args=_cdr_args(100))
        api.op("cdr.export_csv", self._cdr_export_csv, roles=INTEGRATOR,
               args=_cdr_args(CSV_PAGE_MAX, CSV_PAGE_MAX, newest_first=False))
        api.op("audit.list", self._audit_list, roles=ADMIN,
               args={"limit": Opt(Int(1, LIST_MAX), 100), "cursor": Opt(CURSOR)})
        api.op("call.dial", self._call_dial, roles=INTEGRATOR, audit=True,
               args={"extension": EXTENSION, "number": NUMBER})
        api.op("call.hangup", self._call_hangup, roles=INTEGRATOR, audit=True, args={"call": CALL})
        api.op("call.transfer", self._call_transfer, roles=INTEGRATOR, audit=True,
               args={"call": CALL, "extension": EXTENSION})
        api.op("spans", lambda req: self.spans())
        api.op("e1.set_cas", self._e1_set_cas, roles=ADMIN, audit=True, args={"port": PORT, "bits": Int(0, 15)})
        api.op("e1.send_hdlc", self._e1_send_hdlc, roles=ADMIN, audit=True,
               args={"span": Int(0, 255), "data": Bytes(4096, min_len=1)})
        api.op("e1.hdlc_received", self._e1_hdlc_received, roles=SUPERVISOR,
               args={"span": Int(0, 255), "limit": Opt(Int(1, 256), 256), "cursor": Opt(Int(0, 2**63))})
        api.op("e1.block", self._e1_block, roles=SUPERVISOR, audit=True, args={"port": PORT})
        api.op("e1.unblock", self._e1_unblock, roles=SUPERVISOR, audit=True, args={"port": PORT})
        config_editing.register(api, self)  # config.get, config.set (and extension names in ports)
        diagnostics.register(api, self)  # diag.ring, diag.tone, diag.watch
        supervisor.register(api, self)  # supervisor.listen/whisper/barge/stop/taps, call.conference
        flow_edit.register(api, self)  # ivr.flows, ivr.flow.get, ivr.flow.set
        pin_guard.register(api, self.engine.pins)  # pin.locks, pin.unlock

    def status(self) -> dict[str, Any]:
        e = self.engine
        return {
            "name": self.config.name, "version": VERSION, "board": self.board_up, "ticks": e.ticks,
            "utc_offset_min": self.config.utc_offset_min,
            "uptime": round(time.time() - self.started, 1), "active_calls": len(e.calls.calls),
            "cdrs": self.store.cdr_count(), "skipped_ticks": e.skipped_ticks,
            "tick_cost_max_ms": round(e.tick_cost_max * 1000, 3), "tick_cost": e.tick_stats.summary(),
            "scheduling": self.scheduling,
            "api": {"clients": len(self.api.clients), "refused": self.api.refused,
                    "waiting_bytes": self.api.waiting_bytes},
            "alarms": {str(s.span.id): sorted(s.span.alarms) for s in e.spans.values() if s.span.alarms},
            "circuit_alarms": dict(e.circuit_alarms),
            "store_alarms": {CDR_ALARM: self.writer.alarm} if self.writer.alarm else {},
            "cdrs_held": len(self.writer.held),
            "recorder_alarms": self.recording.recorder.alarms if self.recording else {},
            "cap_alarms": self.engine.calls.cos.alarms(),  # extensions at their daily cap of outside minutes
            "link": {"dropped_bytes": getattr(self.board, "dropped_bytes", 0),
                     "bad_frames": getattr(self.board, "bad_frames", 0)},
        }

    def spans(self) -> list[dict]:
        now = self.engine.now()
        out = []
        for s in self.engine.spans.values():
            row = {"id": s.span.id, "kind": s.span.kind.value,
                   "signalling": s.span.signalling.value if s.span.signalling else None,
                   "ports": len(s.span.ports), "alarms": sorted(s.span.alarms)}
            link = s.hdlc_link(now)
            if link is not None:
                row["hdlc"] = link
            out.append(row)
        return out

    async def _scan_page(self, db: Any, req: dict, reverse: bool, **page: Any) -> Page:
        """A page of a time-keyed table (``req``: since, until, limit, cursor), read on a worker thread once
        the writes before it are committed."""
        await self.writer.flushed()
        return await asyncio.to_thread(lambda: take_page(
            self.store.scan(db, req.get("since"), req.get("until"), reverse, req["cursor"]), req["limit"], **page))

    async def _cdr_list(self, req: dict) -> Page:
        return await self._scan_page(self.store.cdr, req, req["newest_first"])

    async def _cdr_page(self, req: dict) -> dict:
        page = await self._scan_page(self.store.cdr, req, req["newest_first"])
        return {"cdrs": page.items, "next": page.next}

    async def _cdr_export_csv(self, req: dict) -> dict:
        zone = self.config.utc_offset_min
        page = await self._scan_page(self.store.cdr, req, False,
                                     size_of=lambda row: len(cdrs_to_csv([row], header=False, utc_offset_min=zone)))
        text = await asyncio.to_thread(cdrs_to_csv, page.items, header=req["cursor"] is None, utc_offset_min=zone)
        return {"csv": text, "rows": len(page.items), "next": page.next}

    def _call_request(self, fn, *args) -> Any:
        try:
            return fn(*args)
        except LookupError as exc:
            raise ApiError(ErrorCode.NOT_FOUND, str(exc).strip("'")) from exc
        except PermissionError as exc:  # class of service: the message names the class and who pays
            raise ApiError(ErrorCode.FORBIDDEN, str(exc)) from exc
        except ValueError as exc:
            raise ApiError(ErrorCode.BAD_ARGUMENT, str(exc)) from exc

    def _call_dial(self, req: dict) -> dict:
        call = self._call_request(self.engine.calls.click_to_dial, req["extension"], req["number"],
                                  self._api_payer())
        return {"call": call.id}

    def _api_payer(self) -> Payer:
        """Who asks for an outside call through the API: the connection's token, where it has a class of
        service of its own, else its role."""
        token = CURRENT_TOKEN.get()
        label = next((label for tok, label, _ in self.config.api_token_cos if tok == token), None)
        return Payer("token", label) if label is not None else Payer("api", CURRENT_ROLE.get())

    def _call_hangup(self, req: dict) -> dict:
        call_id = req["call"]
        self._call_request(self.engine.calls.hangup, call_id)
        return {"call": call_id}

    def _call_transfer(self, req: dict) -> dict:
        call_id, extension = req["call"], req["extension"]
        self._call_request(self.engine.calls.transfer, call_id, extension)
        return {"call": call_id, "extension": extension}

    def _ivr_lookup_reply(self, req: dict) -> dict:
        request, data, error = req["request"], req["data"], req["error"]
        assert self.ivr is not None
        if not self.ivr.lookup_reply(request, data, error):
            raise ApiError(ErrorCode.NOT_FOUND, f"no lookup {request!r} is waiting (timed out, or the caller left)")
        return {"request": request}

    async def _audit_list(self, req: dict) -> Page:
        return await self._scan_page(self.store.audit, req, True)

    def _e1_set_cas(self, req: dict) -> dict:
        port, bits = req["port"], req["bits"]
        if port not in self.engine.ports:
            raise ApiError(ErrorCode.NOT_FOUND, f"no port {port} on the board")
        try:
            self.engine.set_cas(port, bits)
        except ValueError as exc:
            raise ApiError(ErrorCode.BAD_ARGUMENT, str(exc), argument="port") from exc
        return {"port": port, "bits": bits}

    def _e1_send_hdlc(self, req: dict) -> dict:
        span, data = req["span"], req["data"]
        if span not in self.engine.spans:
            raise ApiError(ErrorCode.NOT_FOUND, f"no span {span}")
        try:
            self.engine.send_hdlc(span, data)
        except ValueError as exc:
            raise ApiError(ErrorCode.BAD_ARGUMENT, str(exc), argument="span") from exc
        return {"span": span, "length": len(data)}

    def _no1_port(self, req: dict) -> str:
        port = req["port"]
        if self.config.trunk_by_port(port) is None:
            raise ApiError(ErrorCode.BAD_ARGUMENT, f"{port} is not a timeslot of a No.1 trunk", argument="port")
        return port

    def _e1_block(self, req: dict) -> dict:
        port = self._no1_port(req)
        if not self.engine.block(port):
            raise ApiError(ErrorCode.BAD_ARGUMENT, f"{port} is not idle: block it when its call has ended")
        return {"port": port, "blocked": True}

    def _e1_unblock(self, req: dict) -> dict:
        port = self._no1_port(req)
        self.engine.unblock(port)
        return {"port": port, "blocked": False}

    def _e1_hdlc_received(self, req: dict) -> Page:
        """The frames kept (the last 256), oldest first, a page at a time; a frame's cursor is its number
        since the start (``hdlc_rx_frames`` counts them), so a page follows on as new frames arrive."""
        srt = self.engine.spans.get(req["span"])
        if srt is None:
            raise ApiError(ErrorCode.NOT_FOUND, "no such span")
        frames = list(srt.hdlc_rx)
        first = srt.hdlc_rx_frames - len(frames)  # the number of frames[0]
        skip = 0 if req["cursor"] is None else max(0, req["cursor"] + 1 - first)
        return take_page(((first + i, f) for i, f in enumerate(frames[skip:], skip)), req["limit"])

    # --- life cycle ---------------------------------------------------------------------------------

    def status_line(self) -> str:
        e = self.engine
        alarms = ",".join(f"span{s.span.id}:{'+'.join(sorted(s.span.alarms))}" for s in e.spans.values()
                          if s.span.alarms)
        board = "board up" if self.board_up else "board DOWN"
        rec = ",".join(a.removeprefix("recorder.") for a in self.recording.recorder.alarms) if self.recording else ""
        held = len(self.writer.held)
        capped = ",".join(self.engine.calls.cos.alarms())
        return (f"{board}, {len(e.calls.calls)} calls, {self.store.cdr_count()} CDRs"
                + (f", {held} CDRs held (store refuses them)" if held else "")
                + (f", alarms {alarms}" if alarms else "") + (f", rec: {rec}" if rec else "")
                + (f", daily cap: {capped}" if capped else ""))

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT (exit 0) or until a long-lived task or thread fails: 2 for a config
        that does not fit the board, 1 for anything else (logged with its traceback)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.guard.stop)
        self.guard.watch_threads()
        self.writer.on_alarm = lambda raised, detail: loop.call_soon_threadsafe(self._store_alarm, raised, detail)
        if self.writer.alarm:  # CDRs a crash left in the journal
            self.api.publish_startup("alarm.raised", alarm=CDR_ALARM, detail=self.writer.alarm)
            self._store_alarm_at_startup = True
        crashed_at = self.store.last_alive
        for call_id, rec in self.store.interrupted(crashed_at, skip=self.writer.held_call_ids,
                                                   journalled=dict(self.writer.held_active)):
            log.warning("call %s was interrupted by a restart: CDR marked interrupted, billsec %.2f", call_id,
                        rec["billsec"])
            self.writer.finish_call(call_id, rec)
        cos = self.engine.calls.cos
        cos.restore(self.store.iter_cdrs(since=cos.day_start()))  # today's outside minutes count towards the caps
        self.recording = await Recording.open(self.config, self.engine, self.api, crashed_at=crashed_at)
        if self.config.ivr.flows or self.config.ivr.boxes or self.config.acd.queues:
            self.ivr = await loop.run_in_executor(None, lambda: IvrService(
                self.config, self.engine, env=self.store.env, has_integrator=lambda k: self.api.subscribers(k) > 0))
            self.api.op("ivr.lookup_reply", self._ivr_lookup_reply, roles=INTEGRATOR, args={
                "request": Str(64, min_len=1), "data": Opt(MapOf(Str(64), Scalar(1024), max_len=100)),
                "error": Opt(Str(256))})
            self.api.op("ivr.calls", lambda req: self.ivr.calls() if self.ivr else [])
        if self.config.acd.queues or self.config.acd.agents:
            self.acd = AcdService(self.config, self.engine, env=self.store.env,
                                  library=self.ivr.library if self.ivr else None, submit=self.writer.submit,
                                  publish_startup=self.api.publish_startup)
            acd_ops.register(self.api, self)
        await self.api.start()
        freeze_heap()  # start-up's objects: loaded config, prompts, tables
        self.scheduling = take_realtime(self.config.realtime_priority)
        self.guard.spawn(self._board_loop(), "board loop")
        self.guard.spawn(self._watchdog(), "watchdog")
        self.guard.spawn(self._alive(), "last-alive mark")
        await self.guard.stopped.wait()
        code = self.guard.exit_code
        sd_notify("STOPPING=1", f"STATUS=stopping after a failure (exit {code}): {self.guard.reason}" if code
                  else "STATUS=stopping")
        await self.guard.cancel_all()
        self._end_all_calls(Cause.NORMAL_UNSPECIFIED)
        if self.recording is not None:
            await self.recording.close()
        if self.ivr is not None:
            await loop.run_in_executor(None, self.ivr.close)
        if self.acd is not None:
            await loop.run_in_executor(None, self.acd.close)
        await self.api.stop()
        with contextlib.suppress(Exception):
            await self.board.close()
        self.writer.close()
        self.store.close()
        self.guard.unwatch_threads()
        return code

    def _end_all_calls(self, cause: Cause) -> None:
        for call in list(self.engine.calls.calls.values()):
            self.engine.calls._end(call, cause)

    async def _board_loop(self) -> None:
        delay = 0.2
        ready_sent = board_lost = False
        while True:
            try:
                await self.board.open()
            except (BoardError, OSError) as exc:
                sd_notify(f"STATUS=waiting for the board: {exc}")
                log.info("board not available (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.2
            self.engine.attach()  # a config that does not fit the board: ConfigError, the daemon stops (exit 2)
            self.engine.queue_commands(self.engine.reset_lines())
            if self.ivr is not None:
                self.ivr.refresh_message_waiting()
            self.board_up = True
            if board_lost:
                self.api.publish("alarm.cleared", span=0, alarm="BOARD_LOST")
                board_lost = False
            self.api.publish("board.up")
            if not ready_sent:
                sd_notify("READY=1", f"STATUS={self.status_line()}")
                ready_sent = True
            log.info("board open: %d spans, %d channels", len(self.board.spans), len(self.engine.by_channel))
            try:
                last_status = 0.0
                while True:
                    tick = await self.board.next_tick()
                    self.engine.on_tick(tick)
                    await asyncio.sleep(0)  # ticks already buffered must not starve the API and timers
                    if time.monotonic() - last_status > 2.0:
                        last_status = time.monotonic()
                        sd_notify(f"STATUS={self.status_line()}")
            except BoardError as exc:
                log.error("board lost: %s", exc)
                self.board_up = False
                board_lost = True
                self.api.publish("alarm.raised", span=0, alarm="BOARD_LOST")
                self._end_all_calls(Cause.NETWORK_OUT_OF_ORDER)
                with contextlib.suppress(Exception):
                    await self.board.close()

    def _store_alarm(self, raised: bool, detail: str) -> None:
        if raised:
            log.error("alarm %s: %s", CDR_ALARM, detail)
        else:
            log.warning("alarm %s cleared: every held CDR is stored", CDR_ALARM)
        # raised at start-up (kept for later subscribers): its clearing is kept too, or they would see it up
        publish = self.api.publish_startup if self._store_alarm_at_startup else self.api.publish
        self._store_alarm_at_startup = False
        publish("alarm.raised" if raised else "alarm.cleared", alarm=CDR_ALARM, detail=detail)
        sd_notify(f"STATUS={self.status_line()}")

    async def _alive(self) -> None:
        """Once a second: the last-alive mark, and held CDRs offered to the store again when due (both on
        the store writer's thread)."""
        while True:
            self.writer.mark_alive(time.time())
            self.writer.retry_due()
            await asyncio.sleep(ALIVE_S)

    async def _watchdog(self) -> None:
        interval = watchdog_interval()
        if interval is None:
            return
        while True:
            await asyncio.sleep(interval)
            # Healthy: the loop runs (we are here) and, with the board up, ticks are flowing.
            if not self.board_up or time.monotonic() - self.engine.last_tick_wall < 2.0:
                sd_notify("WATCHDOG=1")
