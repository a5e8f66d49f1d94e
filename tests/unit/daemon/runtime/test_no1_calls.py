"""No.1 trunk calls through the whole box in one process on a virtual clock: the box's E1 span 3 runs
China No.1 against the box's own No.1 stack as the exchange (tests/support/no1peer.py). Digits,
category and audio are checked at both ends; every call leaves the right CDR."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.config.model import ConfigError, load_config
from signaling.events import CallAnswered, CallOffered, CallProgress, CallReleased, Cause
from signaling.no1.trunk import TrunkConfig
from signaling.no1.variant import CHINA, VARIANTS
from sim.config import load_config as load_sim_config
from sim.world import SimWorld
from tests.support.audio import tone_frequency
from tests.support.inprocess import Box
from tests.support.no1peer import No1Peer, attach_inprocess
from tests.support.processes import default_config_text

SPAN = 3
TRUNK = """
[[trunk]]
name = "CT-E1"
span = 3
timeslots = "1-15,17-31"
direction = "both"
destination = ["8001", "8002"]
dnis_length = 5
ani = "first"
caller = "{caller}"
"""


def config(tmp_path: Path, caller: str = "", lines_outbound: bool = False) -> Path:
    text = default_config_text()
    if not lines_outbound:  # outbound calls go to the No.1 trunk, not the CO lines
        text = text.replace('disconnect = ["busy"]', 'disconnect = ["busy"]\noutbound = false')
        text = text.replace('disconnect = ["busy", "loop_current"]', 'disconnect = ["busy", "loop_current"]\noutbound = false')
        text = text.replace('disconnect = ["busy", "polarity"]', 'disconnect = ["busy", "polarity"]\noutbound = false')
    p = tmp_path / "callbox.toml"
    p.write_text(text + TRUNK.format(caller=caller), encoding="utf-8")
    return p


def make(tmp_path: Path, peer: No1Peer, **kw) -> Box:
    box = Box(config(tmp_path, **kw))
    attach_inprocess(box, peer, SPAN)
    box.run(0.2)
    return box


def test_inbound_no1_call_hunts_an_extension_with_ani_as_caller_id(tmp_path: Path) -> None:
    peer = No1Peer(SPAN)
    box = make(tmp_path, peer)
    phone = box.world.phone("8001")
    peer.dial(1, "12301", caller="13800138000")
    box.run_until(lambda: phone.ringing, 8, "8001 ringing")
    box.run_until(lambda: phone.shown_caller_id is not None, 8, "caller ID on the display")
    assert phone.shown_caller_id.number == "13800138000"
    assert peer.events_of(1, CallProgress), "the exchange saw the B-1 accept"
    offered = [d for k, d in box.events if k == "call.offered"]
    assert offered[0]["called"] == "12301" and offered[0]["category"] == 1
    phone.off_hook()
    box.run_until(lambda: peer.events_of(1, CallAnswered), 2, "answer at the exchange")
    peer.talk[f"{SPAN}/1"] = 1000.0
    phone.mouth.tone(400.0)
    box.run(0.5)
    mark = box.world.tick
    box.run(1.0)
    assert tone_frequency(box.heard("8001", mark)) == pytest.approx(1000.0, rel=0.02)
    assert tone_frequency(peer.heard_audio(1)[-8000:]) == pytest.approx(400.0, rel=0.02)
    phone.on_hook()  # clear-back; the exchange clears forward
    box.run_until(lambda: peer.state(1) == "idle" and box.engine.is_free(f"{SPAN}/1"), 3, "both idle")
    assert peer.events_of(1, CallReleased)[-1].cause is Cause.NORMAL_CLEARING
    (cdr,) = box.cdrs()
    assert cdr["category"] == 1  # KA from the exchange
    assert (cdr["caller"], cdr["called"], cdr["src_port"], cdr["dst"], cdr["cause"], cdr["trunk"]) == (
        "13800138000", "12301", "3/1", "8001", 16, "CT-E1/1")


def test_inbound_cleared_by_the_caller(tmp_path: Path) -> None:
    peer = No1Peer(SPAN)
    box = make(tmp_path, peer)
    phone = box.world.phone("8001")
    peer.dial(17, "12301", caller="13800138000")
    box.run_until(lambda: phone.ringing, 8, "ringing")
    phone.off_hook()
    box.run_until(lambda: peer.events_of(17, CallAnswered), 2, "answer")
    peer.release(17)
    box.run_until(lambda: not box.engine.calls.calls, 2, "the call to clear")
    box.run(0.2)
    assert peer.state(17) == "idle" and box.engine.is_free("3/17")
    assert box.cdrs()[0]["cause"] == 16


def test_inbound_with_no_destination_is_refused_b5(tmp_path: Path) -> None:
    p = config(tmp_path)
    p.write_text(p.read_text().replace('destination = ["8001", "8002"]\n', ""), encoding="utf-8")
    peer = No1Peer(SPAN)
    box = Box(p)
    attach_inprocess(box, peer, SPAN)
    box.run(0.2)
    peer.dial(2, "12399", caller="13800138000")
    box.run_until(lambda: peer.events_of(2, CallReleased), 8, "refusal")
    assert peer.events_of(2, CallReleased) == [CallReleased("3/2", Cause.UNALLOCATED_NUMBER)]
    box.run(0.3)
    assert peer.state(2) == "idle" and box.engine.is_free("3/2")


def test_outbound_over_the_no1_trunk_with_ani_audio_and_far_end_clear(tmp_path: Path) -> None:
    peer = No1Peer(SPAN, answer_after_s=1.0)
    box = make(tmp_path, peer, caller="13800138000")
    phone = box.world.phone("8002")
    phone.off_hook()
    box.run(0.5)
    phone.dial("912301#")
    box.run_until(lambda: any(peer.events_of(ts, CallOffered) for ts in (1, 2, 3)), 10, "offered at the exchange")
    ts = next(ts for ts in (1, 2, 3) if peer.events_of(ts, CallOffered))
    assert peer.events_of(ts, CallOffered)[0] == CallOffered(f"{SPAN}/{ts}", caller="13800138000", called="12301",
                                                             category=1)
    box.run_until(lambda: any(c.answer for c in box.engine.calls.calls.values()), 3, "answer")
    peer.talk[f"{SPAN}/{ts}"] = 1200.0
    phone.mouth.tone(600.0)
    box.run(0.5)
    mark = box.world.tick
    box.run(1.0)
    assert tone_frequency(box.heard("8002", mark)) == pytest.approx(1200.0, rel=0.02)
    assert tone_frequency(peer.heard_audio(ts)[-8000:]) == pytest.approx(600.0, rel=0.02)
    peer.release(ts)  # the called party clears back
    box.run_until(lambda: not box.engine.calls.calls, 3, "the call to clear")
    box.run(0.3)
    assert peer.state(ts) == "idle" and box.engine.is_free(f"{SPAN}/{ts}")
    phone.on_hook()
    (cdr,) = box.cdrs()
    assert (cdr["direction"], cdr["called"], cdr["dst_port"], cdr["cause"]) == ("outbound", "12301", f"3/{ts}", 16)


@pytest.mark.parametrize(("cause", "disposition"), [(Cause.USER_BUSY, "BUSY"), (Cause.UNALLOCATED_NUMBER, "FAILED")])
def test_outbound_refused_by_the_exchange(tmp_path: Path, cause: Cause, disposition: str) -> None:
    peer = No1Peer(SPAN, on_offered=lambda ev: cause)
    box = make(tmp_path, peer)
    phone = box.world.phone("8002")
    phone.off_hook()
    box.run(0.5)
    phone.dial("912301#")
    box.run_until(lambda: box.cdrs(), 10, "the CDR")
    assert box.cdrs()[0]["cause"] == int(cause) and box.cdrs()[0]["disposition"] == disposition
    box.run(0.5)
    assert all(box.engine.is_free(f"3/{ts}") for ts in (1, 2, 3))


@pytest.mark.parametrize("alarm", ["LOS", "AIS", "RAI"])
def test_span_alarm_takes_timeslots_out_of_service_and_back(tmp_path: Path, alarm: str) -> None:
    peer = No1Peer(SPAN)
    box = make(tmp_path, peer)
    phone = box.world.phone("8001")
    peer.dial(5, "12301", caller="13800138000")
    box.run_until(lambda: phone.ringing, 8, "ringing")
    box.world.span(SPAN).set_alarm(alarm, True)
    box.run(0.2)
    assert box.engine.ports["3/5"].machine.state == "out_of_service"
    assert not box.engine.calls.calls and box.cdrs()[0]["cause"] == int(Cause.NETWORK_OUT_OF_ORDER)
    assert not box.engine.is_free("3/1")
    peer.release(5)  # the exchange gives the call up too
    box.world.span(SPAN).set_alarm(alarm, False)
    box.run(0.5)
    assert all(box.engine.ports[f"3/{ts}"].machine.state == "idle" for ts in (1, 5)) and box.engine.is_free("3/1")
    peer.dial(5, "12301", caller="13800138000")  # and the timeslot carries calls again
    box.run_until(lambda: any(box.world.phone(n).ringing for n in ("8001", "8002")), 8, "ringing again")


def test_blocking_a_timeslot(tmp_path: Path) -> None:
    peer = No1Peer(SPAN)
    box = make(tmp_path, peer)
    assert box.engine.block("3/7")
    box.run(0.2)
    assert peer.cas_tx["3/7"] == 0b1011 and box.world.span(SPAN).host_bits[7] == 0b1111
    assert peer.state(7) == "blocked" and not box.engine.is_free("3/7")
    box.engine.unblock("3/7")
    box.run(0.2)
    assert peer.state(7) == "idle" and box.engine.is_free("3/7")


def test_trunk_config_errors_are_located(tmp_path: Path) -> None:
    p = config(tmp_path)
    p.write_text(p.read_text().replace('timeslots = "1-15,17-31"', 'timeslots = "1-16"'), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert err.value.key == "trunk[0].timeslots" and "16" in err.value.message and err.value.line
    p.write_text(p.read_text().replace('timeslots = "1-16"', 'timeslots = "1-3"').replace(
        'ani = "first"', 'ani = "sometimes"'))
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert err.value.key == "trunk[0].ani" and "one of" in err.value.message


def test_after_los_the_box_does_not_acknowledge_a_seizure_that_ended_meanwhile(tmp_path: Path) -> None:
    """With no CAS debounce the box must judge the far end by the bits reported with the alarm's end."""
    p = config(tmp_path)
    p.write_text(p.read_text() + "[trunk.timers]\nT_CAS_DEBOUNCE = 0.0\n", encoding="utf-8")
    peer = No1Peer(SPAN)
    box = Box(p)
    attach_inprocess(box, peer, SPAN)
    box.run(0.2)
    phone = box.world.phone("8001")
    peer.dial(5, "12301", caller="13800138000")
    box.run_until(lambda: phone.ringing, 8, "ringing")
    box.world.span(SPAN).set_alarm("LOS", True)
    box.run(0.2)
    peer.release(5)  # cleared forward while the box was blind
    box.run(0.5)
    sent: list = []
    send = box.engine.board.send
    box.engine.board.send = lambda tick, tx, commands: (sent.extend(commands), send(tick, tx, commands))
    box.world.span(SPAN).set_alarm("LOS", False)
    box.run(0.5)
    assert [c.bits for c in sent if getattr(c, "port", None) == "3/5"] in ([], [0b1011])  # no seize-ack flash
    assert box.engine.ports["3/5"].machine.state == "idle"


