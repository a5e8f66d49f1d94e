"""China No.1 interop: the box (daemon + simulator, real time) against OpenR2 1.3.3, China variant, running
as a separate process on the simulated E1 span's ``span3.peer`` socket (tests/interop/openr2/).

OpenR2 1.3.3's own CN bugs shape the tests (shared/reference/real-peers.md): as the caller it never
sends ANI, so calls from OpenR2 run against a trunk that does not ask for ANI; the box's ANI is
proven against an OpenR2 callee that asks for it, with ``max_ani`` above the number's length.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hal.ports import E1_BEARER_TIMESLOTS
from tests.conftest import e2e_config
from tests.interop.openr2.bridge import Harness, PeerBridge
from tests.support.audio import tone_frequency
from tests.support.processes import DaemonProcess, SimProcess, wait_for
from tests.support.world import Phone, World
from tests.unit.daemon.runtime.test_no1_thirty_calls import EXTS, _sim_config, _tone

pytestmark = pytest.mark.interop

SPAN = 3
TIMESLOTS = [1, 2]
TRUNK = """
[[trunk]]
name = "CT-E1"
span = 3
timeslots = "1-2"
direction = "both"
destination = ["8001"]
dnis_length = {dnis_length}
ani = "{ani}"
caller = "13800138000"
ka = 1
kd = 1
"""


def no1_config(tmp: Path, dnis_length: int = 5, ani: str = "none", timers: dict[str, float] | None = None,
               extra: str = "") -> Path:
    path = e2e_config(tmp)
    text = path.read_text(encoding="utf-8")
    for disc in ('disconnect = ["busy"]', 'disconnect = ["busy", "loop_current"]', 'disconnect = ["busy", "polarity"]'):
        text = text.replace(disc, disc + "\noutbound = false")  # "9..." goes out on the No.1 trunk
    text += TRUNK.format(dnis_length=dnis_length, ani=ani)
    if timers:
        text += "[trunk.timers]\n" + "".join(f"{k} = {v}\n" for k, v in timers.items())
    text += extra
    path.write_text(text, encoding="utf-8")
    return path


class Rig:
    """Simulator + daemon + OpenR2 on span 3's timeslots 1-2."""

    def __init__(self, tmp: Path, harness: Harness, sim_config: Path | None = None, **trunk) -> None:
        self.sim = SimProcess(tmp / "sim", sim_config)
        self.daemon = DaemonProcess(tmp, self.sim, no1_config(tmp, **trunk))
        self.harness = harness
        self.bridge: PeerBridge | None = None
        self.world = World(self.sim)
        try:
            self.daemon.start()
            self.bridge = PeerBridge(self.sim.rundir / f"span{SPAN}.peer", harness, SPAN, TIMESLOTS)
            wait_for(lambda: self.bridge.ticks > 10, 5, "the bridge ticking")
            self.api("subscribe", kinds=["call."])
        except BaseException:
            self.close()
            raise

    def api(self, op: str, **args):
        assert self.daemon.api is not None
        return self.daemon.api.call(op, **args)

    def events(self, kind: str) -> list[dict]:
        self.api("status")  # events arrive with replies
        assert self.daemon.api is not None
        return [e for e in self.daemon.api.events if e.get("kind") == kind]

    def port_state(self, port: str) -> str:
        return next(p for p in self.api("ports") if p["port"] == port).get("state", "?")

    def tick(self) -> int:
        return self.world.tick()

    def dial_out(self, ext: str = "8001") -> Phone:
        """``ext`` lifts and dials 12301 out on the trunk ("9" is its outbound prefix); the phone."""
        phone = self.world.phone(ext)
        phone.lift()
        phone.dial("912301#")
        return phone

    def close(self) -> None:
        if self.bridge is not None:
            self.bridge.close()
        self.harness.close()
        self.daemon.stop()
        self.sim.stop()


@pytest.fixture
def rig_factory(tmp_path: Path) -> Iterator:
    rigs: list[Rig] = []

    def make(harness: Harness, **trunk) -> Rig:
        rig = Rig(tmp_path, harness, **trunk)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()


