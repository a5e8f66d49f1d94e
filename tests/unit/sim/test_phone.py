"""Simulated phones on FXS ports: hook and flash events, ringing, caller ID, audio both ways."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from hal.dsp.callerid import CallerId, fsk_encode
from hal.dsp.dtmf import DtmfReceiver
from hal.dsp.g711 import alaw_to_linear
from hal.dsp.measure import dominant_frequency
from hal.dsp.tones import sine
from hal.events import OffHook, OnHook, SetLoopCurrent, SetPolarity, SetRing
from sim.audio import Recorder, SamplesSource, load_wav
from tests.unit.sim.conftest import Host

PORT = "2/1"


def _ring_cadence(host: Host, port: str, cycles: int, cid: np.ndarray | None = None) -> None:
    """Host rings ``port`` 1 s on / 4 s off; optional caller ID audio 0.5 s after the first ring."""
    ch = host.chan[port]
    for c in range(cycles):
        host.send(SetRing(port, True))
        host.run(50)
        host.send(SetRing(port, False))
        if c == 0 and cid is not None:
            host.run(25)
            frames = list(np.pad(cid, (0, -len(cid) % 160)).reshape(-1, 160))
            host.sources[ch] = lambda f=frames: f.pop(0) if f else np.zeros(160, np.int16)
            host.run(175)
            host.sources.pop(ch)
        else:
            host.run(200)


def test_off_hook_on_hook_events_and_state(host: Host) -> None:
    ph = host.w.phone("8001")
    assert ph.id == PORT and host.w.phone("2/1") is ph
    ph.off_hook()
    host.run(1)
    ph.on_hook()
    host.run(1)
    assert [type(e) for _, e in host.events] == [OffHook, OnHook]
    assert ph.state()["hook"] == "on"


def test_flash_is_on_hook_then_off_hook_ms_apart(host: Host) -> None:
    ph = host.w.phone("8002")
    ph.off_hook()
    host.run(5)
    ph.flash(300)
    host.run(30)
    (t_on, _), = host.of(OnHook)
    t_offs = [t for t, _ in host.of(OffHook)]
    assert (t_offs[-1] - t_on) * 20 == pytest.approx(300, abs=20)
    assert ph.is_off_hook


def test_ring_counting_and_cadence(host: Host) -> None:
    _ring_cadence(host, PORT, 3)
    st = host.w.phone("8001").state()
    assert st["rings"] == 3 and not st["ringing"]
    assert st["ring_cadence_ms"][0] == [1000, 4000] and st["ring_cadence_ms"][1] == [1000, 4000]


def test_fsk_caller_id_shown_between_rings(host: Host) -> None:
    cid = fsk_encode(CallerId("13800138000", "LI SI"), mdmf=True)
    _ring_cadence(host, PORT, 2, cid)
    st = host.w.phone("8001").state()
    assert st["caller_id"] == "13800138000" and st["caller_name"] == "LI SI"


def test_ring_trip_and_no_ring_while_off_hook(host: Host) -> None:
    ph = host.w.phone("8001")
    host.send(SetRing(PORT, True))
    host.run(10)
    ph.off_hook()
    host.run(1)
    assert not ph.ringing and ph.ring_log[-1][1] is not None
    host.send(SetRing(PORT, True))
    host.run(1)
    assert not ph.ringing and ph.ring_while_off_hook == 1


def test_phone_tone_reaches_host_and_host_audio_is_recorded(host: Host) -> None:
    ph = host.w.phone("8003")
    port = ph.id
    ph.off_hook()
    ph.mouth.tone(1300.0, -12.0)
    host.sources[host.chan[port]] = lambda: sine(700.0, -10.0, 160)
    host.listen(port)
    mark = host.w.tick + 1
    host.run(50)
    assert dominant_frequency(host.heard(port)) == pytest.approx(1300.0, rel=0.01)
    audio, first = ph.recorder.heard(since=mark)
    assert first == mark and len(audio) == 50 * 160
    assert dominant_frequency(alaw_to_linear(np.frombuffer(audio, np.uint8))) == pytest.approx(700.0, rel=0.01)


def test_nothing_recorded_on_hook(host: Host) -> None:
    host.sources[host.chan[PORT]] = lambda: sine(700.0, -10.0, 160)
    host.run(20)
    assert host.w.phone("8001").recorder.frames == 0


def test_dial_reaches_host_as_dtmf(host: Host) -> None:
    ph = host.w.phone("8001")
    ph.off_hook()
    ph.dial("8002#")
    host.listen(PORT)
    host.run(60)
    rx, audio = DtmfReceiver(), host.heard(PORT)
    got = [d for i in range(0, len(audio), 160) for d in rx.process(audio[i:i + 160])]
    assert "".join(got) == "8002#"
    with pytest.raises(ValueError):
        host.w.phone("8002").dial("1")  # on hook


def test_wav_any_rate_is_converted_and_sent(host: Host, tmp_path: Path) -> None:
    path = tmp_path / "t.wav"
    t = np.arange(16000)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(16000)
        f.writeframes((8000 * np.sin(2 * np.pi * 600 * t / 16000)).astype("<i2").tobytes())
    samples = load_wav(path)
    assert len(samples) == pytest.approx(8000, abs=10)
    ph = host.w.phone("8001")
    ph.off_hook()
    ph.mouth.say(SamplesSource(samples, loop=False))
    host.listen(PORT)
    host.run(60)
    rx = host.heard(PORT)
    assert dominant_frequency(rx[:8000]) == pytest.approx(600.0, rel=0.01)
    assert np.abs(rx[-1600:]).max() < 50  # played once, then silence


def test_polarity_and_loop_current_from_host_are_noted(host: Host) -> None:
    host.send(SetPolarity(PORT, True), SetLoopCurrent(PORT, False))
    host.run(1)
    st = host.w.phone("8001").state()
    assert st["polarity_reversed"] and not st["loop_current"] and st["loop_current_log"][0][1] is False


def test_auto_answer_after_rings_and_auto_hangup(host: Host) -> None:
    ph = host.w.phone("8004")
    ph.auto_answer_rings = 2
    ph.auto_hangup_s = 2.0
    host.send(SetRing(ph.id, True))
    host.run(50)
    host.send(SetRing(ph.id, False))
    host.run(200)
    assert not ph.is_off_hook
    host.send(SetRing(ph.id, True))
    host.run(30)
    assert ph.is_off_hook
    host.send(SetRing(ph.id, False))
    host.run(110)
    assert not ph.is_off_hook
    offs, ons = host.of(OffHook), host.of(OnHook)
    assert (ons[0][0] - offs[0][0]) * 20 == pytest.approx(2000, abs=40)


def test_recorder_is_bounded_and_keeps_tick_order() -> None:
    r = Recorder(seconds=1.0)
    for t in range(120):
        r.record(t, np.full(160, t, np.uint8))
    assert r.frames == 50
    audio, first = r.heard()
    assert first == 70 and audio[0] == 70 and audio[-1] == 119
    audio, first = r.heard(since=100, until=105)
    assert first == 100 and len(audio) == 5 * 160