def test_an_inbound_no1_call_goes_through_the_ivr_like_an_analog_one(tmp_path: Path) -> None:
    import datetime as dt

    from ivr.events import TtsText
    from tests.support.audio import contains, decode

    text = default_config_text().replace('state_dir = "/var/lib/callbox"', f'state_dir = "{tmp_path / "state"}"')
    cfg = tmp_path / "callbox.toml"
    cfg.write_text(text + TRUNK.format(caller="") + 'ivr = "travel-agency"\n', encoding="utf-8")
    peer = No1Peer(SPAN)
    box = Box(cfg, ivr=True, wall=lambda: dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC))  # office open
    attach_inprocess(box, peer, SPAN)
    box.run(0.2)
    flow = box.ivr.flows["travel-agency"]
    welcome = decode(box.ivr.library.get(TtsText(flow.prompts["welcome"].tts, flow.voice)).result(60).tobytes())
    peer.dial(1, "12301", caller="13800138000")
    box.run_until(lambda: box.ivr.legs, 10, "the IVR to answer the No.1 call")
    (leg,) = box.ivr.legs.values()
    assert leg.call.caller == "13800138000" and leg.call.called == "12301"  # ANI as caller ID
    box.run(len(welcome) / 8000 + 0.5)
    heard = decode(b"".join(bytes(f) for f in peer.heard[f"{SPAN}/1"]))
    assert contains(heard, welcome[16000:40000]) > 0.9  # the caller heard the welcome over the E1 timeslot
    peer.dtmf(1, "0")  # to the operator
    phone = box.world.phone("8001")
    box.run_until(lambda: phone.ringing, 15, "the operator ringing")
    phone.off_hook()
    box.run(0.5)
    peer.talk[f"{SPAN}/1"] = 1000.0
    phone.mouth.tone(400.0)
    box.run(0.5)
    mark = box.world.tick
    box.run(1.0)
    assert tone_frequency(box.heard("8001", mark)) == pytest.approx(1000.0, rel=0.02)
    assert tone_frequency(peer.heard_audio(1)[-8000:]) == pytest.approx(400.0, rel=0.02)
    phone.on_hook()
    box.run_until(lambda: peer.state(1) == "idle" and box.engine.is_free(f"{SPAN}/1"), 3, "both idle")
    (cdr,) = box.cdrs()
    assert cdr["caller"] == "13800138000" and cdr["dst"] == "8001" and cdr["ivr_keys"] == "0"