def _talk_both_ways(rig: Rig, ts: int, ext: str) -> None:
    """OpenR2's side speaks 1000 Hz, the phone 400 Hz; each must hear the other."""
    assert rig.bridge is not None
    phone = rig.world.phone(ext)
    rig.bridge.talk[ts] = 1000.0
    phone.send_tone(400.0)
    time.sleep(0.6)
    mark = rig.tick()
    time.sleep(1.2)
    assert tone_frequency(phone.heard(since=mark)) == pytest.approx(1000.0, rel=0.02)
    assert tone_frequency(rig.bridge.heard_audio(ts, 1.0)) == pytest.approx(400.0, rel=0.02)
    phone.silence()
    rig.bridge.talk.pop(ts, None)


@pytest.mark.parametrize("ani_first", [True, False], ids=["ani_first", "ani_after_dnis"])
def test_the_box_calls_an_openr2_callee_that_does_not_know_the_number_length(rig_factory, ani_first: bool) -> None:
    """OpenR2 waits for more digits than the box has: the box stays silent until OpenR2's pulsed A-3.
    (First in the file: the longest interop tests, so that they start first when run side by side.)"""
    h = Harness(2, max_dnis=10, max_ani=20, ani_first=ani_first, on_offer="accept", answer_ms=300)
    rig = rig_factory(h)
    phone = rig.dial_out()
    offered = h.wait_event(1, "offered", 20)
    assert (offered["dnis"], offered["ani"]) == ("12301", "13800138000")
    wait_for(lambda: rig.bridge.answered[1], 5, "OpenR2 answered")
    phone.on_hook()
    h.wait_event(1, "end", 5)
    wait_for(lambda: rig.port_state(f"{SPAN}/1") == "idle", 5, "the box's timeslot idle")
    assert not h.find(1, "protocol_error")


def test_openr2_caller_to_the_box_answer_audio_and_clear_by_the_box(rig_factory) -> None:
    h = Harness(2, max_dnis=5)
    rig = rig_factory(h, dnis_length=5, ani="none")
    phone = rig.world.phone("8001")
    h.command("call 1 - 12301")
    wait_for(lambda: phone.state()["ringing"], 10, "8001 ringing")
    offered = rig.events("call.offered")
    assert offered and offered[0]["called"] == "12301" and offered[0]["category"] == 1  # KD: national subscriber
    h.wait_event(1, "accepted", 5)  # B-1
    phone.off_hook()
    h.wait_event(1, "answered", 5)
    _talk_both_ways(rig, 1, "8001")
    phone.on_hook()  # clear-back from the box; OpenR2 clears forward
    h.wait_event(1, "disconnect", 5)
    h.wait_event(1, "end", 5)
    wait_for(lambda: rig.port_state(f"{SPAN}/1") == "idle", 5, "the box's timeslot idle")
    (ended,) = wait_for(lambda: rig.events("call.ended"), 5, "the CDR")
    assert ended["cdr"]["called"] == "12301" and ended["cdr"]["cause"] == 16 and ended["cdr"]["answer"]
    assert not h.find(1, "protocol_error")


def test_openr2_caller_clears_forward(rig_factory) -> None:
    h = Harness(2, max_dnis=5)
    rig = rig_factory(h, dnis_length=5, ani="none")
    phone = rig.world.phone("8001")
    h.command("call 2 - 12301")
    wait_for(lambda: phone.state()["ringing"], 10, "8001 ringing")
    phone.off_hook()
    h.wait_event(2, "answered", 5)
    h.command("hangup 2")
    wait_for(lambda: rig.events("call.ended"), 5, "the call to end at the box")
    wait_for(lambda: rig.port_state(f"{SPAN}/2") == "idle", 5, "the box's timeslot idle")
    h.wait_event(2, "end", 5)
    phone.on_hook()
    assert rig.events("call.ended")[0]["cdr"]["cause"] == 16 and not h.find(2, "protocol_error")


