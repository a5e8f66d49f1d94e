"""The simulated central office behind the FXO ports, measured from the host's side on a virtual clock."""

from __future__ import annotations

import numpy as np
import pytest

from hal.dsp.callerid import FskCallerIdReceiver
from hal.dsp.dtmf import DtmfSender
from hal.dsp.measure import dominant_frequency, level_dbm0
from hal.dsp.tones import sine
from hal.events import LoopCurrentDrop, PolarityReversal, RingStart, RingStop, SendFlash, SetHook
from sim.central_office import Scenario
from tests.unit.sim.conftest import Host, cadence_ms, make_world

LINE = "1/1"


def _dial(host: Host, port: str, digits: str) -> None:
    sender = DtmfSender(-8.0, 80, 80)
    sender.send(digits)
    host.sources[host.chan[port]] = lambda: sender.generate(160)


def test_ring_cadence_is_1s_on_4s_off(host: Host) -> None:
    host.w.co.call(LINE, "13800138000")
    host.run(50 * 16)
    marks = [(t, type(e)) for t, e in host.events if isinstance(e, RingStart | RingStop) and e.port == LINE]
    assert [k for _, k in marks[:6]] == [RingStart, RingStop] * 3
    ticks = [t for t, _ in marks]
    on = [(b - a) * 20 for a, b in zip(ticks[0::2], ticks[1::2], strict=False)]
    off = [(b - a) * 20 for a, b in zip(ticks[1::2], ticks[2::2], strict=False)]
    assert on[:3] == [1000, 1000, 1000] and off[:2] == [4000, 4000]


@pytest.mark.parametrize("method", ["fsk_mdmf", "fsk_sdmf"])
def test_fsk_caller_id_between_first_and_second_ring(host: Host, method: str) -> None:
    ch = host.listen(LINE)
    host.w.co.call(LINE, "13800138000", "ZHANG", method)
    host.run(50 * 5)  # up to just before the second ring
    assert not any(isinstance(e, RingStart) for t, e in host.events[1:])
    rx = host.heard(LINE)
    active = np.nonzero([level_dbm0(rx[i:i + 160]) > -40 for i in range(0, len(rx), 160)])[0]
    assert len(active) and active[0] * 20 >= 1000 + 400  # after the first ring's end (+ ~0.5 s)
    receiver = FskCallerIdReceiver()
    got = None
    for i in range(0, len(rx), 160):
        got = receiver.process(rx[i:i + 160]) or got
    assert got is not None and got.number == "13800138000"
    if method == "fsk_mdmf":
        assert got.name == "ZHANG"
    assert ch == host.chan[LINE]


def test_no_caller_id_sends_no_audio(host: Host) -> None:
    host.listen(LINE)
    host.w.co.call(LINE, "13800138000", None, "none")
    host.run(50 * 5)
    assert level_dbm0(host.heard(LINE)) < -60


def test_answer_stops_ringing_and_connects_audio_both_ways(host: Host) -> None:
    host.w.co.call(LINE, "13912345678")
    host.run(20)
    host.send(SetHook(LINE, True))
    host.run(2)
    assert host.of(RingStop)[-1][1].port == LINE
    line = host.w.co.line(LINE)
    assert line.state == "connected"
    line.party.tone(1000.0)
    ch = host.chan[LINE]
    n = [0]

    def tone() -> np.ndarray:
        n[0] += 1
        return sine(400.0, -10.0, 160)

    host.sources[ch] = tone
    host.listen(LINE)
    mark = host.w.tick + 1
    host.run(50)
    assert dominant_frequency(host.heard(LINE)[800:]) == pytest.approx(1000.0, rel=0.01)
    audio, first = line.recorder.heard(since=mark)
    assert first == mark and len(audio) == 50 * 160
    from hal.dsp.g711 import alaw_to_linear

    assert dominant_frequency(alaw_to_linear(np.frombuffer(audio, np.uint8))) == pytest.approx(400.0, rel=0.01)
    host.send(SetHook(LINE, False))
    host.run(1)
    assert line.state == "idle" and line.history[-1].cleared_by == "host"


def test_dial_tone_is_450_hz_continuous_and_stops_on_first_digit(host: Host) -> None:
    host.send(SetHook(LINE, True))
    host.run(1)
    host.listen(LINE)
    host.run(50)
    rx = host.heard(LINE)
    assert dominant_frequency(rx) == pytest.approx(450.0, rel=0.01)
    assert all(on for on, _ in cadence_ms(rx))  # continuous
    _dial(host, LINE, "1")
    host.run(15)
    host.listen(LINE)
    host.run(25)
    assert level_dbm0(host.heard(LINE)) < -60
    assert host.w.co.line(LINE).state == "dialing"


def test_digits_by_inter_digit_timeout(host: Host) -> None:
    host.send(SetHook(LINE, True))
    host.run(10)
    _dial(host, LINE, "12301")
    host.run(50 * 2)
    line = host.w.co.line(LINE)
    assert line.digits()["complete"] is False and line.digits()["raw"] == "12301"
    host.run(50 * 3)
    assert line.digits() == {"line": LINE, "digits": "12301", "raw": "12301", "complete": True}
    assert line.state == "alerting"  # the default scenario answers after 3 s, ringback meanwhile