def test_after_a_restart_a_call_the_exchange_still_holds_is_cleared_in_protocol_order(tmp_path: Path) -> None:
    """The box dies in an answered call; the restarted box must not send idle before the exchange's
    clear-forward (a forward side in an answered call reads idle as a protocol error, and its release
    would wait for an idle that already came): seize-ack (clear-back) first, idle after clear-forward."""
    peer = No1Peer(SPAN)
    box = make(tmp_path, peer)
    phone = box.world.phone("8001")
    peer.dial(4, "12301", caller="13800138000")
    box.run_until(lambda: phone.ringing, 8, "ringing")
    phone.off_hook()
    box.run_until(lambda: peer.events_of(4, CallAnswered), 2, "answer at the exchange")
    phone.on_hook()  # the box is gone (kill -9): nobody tells the exchange
    seen: list[int] = []
    step = peer.step
    peer.step = lambda audio, events: (seen.extend(e.bits for e in events if getattr(e, "port", "") == "3/4"),
                                       step(audio, events))[1]
    restarted = Box(config(tmp_path), world=box.world)  # the same lines, a new daemon
    attach_inprocess(restarted, peer, SPAN)
    restarted.run_until(lambda: peer.state(4) == "idle" and restarted.engine.is_free("3/4"), 3, "both idle")
    # the old answer bits (reported as the exchange re-attaches), clear-back (seize-ack), idle after clear-forward
    assert seen == [0b0111, 0b1111, 0b1011]
    assert peer.events_of(4, CallReleased)[-1].cause is Cause.NORMAL_CLEARING  # no protocol error
    assert not [d for k, d in restarted.events if k == "call.offered"]


