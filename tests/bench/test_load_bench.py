"""Load benchmark: the daemon and the simulator as processes, every channel of the box busy for a while.

Half the channels are E1 timeslots (China No.1, the box's own No.1 stack as the exchange on each
span's peer socket), half are agents' phones: each exchange call is hunted to a phone that answers,
both ends send a tone, and the calls stay up (recorded, as the default config records every call)
for ``CALLBOX_LOAD_SECONDS`` (default 5, a smoke run; the reported figures are from 600). It reports the daemon's
tick cost percentiles (p50, p99, p99.9, worst), the board's late and missing frames (what a caller
would hear as lost audio), skipped ticks, and the machine's load average beside them; it asserts
only that the calls were made and carried their audio (a benchmark, not a timed test).

    CALLBOX_LOAD_CHANNELS=120 CALLBOX_LOAD_SECONDS=600 .venv/bin/pytest tests/bench/test_load_bench.py -s
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from signaling.events import CallAnswered
from tests.support.audio import tone_frequency
from tests.support.no1peer import No1Peer, PeerSocket
from tests.support.processes import DaemonProcess, SimProcess, wait_for
from tests.support.world import World

CHANNELS = int(os.environ.get("CALLBOX_LOAD_CHANNELS", "120"))
SECONDS = float(os.environ.get("CALLBOX_LOAD_SECONDS", "5"))
BEARERS = list(range(1, 16)) + list(range(17, 32))  # an E1's 30 bearer timeslots


def _plan(channels: int) -> tuple[list[int], list[str], list[tuple[int, int]]]:
    """(E1 span ids, extension numbers, (span, timeslot) per call) for ``channels`` busy channels."""
    calls = max(1, channels // 2)
    spans = [3 + i for i in range((calls + 29) // 30)]
    slots = [(s, ts) for s in spans for ts in BEARERS][:calls]
    return spans, [str(8001 + i) for i in range(calls)], slots


def _sim_config(tmp: Path, spans: list[int], exts: list[str]) -> Path:
    e1 = "".join(f'[[span]]\nid = {s}\nkind = "e1"\nsignalling = "cas"\n\n' for s in spans)
    p = tmp / "sim.toml"
    p.write_text(f'[[span]]\nid = 1\nkind = "fxo"\nports = 1\n\n[[span]]\nid = 2\nkind = "fxs"\n'
                 f'ports = {len(exts)}\nfirst_extension = 8001\n\n{e1}', encoding="utf-8")
    return p


def _box_config(tmp: Path, spans: list[int], exts: list[str]) -> Path:
    ext = "".join(f'[[extension]]\nnumber = "{n}"\nport = "2/{i + 1}"\ncallerid = "none"\n\n'
                  for i, n in enumerate(exts))
    dest = ", ".join(f'"{n}"' for n in exts)
    trunks = "".join(f'[[trunk]]\nname = "CT-E1-{s}"\nspan = {s}\ndestination = [{dest}]\ndnis_length = 5\n'
                     f'ani = "first"\n\n' for s in spans)
    p = tmp / "callbox.toml"
    p.write_text(f'[box]\nstate_dir = "{tmp / "state"}"\n\n[dialplan]\nno_answer_timeout_s = 30\n\n{ext}{trunks}',
                 encoding="utf-8")
    return p


def _tone(i: int) -> float:
    return 400.0 + 20.0 * (i % 60)  # 400 .. 1580 Hz


@pytest.mark.timeout(SECONDS + 300)  # the hold itself, plus set-up and clearing
def test_every_channel_busy(tmp_path: Path, benchmark) -> None:  # noqa: ANN001 (pytest-benchmark's fixture)
    spans, exts, slots = _plan(CHANNELS)
    sim = SimProcess(tmp_path / "sim", _sim_config(tmp_path, spans, exts))
    daemon = DaemonProcess(tmp_path, sim, _box_config(tmp_path, spans, exts))
    peers = {s: No1Peer(s) for s in spans}
    links: list[PeerSocket] = []
    try:
        daemon.start()
        world = World(sim)
        for n in exts:
            world.call("phone.auto", phone=n, answer_rings=1)
        links = [PeerSocket(str(sim.rundir / f"span{s}.peer"), peers[s]) for s in spans]
        wait_for(lambda: all(link.ticks > 10 for link in links), 10, "the exchanges ticking")
        for i, (s, ts) in enumerate(slots):
            peers[s].dial(ts, f"{12300 + i:05d}", caller=f"1380013{i:04d}")
        wait_for(lambda: all(peers[s].events_of(ts, CallAnswered) for s, ts in slots), 60, "every call answered")
        ports = {p["port"]: p for p in daemon.api.call("ports")}
        phone_of = {}
        for i, (s, ts) in enumerate(slots):
            call = ports[f"{s}/{ts}"]["call"]
            phone_of[(s, ts)] = next(p["extension"] for p in ports.values()
                                     if p.get("call") == call and p.get("extension"))
            peers[s].talk[f"{s}/{ts}"] = _tone(i)
            world.phone(phone_of[(s, ts)]).send_tone(_tone(i + 7))

        def hold() -> dict:
            before_sim, before_box = world.status(), daemon.api.call("status")
            t0 = time.monotonic()
            deadline = t0 + SECONDS
            while time.monotonic() < deadline:  # the load itself: nothing to wait for but time
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            after_sim, after_box = world.status(), daemon.api.call("status")
            return {
                "channels": 2 * len(slots), "seconds": round(time.monotonic() - t0, 1),
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "ticks": after_sim["tick"] - before_sim["tick"],
                "underruns": after_sim["underruns"] - before_sim["underruns"],
                "late_tx": after_sim["late_tx"] - before_sim["late_tx"],
                "board_skipped_ticks": after_sim.get("skipped_ticks", 0) - before_sim.get("skipped_ticks", 0),
                "daemon_skipped_ticks": after_box["skipped_ticks"] - before_box["skipped_ticks"],
                "tick_cost": after_box["tick_cost"], "scheduling": after_box["scheduling"],
            }

        figures = benchmark.pedantic(hold, rounds=1, iterations=1)
        benchmark.extra_info.update(figures)
        print(f"\nload: {figures}")
        mark = world.tick()
        wait_for(lambda: world.tick() > mark + 60, 5, "a second and more of audio")
        for i, (s, ts) in enumerate(slots[:: max(1, len(slots) // 6)]):  # a sample of the calls, both ways
            j = slots.index((s, ts))
            assert tone_frequency(world.phone(phone_of[(s, ts)]).heard(since=mark)) == pytest.approx(_tone(j), rel=0.01)
            assert tone_frequency(peers[s].heard_audio(ts)[-8000:]) == pytest.approx(_tone(j + 7), rel=0.01), i
        for s, ts in slots:
            peers[s].release(ts)
        wait_for(lambda: all(peers[s].state(ts) == "idle" for s, ts in slots), 20, "the exchanges idle")
        assert all(link.error is None for link in links)
    finally:
        for link in links:
            link.close()
        daemon.stop()
        sim.stop()
