"""End to end, daemon and simulator as separate processes, real time: calls ring, answer, carry
audio both ways (measured), clear, and leave the right CDR."""

from __future__ import annotations

import time

import pytest

from tests.support.audio import tone_frequency
from tests.support.processes import DaemonProcess, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e


def _cdrs(d: DaemonProcess) -> list[dict]:
    return d.api.call("cdr.list", limit=100)


def _wait_cdr(d: DaemonProcess, n: int = 1, timeout: float = 10) -> list[dict]:
    return wait_for(lambda: (c := _cdrs(d)) and len(c) >= n and c, timeout, f"{n} CDR(s)")


def _answered_call(d: DaemonProcess) -> dict:
    return wait_for(lambda: next((c for c in d.api.call("calls") if c.get("answer")), None), 10, "answered call")


def test_inbound_call_with_caller_id_audio_and_busy_tone_clear(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    w.co_call("1/1", "13800138000")
    phone = w.phone("8001")
    phone.wait_ringing(12, "8001 ringing")
    wait_for(lambda: phone.state().get("caller_id") == "13800138000", 8, "caller ID on 8001's display")
    phone.off_hook()
    _answered_call(daemon)
    w.co_send_tone("1/1", 1000.0)
    phone.send_tone(400.0)
    time.sleep(0.3)
    mark = w.tick()
    time.sleep(1.2)
    at_phone = tone_frequency(phone.heard(since=mark))
    at_caller = tone_frequency(w.co_heard("1/1", since=mark))
    assert at_phone == pytest.approx(1000.0, rel=0.02), at_phone
    assert at_caller == pytest.approx(400.0, rel=0.02), at_caller
    w.co_silence("1/1")
    phone.silence()
    hung_up = time.time()
    w.co_hangup("1/1")  # busy tone only: no loop break, no polarity reversal
    wait_for(lambda: not daemon.api.call("calls"), 4, "the call to clear")
    mark = w.tick()
    time.sleep(1.5)
    assert tone_frequency(phone.heard(since=mark)) == pytest.approx(450.0, rel=0.02)  # busy to the agent
    phone.on_hook()
    (cdr,) = _wait_cdr(daemon)
    assert cdr["direction"] == "inbound" and cdr["caller"] == "13800138000"
    assert cdr["src_port"] == "1/1" and cdr["trunk"] == "PSTN-1"
    assert cdr["dst"] == "8001" and cdr["dst_port"] == "2/1"
    assert cdr["cause"] == 16 and cdr["disposition"] == "ANSWERED"
    assert cdr["start"] < cdr["answer"] < cdr["end"]
    # the call is cleared within 2 s of the hang-up (busy detected), by the box's own clock of its end, not
    # by when this test's polling noticed (+ the simulator's reply and the board's buffer)
    assert cdr["end"] - hung_up < 2.5
    assert cdr["billsec"] >= 1.5 and cdr["duration"] > cdr["billsec"]
    assert w.co_state("1/1")["hook"] == "on"  # the box released the line


def test_extension_to_extension(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    a, b = w.phone("8001"), w.phone("8002")
    a.off_hook()
    time.sleep(0.5)
    mark = w.tick()
    time.sleep(0.6)
    assert tone_frequency(a.heard(since=mark)) == pytest.approx(450.0, rel=0.02)  # dial tone
    a.dial("8002")
    b.wait_ringing(12, "8002 ringing")
    wait_for(lambda: b.state().get("caller_id") == "8001", 8, "8001 on 8002's display")
    b.off_hook()
    _answered_call(daemon)
    a.send_tone(700.0)
    b.send_tone(1300.0)
    time.sleep(0.3)
    mark = w.tick()
    time.sleep(1.0)
    assert tone_frequency(b.heard(since=mark)) == pytest.approx(700.0, rel=0.02)
    assert tone_frequency(a.heard(since=mark)) == pytest.approx(1300.0, rel=0.02)
    a.on_hook()
    (cdr,) = _wait_cdr(daemon)
    b.on_hook()
    assert (cdr["direction"], cdr["caller"], cdr["called"], cdr["src_port"], cdr["dst_port"]) == (
        "internal", "8001", "8002", "2/1", "2/2")
    assert cdr["cause"] == 16 and cdr["disposition"] == "ANSWERED" and cdr["trunk"] is None


def test_outbound_through_the_central_office(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    w.co_scenario("12301", "answer", after_s=2.0)
    a = w.phone("8001")
    a.lift()
    a.dial("912301#")
    line = wait_for(lambda: w.co_line_with_digits("12301"), 15, "the CO to receive 12301")
    _answered_call(daemon)
    wait_for(lambda: w.co_state(line)["state"] in ("connected", "answered"), 5, "far end answered")
    at_phone, at_far_end = w.tones_both_ways(a, line, phone_hz=400.0)
    assert at_phone == pytest.approx(1000.0, rel=0.02) and at_far_end == pytest.approx(400.0, rel=0.02)
    a.on_hook()
    (cdr,) = _wait_cdr(daemon)
    assert cdr["direction"] == "outbound" and cdr["called"] == "12301" and cdr["caller"] == "8001"
    assert cdr["dst_port"] == line and cdr["trunk"]
    assert cdr["disposition"] == "ANSWERED" and cdr["cause"] == 16
    wait_for(lambda: w.co_state(line)["hook"] == "on", 3, "the trunk released")


def test_unanswered_extension_gives_ringback_then_busy(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    a, b = w.phone("8001"), w.phone("8003")
    a.lift()
    a.dial("8003")
    b.wait_ringing(12, "8003 ringing")
    mark = w.tick()
    time.sleep(1.5)
    assert tone_frequency(a.heard(since=mark)) == pytest.approx(450.0, rel=0.02)  # ringback
    (cdr,) = _wait_cdr(daemon, timeout=15)  # no_answer_timeout_s = 8 in the e2e config
    assert not b.state()["ringing"]
    heard = w.listen(a.heard, 1.5)
    assert tone_frequency(heard) == pytest.approx(450.0, rel=0.02)
    assert w.cadence_ms(heard) == pytest.approx((350, 350), abs=60)  # busy tone
    a.on_hook()
    assert cdr["cause"] == 19 and cdr["disposition"] == "NO ANSWER" and cdr["called"] == "8003"


def test_busy_extension_and_unallocated_number(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    a, b, c = w.phone("8001"), w.phone("8002"), w.phone("8004")
    b.off_hook()  # 8002 is busy (off hook)
    a.lift()
    a.dial("8002")
    (cdr,) = _wait_cdr(daemon)
    heard = w.listen(a.heard, 1.5)
    assert tone_frequency(heard) == pytest.approx(450.0, rel=0.02)
    assert w.cadence_ms(heard) == pytest.approx((350, 350), abs=60)
    assert cdr["cause"] == 17 and cdr["disposition"] == "BUSY"
    a.on_hook()
    b.on_hook()
    c.lift()
    c.dial("7777")
    cdrs = _wait_cdr(daemon, 2)
    assert w.cadence_ms(w.listen(c.heard, 2.0)) == pytest.approx((700, 700), abs=60)  # congestion
    assert cdrs[-1]["cause"] == 1 and cdrs[-1]["disposition"] == "FAILED"
    c.on_hook()


def test_outbound_busy_far_end(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    w.co_scenario("12302", "busy")
    a = w.phone("8005")
    a.lift()
    a.dial("912302#")
    (cdr,) = _wait_cdr(daemon, timeout=20)
    assert cdr["cause"] == 17 and cdr["disposition"] == "BUSY" and cdr["called"] == "12302"
    assert w.cadence_ms(w.listen(a.heard, 1.5)) == pytest.approx((350, 350), abs=60)
    a.on_hook()