def test_a_seizure_never_acknowledged_is_tried_on_another_circuit(tmp_path: Path) -> None:
    """Timeslot 1's far end is deaf: the call waits T_SEIZE_ACK there once, goes through on timeslot 2, and
    timeslot 1 (alarmed) is left out of the next call's hunting until the far end signals on it."""
    peer = No1Peer(SPAN, answer_after_s=0.5)
    step = peer.step
    peer.step = lambda audio, events: step(audio, [e for e in events if getattr(e, "port", "") != "3/1"])
    box = make(tmp_path, peer, caller="13800138000")
    phone = box.world.phone("8002")

    def call_out() -> str:
        """A call to 12301 from 8002, answered, then cleared; returns the timeslot it went out on."""
        phone.off_hook()
        box.run(0.5)
        phone.dial("912301#")
        box.run_until(lambda: any(c.answer for c in box.engine.calls.calls.values()), 12, "answer")
        (call,) = box.engine.calls.calls.values()
        port = call.b.port
        phone.on_hook()
        box.run_until(lambda: not box.engine.calls.calls and box.engine.is_free(port), 3, "cleared")
        return port

    assert call_out() == "3/2"
    assert box.engine.circuit_alarms == {"3/1": "NO_SEIZE_ACK"} and not box.engine.is_free("3/1")
    assert box.cdrs()[0]["answer"] and box.cdrs()[0]["dst_port"] == "3/2"
    assert peer.events_of(2, CallOffered)[0].called == "12301"
    assert call_out() == "3/2"  # no second wait on timeslot 1
    peer.step = step  # the far end hears timeslot 1 again and seizes it for a call of its own
    peer.dial(1, "12301", caller="13800138000")
    box.run_until(lambda: not box.engine.circuit_alarms, 2, "the alarm cleared")
    assert ("alarm.cleared", {"span": 3, "port": "3/1", "alarm": "NO_SEIZE_ACK"}) in box.events


