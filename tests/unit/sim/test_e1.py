"""E1 far ends: CAS bits and HDLC frames both ways, FCS checking, alarms, timeslot audio, peers."""

from __future__ import annotations

import numpy as np
import pytest

from hal.dsp.measure import dominant_frequency
from hal.dsp.tones import sine
from hal.events import AlarmCleared, AlarmRaised, CasChange, HdlcFrame, SendHdlc, SetCas
from sim.hdlc import add_fcs, check_fcs, crc16_x25
from tests.unit.sim.conftest import Host, tone_src

CAS, HDLC = 3, 4


def test_fcs_is_crc16_x25() -> None:
    assert crc16_x25(b"123456789") == 0x906E
    framed = add_fcs(b"\x01\x02\x03")
    assert check_fcs(framed) == b"\x01\x02\x03"
    assert check_fcs(framed[:-1] + bytes([framed[-1] ^ 1])) is None


def test_cas_both_ways(host: Host) -> None:
    fe = host.w.span(CAS)
    fe.set_cas(17, 0b1111)
    fe.set_cas(17, 0b1111)  # no change, no event
    host.send(SetCas("3/5", 0b0011))
    host.run(1)
    assert host.of(CasChange) == [(0, CasChange("3/17", 0b1111))]
    assert fe.host_bits[5] == 0b0011 and fe.far_bits[17] == 0b1111
    with pytest.raises(ValueError):
        fe.set_cas(16, 0)  # TS16 is not a bearer


def test_hdlc_both_ways_and_bad_fcs_dropped(host: Host) -> None:
    fe = host.w.span(HDLC)
    msu = bytes([0x80, 0x81, 0x3F]) + bytes(range(40))
    host.send(SendHdlc(HDLC, msu))
    host.run(1)
    assert list(fe.hdlc_received) == [msu]
    assert fe.send_hdlc(b"\x01\x02\x03fisu") is True
    assert fe.send_hdlc(b"corrupt", bad_fcs=True) is False
    host.run(1)
    assert [e.data for _, e in host.of(HdlcFrame)] == [b"\x01\x02\x03fisu"]
    assert fe.hdlc_bad_fcs == 1
    with pytest.raises(ValueError):
        host.w.span(CAS).send_hdlc(b"x")


def test_alarms_raise_clear_and_blind_the_host(host: Host) -> None:
    fe = host.w.span(CAS)
    fe.mouth(1).tone(1000.0)
    host.listen("3/1")
    fe.set_alarm("LOS", True)
    fe.set_cas(2, 0b0111)
    host.run(10)
    assert host.of(AlarmRaised) == [(0, AlarmRaised(CAS, "LOS"))]
    assert not host.of(CasChange)
    assert np.abs(host.heard("3/1")).max() < 50  # no audio through LOS
    fe.set_alarm("LOS", False)
    host.run(1)
    assert host.of(AlarmCleared) == [(10, AlarmCleared(CAS, "LOS"))]
    assert host.of(CasChange) == [(10, CasChange("3/2", 0b0111))]
    fe.set_alarm("RAI", True)  # RAI alone does not blind
    fe.set_cas(2, 0b1011)
    host.run(1)
    assert host.of(CasChange)[-1][1] == CasChange("3/2", 0b1011)


def test_timeslot_party_tone_and_recording(host: Host) -> None:
    fe = host.w.span(CAS)
    fe.mouth(17).tone(1140.0, -11.0)
    host.sources[host.chan["3/17"]] = tone_src(1380.0, -11.0)
    host.listen("3/17")
    host.run(30)
    assert dominant_frequency(host.heard("3/17")) == pytest.approx(1140.0, rel=0.01)
    audio, _ = fe.recorder(17).heard()
    from hal.dsp.g711 import alaw_to_linear

    assert dominant_frequency(alaw_to_linear(np.frombuffer(audio, np.uint8))) == pytest.approx(1380.0, rel=0.01)


def test_resync_reports_alarms_and_bits(host: Host) -> None:
    fe = host.w.span(CAS)
    fe.set_cas(3, 0b0011)
    host.w.span(HDLC).set_alarm("AIS", True)
    evs = host.w.resync_events()
    assert AlarmRaised(HDLC, "AIS") in evs and CasChange("3/3", 0b0011) in evs
    assert sum(isinstance(e, CasChange) for e in evs) == 30


def test_peer_takes_over_and_relays(host: Host) -> None:
    fe = host.w.span(CAS)
    host.send(SetCas("3/1", 0b1011))
    host.run(1)
    first = fe.attach_peer()
    assert CasChange("3/1", 0b1011) in first and len(first) == 30
    host.sources[host.chan["3/2"]] = lambda: sine(1500.0, -11.0, 160)
    host.send(SetCas("3/2", 0b0011))
    host.run(1 + host.w.tx_buffer_frames)  # the tone is played out a transmit-buffer later
    audio, events = fe.peer_outbound()
    assert events[:30] == first and events[30:] == [CasChange("3/2", 0b0011)]
    from hal.dsp.g711 import alaw_to_linear, linear_to_alaw

    assert dominant_frequency(alaw_to_linear(audio[fe.row_of[2]])) == pytest.approx(1500.0, rel=0.03)
    peer_audio = np.full((30, 160), 0xD5, np.uint8)
    peer_audio[fe.row_of[2]] = linear_to_alaw(sine(1140.0, -11.0, 160))
    problems = fe.peer_tx(host.w.tick, peer_audio, [SetCas("3/2", 0b1111), SetCas("4/1", 0)])
    assert len(problems) == 1  # wrong span
    host.listen("3/2")
    host.run(1)
    assert host.of(CasChange)[-1][1] == CasChange("3/2", 0b1111)
    assert dominant_frequency(host.heard("3/2")) == pytest.approx(1140.0, rel=0.03)
    fe.detach_peer()
    assert not fe.peer_attached