def test_end_of_dnis_by_timeout_and_pulsed_a3(rig_factory) -> None:
    h = Harness(2, max_dnis=5)
    rig = rig_factory(h, dnis_length=0, ani="none")
    phone = rig.world.phone("8001")
    h.command("call 1 - 12301")
    digits_sent = time.monotonic()
    wait_for(lambda: rig.events("call.offered"), 15, "the call offered after the DNIS timeout")
    took = time.monotonic() - digits_sent
    assert rig.events("call.offered")[0]["called"] == "12301"
    assert 5.0 <= took <= 9.0, took  # T_END_OF_DNIS (5 s) after the last digit, then A-3 pulse and KD
    h.wait_event(1, "accepted", 5)
    wait_for(lambda: phone.state()["ringing"], 5, "8001 ringing")
    h.command("hangup 1")  # the caller gives up while it rings
    wait_for(lambda: rig.port_state(f"{SPAN}/1") == "idle", 5, "the box's timeslot idle")
    assert not h.find(1, "protocol_error")


def test_the_box_calls_an_openr2_callee_that_requests_ani(rig_factory) -> None:
    h = Harness(2, max_dnis=5, max_ani=20, ani_first=True, on_offer="accept", answer_ms=800)
    rig = rig_factory(h)
    phone = rig.dial_out()
    offered = h.wait_event(1, "offered", 15)
    assert (offered["dnis"], offered["ani"], offered["category"]) == ("12301", "13800138000", "National")
    wait_for(lambda: rig.bridge.answered[1], 5, "OpenR2 answered")
    _talk_both_ways(rig, 1, "8001")
    h.command("hangup 1")  # the called party clears back; the box clears forward
    h.wait_event(1, "end", 5)
    wait_for(lambda: rig.port_state(f"{SPAN}/1") == "idle", 5, "the box's timeslot idle")
    (ended,) = wait_for(lambda: rig.events("call.ended"), 5, "the CDR")
    assert (ended["cdr"]["direction"], ended["cdr"]["called"], ended["cdr"]["cause"]) == ("outbound", "12301", 16)
    phone.on_hook()
    assert not h.find(1, "protocol_error")


def test_the_box_clears_forward_an_answered_call_to_openr2(rig_factory) -> None:
    h = Harness(2, max_dnis=5, on_offer="accept", answer_ms=300)
    rig = rig_factory(h)
    phone = rig.dial_out()
    wait_for(lambda: rig.bridge.answered[1], 15, "OpenR2 answered")
    phone.on_hook()
    h.wait_event(1, "disconnect", 5)
    h.wait_event(1, "end", 5)
    wait_for(lambda: rig.port_state(f"{SPAN}/1") == "idle", 5, "the box's timeslot idle")
    assert not h.find(1, "protocol_error")


@pytest.mark.parametrize(("on_offer", "cause", "tone_ms"), [
    ("busy", 17, 350), ("unallocated", 1, None), ("congestion", 42, None), ("outoforder", 27, None)])
def test_openr2_callee_refuses(rig_factory, on_offer: str, cause: int, tone_ms: int | None) -> None:
    h = Harness(2, max_dnis=5, on_offer=on_offer)
    rig = rig_factory(h)
    phone = rig.dial_out()
    h.wait_event(1, "offered", 15)
    (ended,) = wait_for(lambda: rig.events("call.ended"), 10, "the refused call's CDR")
    assert ended["cdr"]["cause"] == cause and ended["cdr"]["answer"] is None
    wait_for(lambda: rig.port_state(f"{SPAN}/1") == "idle", 5, "the box's timeslot idle")
    mark = rig.tick()
    time.sleep(1.5)
    heard = phone.heard(since=mark)
    assert tone_frequency(heard) == pytest.approx(450.0, rel=0.02)  # busy or congestion to the caller
    if tone_ms:
        assert World.cadence_ms(heard) == pytest.approx((tone_ms, tone_ms), abs=60)
    phone.on_hook()
    h.wait_event(1, "end", 5)