DNIS_BLOCK = """
[[dnis]]
number = "88001234"
to = "extension:8002"
name = "Booking line"

[[dnis]]
range = "88002000-88002099"
to = "extension:8001"
"""


def test_inbound_calls_are_routed_by_dnis_and_an_unknown_number_is_refused_unallocated(tmp_path: Path) -> None:
    """One span carries the agency's numbers: 88001234 rings 8002, a branch number 8001 (whatever the
    trunk's own destination says), and 88009999 is refused with B-5 (unallocated), cause 1."""
    p = config(tmp_path)
    p.write_text(p.read_text().replace("dnis_length = 5", "dnis_length = 8") + DNIS_BLOCK, encoding="utf-8")
    peer = No1Peer(SPAN)
    heard: list[int] = []
    handle_mf = peer.machines["3/3"].handle_mf
    peer.machines["3/3"].handle_mf = lambda signal, now: (heard.append(signal), handle_mf(signal, now))[1]
    box = Box(p)
    attach_inprocess(box, peer, SPAN)
    box.run(0.2)
    booking, branch = box.world.phone("8002"), box.world.phone("8001")
    peer.dial(1, "88001234", caller="13800138000")
    box.run_until(lambda: booking.ringing, 8, "8002 ringing")
    assert not branch.ringing
    offered = [d for k, d in box.events if k == "call.offered"]
    ringing = [d for k, d in box.events if k == "call.ringing"]
    assert (offered[-1]["dnis"], offered[-1]["dnis_name"]) == ("88001234", "Booking line")
    assert (ringing[-1]["extension"], ringing[-1]["dnis"], ringing[-1]["dnis_name"]) == ("8002", "88001234",
                                                                                         "Booking line")
    peer.dial(2, "88002042", caller="13900139000")
    box.run_until(lambda: branch.ringing, 8, "8001 ringing")
    peer.dial(3, "88009999", caller="13700137000")
    box.run_until(lambda: peer.events_of(3, CallReleased), 8, "the refusal")
    assert peer.events_of(3, CallReleased) == [CallReleased("3/3", Cause.UNALLOCATED_NUMBER)]
    assert [s for s in heard if s][-1] == 5  # the last backward signal: B-5, unallocated number
    for ts in (1, 2):
        peer.release(ts)
    box.run_until(lambda: len(box.cdrs()) == 3, 3, "three CDRs")
    cdrs = {c["dnis"]: c for c in box.cdrs()}
    assert (cdrs["88009999"]["cause"], cdrs["88009999"]["disposition"], cdrs["88009999"]["dnis_name"]) == (
        1, "FAILED", None)
    assert (cdrs["88001234"]["dst"], cdrs["88001234"]["dnis_name"]) == ("8002", "Booking line")
    assert cdrs["88002042"]["dst"] == "8001"


