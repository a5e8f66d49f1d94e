"""The box's own No.1 stack against itself across a simulated E1 span: 30 simultaneous calls on one
span (in one process, virtual time). The exchange side (tests/support/no1peer.py) seizes all 30
timeslots at once, each with its own DNIS and ANI; the box hunts each call to one of 30 agent phones
that answer on the first ring. Every call must carry its own digits, and its own audio both ways."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from signaling.events import CallAnswered, CallReleased
from sim.config import load_config as load_sim_config
from sim.world import SimWorld
from tests.support.audio import tone_frequency
from tests.support.inprocess import Box
from tests.support.no1peer import No1Peer, attach_inprocess

SPAN = 3
TIMESLOTS = list(range(1, 16)) + list(range(17, 32))
EXTS = [str(8001 + i) for i in range(30)]


def _sim_config(tmp: Path) -> Path:
    p = tmp / "sim.toml"
    p.write_text('[[span]]\nid = 1\nkind = "fxo"\nports = 1\n\n[[span]]\nid = 2\nkind = "fxs"\nports = 30\n'
                 'first_extension = 8001\n\n[[span]]\nid = 3\nkind = "e1"\nsignalling = "cas"\n', encoding="utf-8")
    return p


def _box_config(tmp: Path) -> Path:
    ext = "".join(f'[[extension]]\nnumber = "{n}"\nport = "2/{i + 1}"\ncallerid = "none"\n\n' for i, n in enumerate(EXTS))
    dest = ", ".join(f'"{n}"' for n in EXTS)
    p = tmp / "callbox.toml"
    p.write_text(f'[dialplan]\nno_answer_timeout_s = 30\n\n{ext}[[trunk]]\nname = "CT-E1"\nspan = 3\n'
                 f'destination = [{dest}]\ndnis_length = 5\nani = "first"\n', encoding="utf-8")
    return p


def _tone(i: int) -> float:
    return 500.0 + 40.0 * i  # 500 .. 1660 Hz, 40 Hz apart


@pytest.fixture
def box(tmp_path: Path) -> tuple[Box, No1Peer]:
    world = SimWorld(load_sim_config(_sim_config(tmp_path)))
    for n in EXTS:
        world.phone(n).auto_answer_rings = 1
    b = Box(_box_config(tmp_path), world)
    peer = No1Peer(SPAN)
    attach_inprocess(b, peer, SPAN)
    b.run(0.2)
    return b, peer


def test_thirty_simultaneous_calls_with_their_own_digits_and_audio(box: tuple[Box, No1Peer]) -> None:
    b, peer = box
    calls = {ts: (f"{12300 + i:05d}", f"1380013{i:04d}") for i, ts in enumerate(TIMESLOTS)}
    for ts, (dnis, ani) in calls.items():
        peer.dial(ts, dnis, caller=ani)
    cpu0, ticks0 = time.process_time(), b.engine.ticks
    b.run_until(lambda: all(peer.events_of(ts, CallAnswered) for ts in TIMESLOTS), 20, "all 30 answered")
    setup_cpu = time.process_time() - cpu0
    offered = {d["port"]: d for k, d in b.events if k == "call.offered"}
    for ts, (dnis, ani) in calls.items():
        ev = offered[f"{SPAN}/{ts}"]
        assert (ev["called"], ev["caller"]) == (dnis, ani), ts
    legs = {ts: b.engine.calls.by_port[f"{SPAN}/{ts}"].b.port for ts in TIMESLOTS}
    assert len(set(legs.values())) == 30  # every call on its own phone
    phone_of = {ts: next(n for n in EXTS if b.world.phone(n).port.id == legs[ts]) for ts in TIMESLOTS}
    for i, ts in enumerate(TIMESLOTS):
        peer.talk[f"{SPAN}/{ts}"] = _tone(i)
        b.world.phone(phone_of[ts]).mouth.tone(_tone(29 - i) + 20.0)
    b.run(0.5)
    mark = b.world.tick
    b.run(1.0)
    for i, ts in enumerate(TIMESLOTS):
        assert tone_frequency(b.heard(phone_of[ts], mark)) == pytest.approx(_tone(i), rel=0.01), ts
        assert tone_frequency(peer.heard_audio(ts)[-8000:]) == pytest.approx(_tone(29 - i) + 20.0, rel=0.01), ts
    for ts in TIMESLOTS:
        peer.release(ts)
    b.run_until(lambda: not b.engine.calls.calls, 5, "all calls cleared")
    b.run(0.5)
    assert all(peer.state(ts) == "idle" and b.engine.is_free(f"{SPAN}/{ts}") for ts in TIMESLOTS)
    assert len(b.cdrs()) == 30 and {c["cause"] for c in b.cdrs()} == {16}
    assert not [e for ts in TIMESLOTS for e in peer.events_of(ts, CallReleased)]  # released by the exchange itself
    print(f"\n30 set-ups: {setup_cpu * 1000:.0f} ms CPU for box + exchange over {b.engine.ticks - ticks0} ticks; "
          f"engine tick max {b.engine.tick_cost_max * 1000:.2f} ms")