DNIS = """
[[dnis]]
number = "12302"
to = "queue:booking"
name = "Booking line"

[[dnis]]
prefix = "123"
to = "extension:8002"
"""


def test_openr2_calls_the_agency_s_numbers_routed_by_dnis(rig_factory) -> None:
    """12302 goes to the booking queue, 12301 (the prefix 123) to extension 8002 although the trunk's
    destination is 8001, and 99999 is refused: OpenR2 hears B-5 and reports an unallocated number."""
    h = Harness(2, max_dnis=5)
    rig = rig_factory(h, dnis_length=5, ani="none", extra=DNIS)
    h.command("call 1 - 12302")
    (queued,) = wait_for(lambda: rig.events("call.queued"), 10, "the call queued")
    assert queued["queue"] == "booking"
    offered = next(e for e in rig.events("call.offered") if e["call"] == queued["call"])
    assert (offered["dnis"], offered["dnis_name"]) == ("12302", "Booking line")
    h.wait_event(1, "answered", 5)  # the queue answers (the caller hears the queue's music)
    phone = rig.world.phone("8002")
    h.command("call 2 - 12301")
    wait_for(lambda: phone.state()["ringing"], 10, "8002 ringing")
    assert not rig.world.phone("8001").state()["ringing"]
    pop = next(e for e in rig.events("call.ringing") if e.get("extension") == "8002")
    assert pop["dnis"] == "12301"
    h.command("hangup 1")
    h.command("hangup 2")
    h.wait_event(1, "end", 5)
    h.wait_event(2, "end", 5)
    h.events.clear()
    h.command("call 1 - 99999")
    assert h.wait_event(1, "disconnect", 10)["cause"] == "Unallocated"  # "Unallocated Number", split at the space
    h.wait_event(1, "end", 5)
    cdrs = {c["dnis"]: c for c in rig.api("cdr.list", limit=10)}
    assert (cdrs["99999"]["cause"], cdrs["12302"]["queue"], cdrs["12301"]["dst"]) == (1, "booking", "8002")
    assert not h.find(1, "protocol_error") and not h.find(2, "protocol_error")


def test_after_a_daemon_crash_every_timeslot_returns_to_idle(rig_factory) -> None:
    h = Harness(2, max_dnis=5)
    rig = rig_factory(h, dnis_length=5, ani="none")
    phone = rig.world.phone("8001")
    h.command("call 1 - 12301")
    wait_for(lambda: phone.state()["ringing"], 10, "8001 ringing")
    phone.off_hook()
    h.wait_event(1, "answered", 5)
    rig.daemon.kill9()  # the box dies mid-call; the simulated span keeps its bits
    phone.on_hook()
    rig.daemon.start()
    h.wait_event(1, "end", 10)  # OpenR2 saw the restarted box's idle and cleared
    wait_for(lambda: all(rig.port_state(f"{SPAN}/{ts}") == "idle" for ts in TIMESLOTS), 10, "box timeslots idle")
    wait_for(lambda: rig.world.e1_get_cas(SPAN, 1) == 0b1011, 5, "idle bits from the box")
    h.events.clear()
    h.command("call 1 - 12301")  # and the timeslot carries calls again
    wait_for(lambda: phone.state()["ringing"], 10, "8001 ringing again")
    phone.off_hook()
    h.wait_event(1, "answered", 5)
    h.command("hangup 1")
    h.wait_event(1, "end", 5)
    phone.on_hook()


