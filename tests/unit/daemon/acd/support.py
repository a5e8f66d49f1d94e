"""A host for the ACD engine in tests: it records what the engine asked of call control, and a
virtual clock that ticks the engine exactly at the times it asks for (``next_wakeup``)."""

from __future__ import annotations

from daemon.acd.config import AcdConfig, Overflow, parse_acd_text
from daemon.acd.engine import Engine

T0 = 1_763_856_000.0  # 2025-11-23 00:00 UTC = 08:00 in China; on a 15-minute boundary


class RecordingHost:
    def __init__(self, t: float = T0) -> None:
        self.t = t
        self.log: list[tuple] = []
        self.shown: list[tuple[str, str | None, str | None]] = []  # what each ringing phone displayed
        self.missing: set[str] = set()  # extension numbers not configured (every other one is)

    def now(self) -> float:
        return self.t

    def extension_exists(self, extension: str) -> bool:
        return extension not in self.missing

    def ring(self, extension: str, call: str, caller: str | None, name: str | None) -> None:
        self.log.append(("ring", self.t, extension, call))
        self.shown.append((extension, caller, name))

    def stop_ring(self, extension: str, call: str) -> None:
        self.log.append(("stop_ring", self.t, extension, call))

    def connect(self, call: str, extension: str, agent_id: str | None) -> None:
        self.log.append(("connect", self.t, call, extension, agent_id))

    def dial_back(self, call: str, extension: str, number: str) -> None:
        self.log.append(("dial_back", self.t, call, extension, number))

    def play_music(self, call: str, file: str) -> None:
        self.log.append(("music", self.t, call, file))

    def announce(self, call: str, position: int | None, ewt_s: int | None) -> None:
        self.log.append(("announce", self.t, call, position, ewt_s))

    def offer_callback(self, call: str) -> None:
        self.log.append(("offer_callback", self.t, call))

    def overflow(self, call: str, to: Overflow) -> None:
        self.log.append(("overflow", self.t, call, str(to)))

    def of(self, kind: str) -> list[tuple]:
        return [e for e in self.log if e[0] == kind]


class Rig:
    """Engine + recording host + virtual clock; times in tests are seconds after ``T0``."""

    def __init__(self, config: str | AcdConfig, missing: tuple[str, ...] = (), **kw) -> None:
        """``missing``: extension numbers the host says are not configured (already at start)."""
        self.config = parse_acd_text(config) if isinstance(config, str) else config
        self.host = RecordingHost()
        self.host.missing.update(missing)
        self.events: list[tuple[str, dict]] = []
        self.engine = Engine(self.config, self.host, publish=lambda kind, **d: self.events.append((kind, d)), **kw)

    @property
    def now(self) -> float:
        return self.host.t - T0

    def at(self, t: float) -> float:
        """Advance the clock to T0 + t, ticking the engine at every wake-up it asked for on the way."""
        target = T0 + t
        assert target >= self.host.t, "time runs forwards"
        for _ in range(100_000):
            wake = self.engine.next_wakeup()
            if wake > target:
                break
            self.host.t = max(wake, self.host.t)
            self.engine.tick(self.host.t)
        else:
            raise AssertionError("the engine keeps asking to be woken at the same time")
        self.host.t = target
        return target

    def agent_on_a_call(self) -> None:
        """Agent 1001 logs in at 8001 at 0 s and is talking on call "busy" (queue sales) from 2 s."""
        self.engine.login("1001", "", "8001", self.at(0))
        self.engine.call_arrived("busy", "sales", "13700000000", self.at(1))
        self.engine.answered("busy", "8001", self.at(2))

    def rings(self) -> list[tuple[float, str, str]]:
        return [(t - T0, ext, call) for _, t, ext, call in self.host.of("ring")]

    def kinds(self, kind: str) -> list[dict]:
        return [d for k, d in self.events if k == kind]
