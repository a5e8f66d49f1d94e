"""The whole box in one process on a virtual clock: the simulated world as the board, the daemon's
engine (signalling, media, call control) driven tick by tick. Fast call-flow tests use it; the
end-to-end tests run the same parts as separate processes in real time.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

import lmdb
import numpy as np

from daemon.acd.host import AcdService
from daemon.config.model import load_config
from daemon.flows.ivr_calls import IvrService
from daemon.runtime.engine import Engine
from hal.board import Tick
from hal.events import Command
from sim.config import load_config as load_sim_config
from sim.world import SimWorld
from tests.support.processes import default_config_text

# where a Box keeps its files: pytest's base temporary directory when the suite runs (tests/conftest.py
# sets it; pytest keeps the last three runs' and removes older ones), else the system's
TMP_ROOT: Path | None = None


class WorldBoard:
    """``hal.board.Board`` over an in-process ``SimWorld`` (the engine's side of the link)."""

    name = "sim-inprocess"

    def __init__(self, world: SimWorld) -> None:
        self.world = world
        self.spans = world.spans
        # the media layer refills one tx array every tick and the world keeps a reference to it, so what
        # it plays at tick n + tx_buffer_frames is the newest frame, tick n + tx_buffer_frames - 1's: one
        # frame less latency than the board link (whose bytes are a copy) gives
        self.tx_delay_frames = max(1, world.tx_buffer_frames - 1)

    def send(self, tick: int, tx: np.ndarray, commands: list[Command]) -> None:
        self.world.apply_tx(tick, tx, list(commands))


class Box:
    """Engine + world, stepped together: ``run(seconds)`` advances both by 20 ms ticks."""

    def __init__(self, config: Path | None = None, world: SimWorld | None = None, *, ivr: bool = False,
                 acd: bool = False, wall: Callable[[], dt.datetime] | None = None, epoch: float | None = None) -> None:
        self.world = world or SimWorld(load_sim_config())
        self.tmp = Path(tempfile.mkdtemp(prefix="callbox-box-", dir=TMP_ROOT))
        if config is None:
            config = self.tmp / "callbox.toml"
            text = default_config_text(ivr_lines=ivr).replace('state_dir = "/var/lib/callbox"',
                                                               f'state_dir = "{self.tmp / "state"}"')
            config.write_text(text, encoding="utf-8")
        self.config = load_config(config)
        self.journal: list[tuple[str, str, dict]] = []
        self.events: list[tuple[str, dict]] = []
        self.engine = Engine(self.config, WorldBoard(self.world), lambda op, cid, rec: self.journal.append(
            (op, cid, rec)), lambda kind, **data: self.events.append((kind, data)))
        self.engine.attach()
        self.engine.queue_commands(self.engine.reset_lines())
        # as the sim's board link does on OPEN, the first tick reports every line's state (E1 CAS bits too)
        self._resync = self.world.resync_events()
        self.integrator = False  # whether an "integrator" is there to answer IVR lookups (see self.events)
        self.ivr: IvrService | None = None
        self.acd: AcdService | None = None
        if ivr or acd:
            self.ivr = IvrService(self.config, self.engine, has_integrator=lambda kind: self.integrator,
                                  wall=wall or (lambda: dt.datetime.now(dt.UTC)))
            for fut in self.ivr.preloaded:  # real TTS: wait until the flow's prompts exist
                fut.result(timeout=120)
            # the store work the IVR hands its file thread, remembered so that a tick waits only when
            # there is some (a round trip to the thread on every tick costs more than the tick)
            self._file_work: list[Future] = []
            submit = self.ivr.files.submit

            def tracked(*args, **kwargs) -> Future:
                fut = submit(*args, **kwargs)
                self._file_work.append(fut)
                return fut

            self.ivr.files.submit = tracked
        if acd:
            self.env = lmdb.open(str(self.tmp / "acd.lmdb"), max_dbs=8, map_size=64 << 20)
            self.acd = AcdService(self.config, self.engine, env=self.env, library=self.ivr.library, epoch=epoch)
            for fut in self.acd.preloaded:
                fut.exception(timeout=60)

    def _settle(self) -> None:
        """On a virtual clock the IVR's worker threads (TTS, prompt files, voicemail store) must look
        instantaneous: wait, in real time, for what the next tick would otherwise play as silence."""
        if self.ivr is None:
            return
        for player in list(self.acd.players.values()) if self.acd else []:
            for fut in list(player.speech._queue)[:1]:
                fut.exception(timeout=60)
        for leg in list(self.ivr.legs.values()):
            for fut in list(getattr(leg.playback, "_queue", []))[:1]:
                fut.exception(timeout=60)
        while self._file_work:  # store work queued so far is done
            self._file_work.pop(0).exception(timeout=60)

    def run(self, seconds: float) -> None:
        for _ in range(round(seconds * 50)):
            self._settle()
            rx, events = self.world.step()
            events, self._resync = self._resync + events, []
            self.engine.on_tick(Tick(self.world.tick, rx, events))

    def run_until(self, pred, seconds: float, what: str) -> None:
        for _ in range(round(seconds * 50)):
            if pred():
                return
            self.run(0.02)
        raise AssertionError(f"timed out after {seconds} s (virtual) waiting for {what}")

    def cdrs(self) -> list[dict]:
        return [rec for op, _, rec in self.journal if op == "finish"]

    def heard(self, ext: str, since: int) -> bytes:
        """A-law bytes phone ``ext`` heard since tick ``since``."""
        return self.world.phone(ext).recorder.heard(since)[0]