def test_thirty_simultaneous_calls_from_openr2(tmp_path: Path) -> None:
    """OpenR2 seizes all 30 timeslots at once; 30 agents answer; every call carries its own audio."""
    ext = "".join(f'[[extension]]\nnumber = "{n}"\nport = "2/{i + 1}"\ncallerid = "none"\n\n' for i, n in enumerate(EXTS))
    dest = ", ".join(f'"{n}"' for n in EXTS)
    cfg = tmp_path / "callbox.toml"
    cfg.write_text(f'{ext}[[trunk]]\nname = "CT-E1"\nspan = 3\ndestination = [{dest}]\ndnis_length = 5\n'
                   f'ani = "none"\n', encoding="utf-8")
    sim = SimProcess(tmp_path / "sim", _sim_config(tmp_path))
    daemon = DaemonProcess(tmp_path, sim, cfg)
    h = Harness(30, max_dnis=5)
    bridge = None
    try:
        daemon.start()
        world = World(sim)
        for n in EXTS:
            world.call("phone.auto", phone=n, answer_rings=1)
        bridge = PeerBridge(sim.rundir / f"span{SPAN}.peer", h, SPAN, list(E1_BEARER_TIMESLOTS))
        wait_for(lambda: bridge.ticks > 10, 5, "the bridge ticking")
        for ch in range(1, 31):
            h.command(f"call {ch} - {12300 + ch:05d}")
        for ch in range(1, 31):
            h.wait_event(ch, "answered", 20)
        ports = {p["port"]: p for p in daemon.api.call("ports")}
        ext_of_call = {r["call"]: r["extension"] for r in ports.values() if r.get("call") and r.get("extension")}
        phone_of = {ts: ext_of_call[ports[f"{SPAN}/{ts}"]["call"]] for ts in E1_BEARER_TIMESLOTS}
        assert sorted(phone_of.values()) == sorted(EXTS)
        for i, ts in enumerate(E1_BEARER_TIMESLOTS):
            bridge.talk[ts] = _tone(i)
            world.phone(phone_of[ts]).send_tone(_tone(29 - i) + 20.0)
        time.sleep(0.6)
        mark = world.tick()
        time.sleep(1.2)
        for i, ts in enumerate(E1_BEARER_TIMESLOTS):
            assert tone_frequency(world.phone(phone_of[ts]).heard(since=mark)) == pytest.approx(_tone(i), rel=0.01)
            assert tone_frequency(bridge.heard_audio(ts, 1.0)) == pytest.approx(_tone(29 - i) + 20.0, rel=0.01)
        for ch in range(1, 31):
            h.command(f"hangup {ch}")
        for ch in range(1, 31):
            h.wait_event(ch, "end", 10)
        wait_for(lambda: all(p["state"] == "idle" for p in daemon.api.call("ports") if p["port"].startswith("3/")),
                 5, "the box's timeslots idle")
        assert not any(n == "protocol_error" for _, _, n, _ in h.events)
    finally:
        if bridge is not None:
            bridge.close()
        h.close()
        daemon.stop()
        sim.stop()


def test_span_alarm_mid_call_takes_the_timeslots_out_of_service_and_back(rig_factory) -> None:
    h = Harness(2, max_dnis=5)
    rig = rig_factory(h, dnis_length=5, ani="none")
    phone = rig.world.phone("8001")
    h.command("call 1 - 12301")
    wait_for(lambda: phone.state()["ringing"], 10, "8001 ringing")
    phone.off_hook()
    h.wait_event(1, "answered", 5)
    rig.world.e1_alarm(SPAN, "LOS", True)
    wait_for(lambda: rig.port_state(f"{SPAN}/1") == "out_of_service", 3, "timeslot 1 out of service")
    assert rig.port_state(f"{SPAN}/2") == "out_of_service"
    (ended,) = wait_for(lambda: rig.events("call.ended"), 3, "the call lost with the span")
    assert ended["cdr"]["cause"] == 38  # network out of order
    phone.on_hook()
    h.command("hangup 1")  # the exchange side gives up on the silent call too
    rig.world.e1_alarm(SPAN, "LOS", False)
    wait_for(lambda: all(rig.port_state(f"{SPAN}/{ts}") == "idle" for ts in TIMESLOTS), 10, "back in service, idle")
    h.wait_event(1, "end", 10)
    h.events.clear()
    h.command("call 2 - 12301")
    wait_for(lambda: phone.state()["ringing"], 10, "a new call rings after the alarm")
    phone.off_hook()
    h.wait_event(2, "answered", 5)
    h.command("hangup 2")
    h.wait_event(2, "end", 5)
    phone.on_hook()
