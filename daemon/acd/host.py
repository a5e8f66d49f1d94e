"""The daemon's side of the ACD: queues, agents and customers (``daemon.acd``) on real calls.

``AcdService`` is the ACD engine's ``Host`` over call control (``daemon.calls.control``) and the ports
(``daemon.runtime.engine``): it answers a caller who joins a queue and plays music on hold with position and
wait announcements (``daemon.acd.queue_audio``), rings agents' extensions with the caller's number and
customer name, bridges the agent who answers (after "工号1023为您服务" when the queue says so),
offers callbacks and dials them back, and sends overflowing calls to voicemail, an extension or a
hang-up. Call control tells it what happens to the calls it holds (answers and failures of the rings
it started, digits, the end of every call, phones in use for other calls); agents log in, out, pause
and resume from any extension with feature codes (``*21`` agent ``#`` PIN ``#``, ``*22``,
``*23`` reason ``#``, ``*24``) or through the API. One engine timer runs at the ACD's
``next_wakeup``; the ACD's clock is the frame clock mapped to the epoch, so a virtual clock runs
it fast too. docs/acd.md describes the ACD; this module follows its "what the daemon must call".
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from daemon.acd.agent_store import AgentStore
from daemon.acd.agents import AgentError, WrongPin
from daemon.acd.callbacks import CallbackStore
from daemon.acd.config import Overflow
from daemon.acd.customers import Customers
from daemon.acd.engine import Engine as AcdEngine
from daemon.acd.queue_audio import QueuePlayer, default_music
from daemon.acd.stats import IntervalStore
from daemon.calls.feature_codes import FeatureCode
from daemon.calls.hooks import CallListener, Priority
from daemon.calls.model import Call, Leg, LegState
from daemon.calls.pin_guard import PinLocked, Refusal
from daemon.calls.timers import Timer
from daemon.config.model import Config
from daemon.runtime.engine import Engine
from hal.dsp.callerid import CallerId
from hal.dsp.tones import ToneName
from ivr import say
from ivr.audio import AudioLibrary
from ivr.events import TtsText
from ivr.prompts import Prompts
from ivr.tts import Tts
from signaling.events import Cause

log = logging.getLogger(__name__)

# what an announcement that has finished playing is for
ANNOUNCE, AGENT_ID, CALLBACK_OFFER, GOODBYE, REPLY = 1, 2, 3, 4, 5

CALLBACK_OFFER_TEXT = "如需我们给您回电，请按1；继续等待，请按2"
CALLBACK_TAKEN_TEXT = "好的，我们将尽快给您回电，再见"
REFUSED_TEXT = "操作失败"
LOCKED_TEXT = "密码错误次数过多，已锁定，请联系主管"  # too many wrong PINs: locked, call your supervisor
WAIT_TEXT = "操作过于频繁，请稍后再试"  # too soon after a wrong PIN: try again later


def _inline(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


class AcdService(CallListener):
    """The ACD on the box's calls: ``daemon.acd.engine.Host``, call control's queues and a listener of its
    calls (``daemon.calls.hooks``, at ``Priority.ACD``)."""

    def __init__(self, config: Config, engine: Engine, *, env: Any = None, library: AudioLibrary | None = None,
                 submit: Callable[..., Any] = _inline, epoch: float | None = None,
                 publish_startup: Callable[..., None] | None = None) -> None:
        self.config, self.engine = config, engine
        # agents and callbacks restored from the store are announced before any client can connect:
        # the API keeps such start-up events for later subscribers
        self._startup_publish = publish_startup
        self.calls = engine.calls
        state = Path(config.state_dir)
        self.library = library or AudioLibrary(Tts(config.tts_dir), Prompts(state / "prompts"))
        self._epoch = epoch  # the ACD's time now (None: the wall clock), tied to the frame clock below
        self._epoch0: float | None = None
        self.music: dict[str, np.ndarray] = {"": default_music()}
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="acd-music")
        self.preloaded: list[Future[Any]] = []
        self._load_music(config)
        self.acd = AcdEngine(
            config.acd, self,
            customers=Customers(env) if env is not None else None,
            intervals=IntervalStore(env) if env is not None else None,
            callbacks=CallbackStore(env) if env is not None else None,
            agent_store=AgentStore(env) if env is not None else None,
            submit=submit, publish=self._publish, now=self.now())
        self._startup_publish = None
        self.ringing: dict[str, str] = {}  # extension port → the ACD call it rings for
        self.players: dict[str, QueuePlayer] = {}  # call id → what its caller (or feature-code user) hears
        self.callback_offered: set[str] = set()
        self.detached: set[str] = set()  # became callbacks: their caller's leg ends without an ACD hang-up
        self.left: set[str] = set()  # overflowed out of the ACD, or handed on by its agent
        self.handed_on: set[str] = set()  # transferred by their agent: another agent may take them over
        self.customers: dict[str, dict | None] = {}  # call id → the customer record its screen pop showed
        self.dial_backs: dict[str, str] = {}  # the dial-back call's id → the ACD call (callback) it serves
        self.joined: dict[str, float] = {}  # call id → when it first joined a queue (ACD clock)
        self.replying: dict[str, Call] = {}  # extensions hearing a feature code's reply (no CDR, not in calls)
        self._timer: Timer | None = None
        engine.calls.serve_queues(self)
        engine.calls.add_listener(self, Priority.ACD)
        for code in (FeatureCode("*21", "agent.login", self._fc_login, 2),
                     FeatureCode("*22", "agent.logout", self._fc_logout),
                     FeatureCode("*23", "agent.pause", self._fc_pause, 1),
                     FeatureCode("*24", "agent.resume", self._fc_resume)):
            engine.calls.features.add(code)
        engine.after_tick.append(self._after_tick)
        self._rearm()

    def _load_music(self, config: Config) -> None:
        """Load each queue's hold music not loaded yet, off the loop (the box's own plays meanwhile)."""
        for q in config.acd.queues:
            if q.music and q.music not in self.music:
                self.music[q.music] = self.music[""]
                fut = self._loader.submit(self.library.prompts.load, q.music)
                fut.add_done_callback(lambda f, path=q.music: self._music_loaded(path, f))
                self.preloaded.append(fut)

    def reconfigure(self, config: Config) -> list[str]:
        """A configuration saved through the API (``config.set``): the ACD takes it live. Returns the
        ``[acd]`` settings that wait for a restart."""
        self.config = config
        self._load_music(config)
        return self.feed(self.acd.reconfigure, config.acd) or []

    def _music_loaded(self, path: str, fut: Future[Any]) -> None:
        if fut.exception() is not None:
            log.warning("queue music %s cannot be loaded (%s): the box's own music plays instead", path,
                        fut.exception())
        else:
            self.music[path] = fut.result().samples

    def close(self) -> None:
        self._loader.shutdown(wait=True)

    # --- the ACD's clock and inputs -----------------------------------------------------------------

    def epoch0(self) -> float:
        """The epoch time of frame-clock zero: the frame clock is the board's tick count, which does not
        start at 0 when the daemon restarts on a running board, and reads 0 until the first tick. So the
        tie is made at the first tick (until then, provisionally from the current reading)."""
        if self._epoch0 is not None:
            return self._epoch0
        e0 = (time.time() if self._epoch is None else self._epoch) - self.engine.now()
        if self.engine.clock.tick >= 0:
            self._epoch0 = e0
        return e0

    def now(self) -> float:
        return self.epoch0() + self.engine.now()

    def feed(self, fn: Callable[..., Any], *args: Any) -> Any:
        """One input to the ACD engine (``fn`` of ``self.acd``, ``now`` added), then its timer re-armed."""
        result = fn(*args, self.now())
        self._rearm()
        return result

    def _rearm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        at = max(self.acd.next_wakeup() - self.epoch0(), self.engine.now())
        self._timer = self.engine.timers.call_at(at, lambda: self.feed(self.acd.tick))

    def _publish(self, kind: str, **data: Any) -> None:
        if kind == "call.offered":  # the ACD's screen pop is the box's call.ringing, with all it knows
            self.customers[data["call"]] = data["customer"]  # rings after a transfer show it too
            call = self.calls.calls.get(data["call"])
            ext = self.config.extension_by_number(data["extension"])
            self.engine.publish("call.ringing", call=data["call"], port=ext.port if ext else None,
                                extension=data["extension"], caller=data["caller"], agent=data["agent"],
                                queue=data["queue"], customer=data["customer"], wait_s=data["wait_s"],
                                callback=data["callback"], rules=data["rules"], decided_by=data.get("decided_by"),
                                **({"bell": True} if data.get("bell") else {}),
                                ivr=(call.ivr or {}) if call is not None else {},
                                **(call.dnis_fields() if call is not None else {}))
            return
        (self._startup_publish or self.engine.publish)(kind, **data)

    # --- from call control ----------------------------------------------------------------------------

    def has_queue(self, name: str) -> bool:
        return name in self.acd.queues

    def enqueue(self, call: Call, queue: str) -> bool:
        """An inbound call for ``queue`` (a line's destination, an IVR transfer): the caller's leg is
        answered and joins the queue. False: no such queue."""
        if queue not in self.acd.queues:
            return False
        call.queue = queue
        self.left.discard(call.id)  # handed back to the IVR, queued again: its end is the ACD's again
        self.handed_on.discard(call.id)
        self.calls.answer_inbound(call, queue=queue)
        self.joined[call.id] = self.now()  # waits are measured on the ACD's clock (virtual in tests)
        self.engine.media.detect(self.engine.channel(call.a.port), "dtmf", True)  # callback keys
        if not self.feed(self.acd.call_arrived, call.id, queue, call.caller):
            call.queue = None
            return False
        return True

    def answered(self, port: str) -> bool:
        """An extension went off-hook: True if it was ringing for the ACD (handled here)."""
        call_id = self.ringing.get(port)
        if call_id is None:
            return False
        ext = self.config.extension_by_port(port)
        assert ext is not None
        if not self.feed(self.acd.answered, call_id, ext.number):
            self.ringing.pop(port, None)  # a late answer after the ring was stopped
            self.engine.release(port, Cause.NORMAL_CLEARING)
        return True

    def released(self, port: str) -> bool:
        """A port released: True if it was an ACD ring that failed (handled here)."""
        call_id = self.ringing.pop(port, None)
        if call_id is None:
            return False
        ext = self.config.extension_by_port(port)
        assert ext is not None
        self.feed(self.acd.ring_failed, call_id, ext.number)
        return True

    def digit(self, call: Call, port: str, digit: str) -> bool:
        """A key from a caller waiting in a queue: True if it was for the ACD (callback offer)."""
        if call.id not in self.players or port != call.a.port or call.b is not None:
            return False
        if call.id in self.callback_offered:
            if digit == "1":
                self.callback_offered.discard(call.id)
                if self.feed(self.acd.callback_accepted, call.id, None):
                    self.detached.add(call.id)
                    self.players[call.id].say(GOODBYE, [TtsText(CALLBACK_TAKEN_TEXT)], music_after=False)
            elif digit == "2":
                self.callback_offered.discard(call.id)
        return True

    def ending(self, call: Call) -> None:
        """Every call's end (before its CDR is made: the wait goes in it): ACD calls leave the ACD, a
        dial-back frees its agent."""
        if call.queue is not None and call.wait_s is None:
            call.wait_s = self._waited(call.id)
        self.joined.pop(call.id, None)
        self.customers.pop(call.id, None)
        self._drop_player(call)
        self.callback_offered.discard(call.id)
        acd_call = self.dial_backs.pop(call.id, None)
        if acd_call is not None:  # a dial-back: the customer not reached is tried again later
            self.feed(self.acd.hangup if call.answer is not None else self.acd.dial_back_failed, acd_call)
        elif call.id in self.detached or call.id in self.left:
            self.detached.discard(call.id)
            self.left.discard(call.id)
            self.handed_on.discard(call.id)
        elif call.queue is not None:
            self.feed(self.acd.hangup, call.id)

    def agent_left(self, call: Call) -> None:
        """The agent handed the call on (transfer): their conversation ends for the ACD (wrap-up); the
        call's own end later is not the ACD's any more."""
        if call.id in self.acd.talking and call.id not in self.left:
            self.left.add(call.id)
            self.handed_on.add(call.id)
            self._drop_player(call)  # handed on during "工号…为您服务": that agent will not be bridged
            self.feed(self.acd.hangup, call.id)

    def caller_data(self, call: Call) -> dict[str, Any]:
        """The queue's part of every ring of a queued call: its queue and the customer record the first
        screen pop showed (None: a first-time caller); nothing for a call that never queued."""
        return {"queue": call.queue, "customer": self.customers.get(call.id)} if call.queue is not None else {}

    def transfer_taken(self, call: Call, port: str) -> None:
        """A call its agent handed on was answered at ``port``: an agent logged in there takes it over
        (busy now, wrap-up when it ends); its end is then the ACD's again."""
        ext = self.config.extension_by_port(port)
        if ext is not None and call.id in self.handed_on and call.queue is not None \
                and self.feed(self.acd.transfer_answered, call.id, call.queue, ext.number):
            self.left.discard(call.id)
            self.handed_on.discard(call.id)

    def phone_in_use(self, port: str, in_use: bool) -> None:
        """An extension's phone is taken by (or freed from) a call that is not the ACD's."""
        ext = self.config.extension_by_port(port)
        if ext is not None and self.acd.agent_at(ext.number) is not None:
            self.feed(self.acd.extension_in_use, ext.number, in_use)

    def agent_logged_in_at(self, extension: str) -> str | None:
        """The ID of the agent logged in at ``extension`` (None: nobody)."""
        agent = self.acd.agent_at(extension)
        return agent.id if agent is not None else None

    def login(self, agent_id: str, pin: str, extension: str, source: str, via: str) -> None:
        """An agent's login (``*21`` or the API) through the box's PIN guard (``daemon.calls.pin_guard``):
        ``source`` is where the tries come from (``port:2/3``, ``api:uid 1000``). Raises ``PinLocked``
        while the agent or the source is held back after wrong PINs, ``AgentError`` (``WrongPin``,
        ``NoSuchExtension``, ...) if the ACD refuses."""
        def right() -> bool:
            try:
                self.feed(self.acd.login, agent_id, pin, extension)
            except WrongPin:
                return False
            return True
        result = self.engine.pins.check(f"agent:{agent_id}", source, right, via)
        if isinstance(result, Refusal):
            raise PinLocked(result)
        if not result:
            raise WrongPin(f"agent {agent_id}: wrong PIN")

    def agent_extension(self, agent_id: str) -> str | None:
        """The extension the agent is logged in at (None: logged out or unknown)."""
        if self.config.acd.agent(agent_id) is None:
            return None
        return self.acd.agents.get(agent_id).extension

    # --- Host -----------------------------------------------------------------------------------------

    def extension_exists(self, extension: str) -> bool:
        return self.config.extension_by_number(extension) is not None

    def ring(self, extension: str, call: str, caller: str | None, name: str | None) -> None:
        ext = self.config.extension_by_number(extension)
        if (ext is None or ext.port in self.calls.by_port or ext.port in self.ringing
                or not self.engine.is_free(ext.port)):
            # queued by the engine until this input ends; a phone off the hook (the agent just logged in
            # from it, or hears busy tone) is in use first, so the call is not offered there again at once
            if ext is not None and ext.port not in self.ringing:
                self.acd.extension_in_use(extension, True, self.now())  # until the port is idle again
            self.acd.ring_failed(call, extension, self.now())
            return
        self.ringing[ext.port] = call
        self.engine.ring(ext.port, CallerId(number=caller, name=name))

    def stop_ring(self, extension: str, call: str) -> None:
        ext = self.config.extension_by_number(extension)
        if ext is not None and self.ringing.get(ext.port) == call:
            del self.ringing[ext.port]
            self.engine.release(ext.port, Cause.NORMAL_CLEARING)

    def connect(self, call: str, extension: str, agent_id: str | None) -> None:
        ext = self.config.extension_by_number(extension)
        assert ext is not None
        self.ringing.pop(ext.port, None)
        c = self.calls.calls.get(call)
        if c is None:
            self.engine.release(ext.port, Cause.NORMAL_CLEARING)
            return
        c.b = Leg(ext.port, "extension", extension, LegState.ANSWERED)
        self.calls.bind(c, ext.port)
        c.agent = agent_id or (a.id if (a := self.acd.agent_at(extension)) else None)
        c.wait_s = self._waited(call)
        player = self.players.get(call)
        if agent_id and player is not None:
            player.say(AGENT_ID, [TtsText(f"工号{say.digits(agent_id).text}为您服务")], music_after=False)
        else:
            self._bridge(c)

    def dial_back(self, call: str, extension: str, number: str) -> None:
        ext = self.config.extension_by_number(extension)
        assert ext is not None
        self.ringing.pop(ext.port, None)
        agent = self.acd.agent_at(extension)
        internal = self.config.extension_by_number(number) is not None
        c = Call(self.calls.new_id(), "internal" if internal else "outbound",
                 Leg(ext.port, "extension", extension, LegState.OFFERED), caller=extension, called=number,
                 caller_name=ext.name or None)
        talk = self.acd.talking.get(call)
        c.queue = talk.queue if talk is not None else None
        c.agent = agent.id if agent else None
        self.dial_backs[c.id] = call
        self.calls.bind(c, ext.port)
        self.calls.begin(c)
        self.engine.publish("callback.dialling", call=c.id, callback=call, extension=extension, number=number)
        if internal:
            self.calls.offer_extension(c, number)
        else:
            self.calls.dial_out(c, number)

    def play_music(self, call: str, file: str) -> None:
        c = self.calls.calls.get(call)
        if c is None:
            return
        player = QueuePlayer(self.library, self.music.get(file, self.music[""]))
        self.players[call] = player
        self.engine.media.prompts[self.engine.channel(c.a.port)] = player

    def announce(self, call: str, position: int | None, ewt_s: int | None) -> None:
        player = self.players.get(call)
        if player is None:
            return
        words = []
        if position is not None:
            words.append(f"您现在排在第{say.number(position).text}位")
        if ewt_s is not None:
            words.append(f"预计等待约{say.count(max(1, math.ceil(ewt_s / 60))).text}分钟")
        if words:
            player.say(ANNOUNCE, [TtsText("，".join(words))])

    def offer_callback(self, call: str) -> None:
        player = self.players.get(call)
        if player is not None:
            self.callback_offered.add(call)
            player.say(CALLBACK_OFFER, [TtsText(CALLBACK_OFFER_TEXT)])

    def overflow(self, call: str, to: Overflow) -> None:
        c = self.calls.calls.get(call)
        if c is None:
            return
        self.left.add(call)
        self._drop_player(c)
        self._overflow(c, to)

    def _overflow(self, c: Call, to: Overflow) -> None:
        if c.end is not None:
            return
        c.wait_s = self._waited(c.id)
        reason: str | None = f"overflow to {to}"
        if to.kind == "voicemail" and self.calls.flows is not None:
            reason = self.calls.flows.deposit_voicemail(c, to.target or f"queue:{c.queue}")
        elif to.kind == "extension":
            reason = self.calls.ivr_transfer(c, "extension", to.target,
                                             lambda why: self.calls.hangup(c.id, Cause.NO_ANSWER))
        if reason is not None:
            if to.kind != "hangup":
                log.warning("call %s: %s failed (%s): released", c.id, to, reason)
            self.calls.hangup(c.id, Cause.NORMAL_CLEARING)

    # --- agents at the phone: feature codes --------------------------------------------------------------

    def _fc_login(self, call: Call, fields: list[str]) -> None:
        agent, pin = fields
        self._agent_request(call, lambda ext: self.login(agent, pin, ext, f"port:{call.a.port}", "phone"),
                            f"工号{say.digits(agent).text}已登录")

    def _fc_logout(self, call: Call, _fields: list[str]) -> None:
        self._agent_request(call, lambda ext: self.acd.logout(self._agent_here(ext), self.now()), "已退出")

    def _fc_pause(self, call: Call, fields: list[str]) -> None:
        reason = fields[0] or "0"
        self._agent_request(call, lambda ext: self.acd.pause(self._agent_here(ext), reason, self.now()), "已暂停")

    def _fc_resume(self, call: Call, _fields: list[str]) -> None:
        self._agent_request(call, lambda ext: self.acd.resume(self._agent_here(ext), self.now()), "已恢复")

    def _agent_here(self, extension: str) -> str:
        agent = self.acd.agent_at(extension)
        if agent is None:
            raise AgentError(f"no agent is logged in at extension {extension}")
        return agent.id

    def _agent_request(self, call: Call, fn: Callable[[str], None], ok_text: str) -> None:
        ext = self.config.extension_by_port(call.a.port)
        assert ext is not None
        call.a.state = LegState.FEATURE  # no more digits: the reply plays, then busy tone
        try:
            fn(ext.number)
            text = ok_text
        except (AgentError, PinLocked) as exc:
            log.info("extension %s: %s refused: %s", ext.number, call.called, exc)
            text = REFUSED_TEXT
            if isinstance(exc, PinLocked):
                text = LOCKED_TEXT if exc.refusal.locked else WAIT_TEXT
        self._rearm()
        player = QueuePlayer(self.library, np.zeros(0, np.uint8))
        self.players[call.id] = player
        self.replying[call.id] = call
        self.engine.media.prompts[self.engine.channel(call.a.port)] = player
        player.say(REPLY, [TtsText(text)], music_after=False)

    # --- after every tick: announcements that have finished ------------------------------------------

    def _after_tick(self, rx: np.ndarray, tx: np.ndarray) -> None:
        for call_id, player in list(self.players.items()):
            c = self.calls.calls.get(call_id) or self.replying.get(call_id)
            if c is None or c.end is not None or c.a.state is LegState.RELEASED:  # hung up meanwhile
                if c is not None:
                    self._drop_player(c)
                self.players.pop(call_id, None)
                continue
            while player.finished:
                what = player.finished.pop(0)
                if what == AGENT_ID and c.b is not None and c.b.state is LegState.ANSWERED:
                    self._bridge(c)
                elif what == GOODBYE:
                    self.calls.hangup(c.id, Cause.NORMAL_CLEARING)
                elif what == REPLY:
                    self.replying.pop(call_id, None)
                    self._drop_player(c)
                    self.calls.fail(c, Cause.NORMAL_CLEARING, ToneName.BUSY, record=False)

    def _bridge(self, c: Call) -> None:
        assert c.b is not None
        self._drop_player(c)
        self.engine.connect(c.a.port, c.b.port)
        self.calls.notify_bridged(c)
        self.engine.publish("call.answered", call=c.id, port=c.b.port, extension=c.b.label, queue=c.queue,
                            agent=c.agent)
        self.calls.journal("update", c)

    # --- helpers ------------------------------------------------------------------------------------

    def _waited(self, call_id: str) -> float | None:
        joined = self.joined.get(call_id)
        return round(self.now() - joined, 3) if joined is not None else None

    def _drop_player(self, c: Call) -> None:
        self.replying.pop(c.id, None)
        player = self.players.pop(c.id, None)
        ch = self.engine.channel(c.a.port)
        if player is not None and self.engine.media.prompts.get(ch) is player:
            del self.engine.media.prompts[ch]