def test_digits_by_hash_and_by_length() -> None:
    w = make_world('[co]\nnumber_length = 5\n[[co.line]]\nport = "1/2"\nnumber_length = 0\n')
    host = Host(w)
    host.send(SetHook("1/1", True), SetHook("1/2", True))
    host.run(10)
    _dial(host, "1/1", "12301")
    _dial(host, "1/2", "555#")
    host.run(50 * 2)
    assert w.co.line("1/1").digits()["digits"] == "12301" and w.co.line("1/1").digits()["complete"]
    assert w.co.line("1/2").digits() == {"line": "1/2", "digits": "555", "raw": "555#", "complete": True}


def test_scenario_answer_ringback_then_connected_with_polarity() -> None:
    w = make_world("[co]\npolarity_on_answer = true\n")
    host = Host(w)
    w.co.scenarios["12301"] = Scenario("answer", 2.0, None, 700.0)
    host.send(SetHook(LINE, True))
    host.run(5)
    _dial(host, LINE, "12301#")
    host.run(50, until=lambda: w.co.line(LINE).state == "alerting")
    host.sources.clear()
    host.listen(LINE)
    host.run(50 * 2 + 50)
    rx = host.heard(LINE)
    runs = cadence_ms(rx[: 80 * 160])
    assert runs[0][0] and runs[0][1] == pytest.approx(1000, abs=40)  # ringback: 1 s on
    assert dominant_frequency(rx[:800]) == pytest.approx(450.0, rel=0.01)
    assert w.co.line(LINE).state == "connected"
    assert host.of(PolarityReversal)
    assert dominant_frequency(rx[-1600:]) == pytest.approx(700.0, rel=0.01)


@pytest.mark.parametrize(("action", "period"), [("busy", 350), ("unallocated", 700)])
def test_busy_and_congestion_cadence(host: Host, action: str, period: int) -> None:
    host.w.co.scenarios["12302"] = Scenario(action, 0.5)
    host.send(SetHook(LINE, True))
    host.run(5)
    _dial(host, LINE, "12302#")
    host.run(60)
    host.sources.clear()
    host.listen(LINE)
    host.run(50 * 5)
    rx = host.heard(LINE)
    assert dominant_frequency(rx[:1600] if level_dbm0(rx[:1600]) > -40 else rx) == pytest.approx(450.0, rel=0.01)
    runs = cadence_ms(rx)[1:-1]  # whole runs only
    assert len(runs) >= 4
    assert all(ms == pytest.approx(period, abs=40) for _, ms in runs)


def test_far_end_hangup_is_busy_tone_only_by_default(host: Host) -> None:
    host.w.co.call(LINE, "13800138000")
    host.run(5)
    host.send(SetHook(LINE, True))
    host.run(10)
    host.w.co.line(LINE).hangup()
    host.listen(LINE)
    host.run(50 * 3)
    assert not host.of(LoopCurrentDrop) and not host.of(PolarityReversal)
    rx = host.heard(LINE)
    assert dominant_frequency(rx[:2000]) == pytest.approx(450.0, rel=0.01)
    assert all(ms == pytest.approx(350, abs=40) for _, ms in cadence_ms(rx)[1:-1])
    assert host.w.co.line(LINE).state == "cleared"
    host.send(SetHook(LINE, False))
    host.run(2)
    assert host.w.co.line(LINE).state == "idle"


def test_far_end_hangup_with_loop_drop_and_polarity() -> None:
    w = make_world('[co]\ndisconnect = ["busy", "loop_current", "polarity"]\nloop_current_drop_ms = 400\n')
    host = Host(w)
    w.co.call(LINE, "13800138000")
    host.run(5)
    host.send(SetHook(LINE, True))
    host.run(10)
    t0 = w.tick
    w.co.line(LINE).hangup()
    host.run(50)
    (tp, _), = host.of(PolarityReversal)
    (td, drop), = host.of(LoopCurrentDrop)
    assert drop.port == LINE and drop.ms == 400
    assert tp == t0 + 1 and (td - t0) * 20 == pytest.approx(400, abs=20)


def test_caller_abandons_while_ringing(host: Host) -> None:
    host.w.co.call(LINE, "13800138000")
    host.run(10)
    host.w.co.line(LINE).hangup()
    host.run(2)
    assert host.of(RingStop) and host.w.co.line(LINE).state == "idle"
    assert host.w.co.line(LINE).history[-1].cleared_by == "abandon"


def test_flash_is_noted(host: Host) -> None:
    host.send(SetHook(LINE, True))
    host.run(2)
    host.send(SendFlash(LINE, 120))
    host.run(1)
    assert host.w.co.flashes[-1]["ms"] == 120 and host.w.co.line(LINE).call.flashes


def test_dtmf_caller_id_decodes_at_a_phone_style_decoder() -> None:
    from hal.dsp.callerid import DtmfCallerIdDecoder
    from hal.dsp.dtmf import DtmfReceiver

    w = make_world('[[co.line]]\nport = "1/1"\ncallerid = "dtmf"\n')
    host = Host(w)
    host.listen(LINE)
    w.co.call(LINE, "13800138000")
    host.run(50 * 5)
    rx, dec = DtmfReceiver(), DtmfCallerIdDecoder()
    audio = host.heard(LINE)
    got = None
    for i in range(0, len(audio), 160):
        for d in rx.process(audio[i:i + 160]):
            got = dec.feed(d, i // 8) or got
        got = dec.poll(i // 8) or got
    assert got is not None and got.number == "13800138000"


def test_line_busy_rejects_second_call(host: Host) -> None:
    host.w.co.call(LINE, "1")
    with pytest.raises(ValueError, match="not idle"):
        host.w.co.call(LINE, "2")
