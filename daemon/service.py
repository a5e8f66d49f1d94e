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

from daemon.acd.host import AcdService
from daemon.api import acd_ops, call_ops, cdr_ops, e1_ops, status_ops
from daemon.api.limits import fit_to_descriptors
from daemon.api.server import ApiServer
from daemon.api.status_ops import CDR_ALARM, VERSION
from daemon.calls import pin_guard
from daemon.calls.call_log import CallLog
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
from daemon.store.database import Store, StoreWriter
from daemon.systemd import sd_notify, watchdog_interval
from daemon.task_guard import TaskGuard
from drivers import open_driver
from hal.board import BoardError
from hal.realtime import freeze_heap, keep_heap, take_realtime
from ivr.tts import prune_cache
from signaling.events import Cause

log = logging.getLogger(__name__)

ALIVE_S = 1.0  # the last-alive mark is rewritten (and held CDRs retried when due) this often
CACHE_PRUNE_S = 6 * 3600  # the TTS cache is pruned to [box] cache_max_mb at start and this often


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
        status_ops.register(api, self)  # status, ops, ports, calls, spans
        cdr_ops.register(api, self)  # cdr.list, cdr.page, cdr.export_csv, audit.list
        call_ops.register(api, self)  # call.dial, call.hangup, call.transfer
        e1_ops.register(api, self)  # e1.set_cas, e1.send_hdlc, e1.hdlc_received, e1.block, e1.unblock
        config_editing.register(api, self)  # config.get, config.set (and extension names in ports)
        diagnostics.register(api, self)  # diag.ring, diag.tone, diag.watch
        supervisor.register(api, self.features.supervisors)  # supervisor.listen/whisper/barge/stop/taps, call.conference
        flow_edit.register(api, self)  # ivr.flows, ivr.flow.get, ivr.flow.set
        pin_guard.register(api, self.engine.pins)  # pin.locks, pin.unlock

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
            call_ops.register_ivr(self.api, self)  # ivr.lookup_reply, ivr.calls
        if self.config.acd.queues or self.config.acd.agents:
            self.acd = AcdService(self.config, self.engine, env=self.store.env,
                                  library=self.ivr.library if self.ivr else None, submit=self.writer.submit,
                                  publish_startup=self.api.publish_startup)
            acd_ops.register(self.api, self)
        await self.api.start()
        freeze_heap()  # start-up's objects: loaded config, prompts, tables
        keep_heap()  # the tick's temporaries reuse mapped pages, no page faults per tick
        self.scheduling = take_realtime(self.config.realtime_priority)
        self.guard.spawn(self._board_loop(), "board loop")
        self.guard.spawn(self._watchdog(), "watchdog")
        self.guard.spawn(self._alive(), "last-alive mark")
        self.guard.spawn(self._prune_cache(), "cache pruning")
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
            self.engine.calls.end(call, cause)

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

    async def _prune_cache(self) -> None:
        """Keep the synthesised prompts under ``[box] cache_max_mb`` (an integrator's answers are new texts
        every call: unpruned, they would fill the disk the CDRs live on), the least recently spoken first,
        on a worker thread. A cache it cannot prune is a warning, never the daemon's end."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                removed = await loop.run_in_executor(None, prune_cache, self.config.tts_dir,
                                                     self.config.cache_max_mb << 20)
            except OSError as exc:
                log.warning("TTS cache %s not pruned: %s", self.config.tts_dir, exc)
            else:
                if removed:
                    log.info("TTS cache %s: %d least recently spoken prompts removed (cache_max_mb %d)",
                             self.config.tts_dir, removed, self.config.cache_max_mb)
            await asyncio.sleep(CACHE_PRUNE_S)

    async def _watchdog(self) -> None:
        interval = watchdog_interval()
        if interval is None:
            return
        while True:
            await asyncio.sleep(interval)
            # Healthy: the loop runs (we are here) and, with the board up, ticks are flowing.
            if not self.board_up or time.monotonic() - self.engine.last_tick_wall < 2.0:
                sd_notify("WATCHDOG=1")
