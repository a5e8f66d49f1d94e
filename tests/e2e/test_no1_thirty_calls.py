"""End to end, real time: 30 simultaneous China No.1 calls on one E1 span between the daemon (its own
process, against the simulator process) and the box's own No.1 stack as the exchange on the span's
``span3.peer`` socket. Every call must carry its digits and its own audio both ways; the daemon's
CPU for the 30 set-ups is measured from /proc."""

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
from tests.unit.daemon.runtime.test_no1_thirty_calls import (
    EXTS,
    SPAN,
    TIMESLOTS,
    _box_config,
    _sim_config,
    _tone,
)

pytestmark = [pytest.mark.e2e, pytest.mark.serial]


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_thirty_simultaneous_no1_calls_between_processes(tmp_path: Path) -> None:
    sim = SimProcess(tmp_path / "sim", _sim_config(tmp_path))
    daemon = DaemonProcess(tmp_path, sim, _box_config(tmp_path))
    peer = No1Peer(SPAN)
    link = None
    try:
        daemon.start()
        world = World(sim)
        for n in EXTS:
            world.call("phone.auto", phone=n, answer_rings=1)
        link = PeerSocket(str(sim.rundir / f"span{SPAN}.peer"), peer)
        wait_for(lambda: link.ticks > 10, 5, "the peer ticking")
        assert daemon.proc is not None
        cpu0, t0 = _cpu_s(daemon.proc.pid), time.monotonic()
        for i, ts in enumerate(TIMESLOTS):
            peer.dial(ts, f"{12300 + i:05d}", caller=f"1380013{i:04d}")
        wait_for(lambda: all(peer.events_of(ts, CallAnswered) for ts in TIMESLOTS), 20, "all 30 answered")
        setup_s, setup_cpu = time.monotonic() - t0, _cpu_s(daemon.proc.pid) - cpu0
        ports = {p["port"]: p for p in daemon.api.call("ports")}
        call_port = {row["call"]: row["extension"] for row in ports.values() if row.get("call") and row.get("extension")}
        phone_of = {ts: call_port[ports[f"{SPAN}/{ts}"]["call"]] for ts in TIMESLOTS}
        assert sorted(phone_of.values()) == sorted(EXTS)
        for i, ts in enumerate(TIMESLOTS):
            peer.talk[f"{SPAN}/{ts}"] = _tone(i)
            world.phone(phone_of[ts]).send_tone(_tone(29 - i) + 20.0)
        time.sleep(0.6)
        mark = world.tick()
        time.sleep(1.2)
        for i, ts in enumerate(TIMESLOTS):
            assert tone_frequency(world.phone(phone_of[ts]).heard(since=mark)) == pytest.approx(_tone(i), rel=0.01)
            assert tone_frequency(peer.heard_audio(ts)[-8000:]) == pytest.approx(_tone(29 - i) + 20.0, rel=0.01)
        for ts in TIMESLOTS:
            peer.release(ts)
        wait_for(lambda: all(peer.state(ts) == "idle" for ts in TIMESLOTS), 5, "the exchange idle")
        wait_for(lambda: all(p["state"] == "idle" for p in daemon.api.call("ports") if p["port"].startswith("3/")),
                 5, "the box's timeslots idle")
        print(f"\n30 simultaneous No.1 set-ups through the processes: {setup_s:.2f} s, daemon CPU {setup_cpu:.2f} s "
              f"({setup_cpu / setup_s * 100:.0f} % of a core while setting up)")
        assert link.error is None
    finally:
        if link is not None:
            link.close()
        daemon.stop()
        sim.stop()