@pytest.mark.parametrize(("variant", "idle"), [("china", 0b1011), ("itu", 0b1001)])
def test_timeslots_no_trunk_uses_are_idle_in_the_variant_of_the_span(tmp_path: Path, variant: str, idle: int) -> None:
    p = config(tmp_path)
    p.write_text(p.read_text(encoding="utf-8").replace('timeslots = "1-15,17-31"', f'timeslots = "1-10"\nvariant = "{variant}"'),
                 encoding="utf-8")
    box = Box(p)
    box.run(0.2)
    bits = box.world.span(SPAN).host_bits
    assert bits[20] == idle and bits[31] == idle


def test_a_trunk_of_another_variant_signals_in_its_bits_both_ways(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A variant whose line bits are none of China's (every A/B pair inverted): the box sends its bits and
    reads the exchange's by it, from the restart through a whole call; nothing of China's is assumed."""
    inverted = CHINA.derive("inverted-ab", line_ab={sig: ab ^ 0b11 for sig, ab in CHINA.line_ab.items()})
    monkeypatch.setitem(VARIANTS, inverted.name, inverted)
    p = config(tmp_path)
    p.write_text(p.read_text(encoding="utf-8").replace('ani = "first"', 'ani = "first"\nvariant = "inverted-ab"'),
                 encoding="utf-8")
    world = SimWorld(load_sim_config())
    far = world.span(SPAN)
    for ts in far.timeslots:  # the exchange is idle in its own bits
        far.far_bits[ts] = far.host_bits[ts] = inverted.bits("idle")
    peer = No1Peer(SPAN, TrunkConfig(variant=inverted, dnis_length=5))
    box = Box(p, world=world)
    attach_inprocess(box, peer, SPAN)
    box.run(1.5)  # past T_RESYNC: the restart read the exchange's idle as idle
    assert all(box.engine.is_free(f"{SPAN}/{ts}") for ts in (1, 17)) and far.host_bits[1] == inverted.bits("idle")
    phone = box.world.phone("8001")
    peer.dial(1, "12301", caller="13800138000")
    box.run_until(lambda: phone.ringing, 8, "8001 ringing")
    assert far.host_bits[1] == inverted.bits("seize_ack")
    phone.off_hook()
    box.run_until(lambda: peer.events_of(1, CallAnswered), 2, "answer at the exchange")
    assert far.host_bits[1] == inverted.bits("answer")
    peer.release(1)
    box.run_until(lambda: peer.state(1) == "idle" and box.engine.is_free(f"{SPAN}/1"), 3, "both idle")
    assert far.host_bits[1] == inverted.bits("idle") and box.cdrs()[0]["cause"] == 16
