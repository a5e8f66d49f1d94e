"""The traffic generator, the control ops in-process, and the config file format."""

from __future__ import annotations

import asyncio
import tomllib

import pytest

from hal.dsp.dtmf import DtmfReceiver
from hal.dsp.g711 import alaw_to_linear
from hal.events import OffHook, OnHook, RingStart, SetHook, SetRing
from sim.config import DEFAULT_TOML, ConfigError, load_config, parse_config
from sim.ops import Ops
from sim.traffic import TrafficGenerator, TrafficSettings
from sim.world import SimWorld
from tests.unit.sim.conftest import Host


def test_traffic_arrivals_answers_abandons_and_phones() -> None:
    w = SimWorld()
    host = Host(w)
    tg = TrafficGenerator(w)
    tg.start(TrafficSettings(rate_per_min=60.0, patience_s=(4.0, 4.0), talk_s=(2.0, 3.0), seed=7,
                             answer_rings=(1, 1), phone_talk_s=(1.0, 1.0), ivr_digits=["1", "2"], ivr_delay_s=0.5))
    answered: set[str] = set()
    for _ in range(50 * 60):
        host.run(1)
        # a crude host: answer line 1/1 when it rings, hang up when the CO clears; never answer the others
        ln = w.co.line("1/1")
        if ln.state == "ringing" and ln.ring_on and "1/1" not in answered:
            host.send(SetHook("1/1", True))
            answered.add("1/1")
        elif ln.state == "cleared":
            host.send(SetHook("1/1", False))
            answered.discard("1/1")
    st = tg.stats()
    assert st["offered"] >= 40
    assert st["answered"] >= 5 and st["abandoned"] >= 5 and st["completed"] >= 5
    numbers = [c.caller_id["number"] for ln in w.co.lines.values() for c in ln.history]
    assert all(len(n) == 11 and n[:2] in ("13", "15", "18") for n in numbers)
    assert any(c.digits for c in w.co.line("1/1").history) is False  # the CO hears no DTMF from this host
    # phones answer after one ring and hang up after their talk time
    ph = w.phone("8005")
    host.send(SetRing(ph.id, True))
    host.run(40)
    assert ph.is_off_hook and ph.mouth.source is not None
    host.send(SetRing(ph.id, False))
    host.run(60)
    assert not ph.is_off_hook and st["running"]
    tg.stop()
    assert not tg.stats()["running"] and ph.auto_answer_rings == 0


def test_a_caller_goes_through_two_ivr_menus() -> None:
    """``"1,2"``: the caller presses 1 ``ivr_delay_s`` after the answer, then 2 after as long again."""
    w = SimWorld()
    host = Host(w)
    tg = TrafficGenerator(w)
    tg.start(TrafficSettings(rate_per_min=600.0, ivr_digits=["1,2"], ivr_delay_s=1.0, talk_s=(10.0, 10.0),
                             patience_s=(20.0, 20.0), lines=["1/1"], seed=3))
    ch = host.chan["1/1"]
    host.run(400, until=lambda: bool(tg.active))
    tg.stop()  # one caller: no more arrivals, the one calling goes on
    host.run(400, until=lambda: w.co.line("1/1").state == "ringing")
    host.send(SetHook("1/1", True))
    host.listen("1/1")
    host.run(50 * 4)
    receiver, heard = DtmfReceiver(), []
    frames = host.rx[ch]
    for i, frame in enumerate(frames):
        for d in receiver.process(alaw_to_linear(frame)):
            heard.append((d, i))
    assert [d for d, _ in heard] == ["1", "2"]
    assert 40 <= heard[0][1] <= 70 and 40 <= heard[1][1] - heard[0][1] <= 60  # 1 s after the answer, 1 s apart


def test_traffic_settings_validation() -> None:
    with pytest.raises(ValueError):
        TrafficSettings.from_dict({"rate": 3})
    with pytest.raises(ValueError):
        TrafficSettings.from_dict({"talk_s": [5]})
    s = TrafficSettings.from_dict({"rate_per_min": 12, "talk_s": [1, 2], "lines": ["1/1"]})
    assert s.rate_per_min == 12.0 and s.talk_s == (1.0, 2.0)


def _op(ops: Ops, op: str, **args) -> dict:  # noqa: ANN003
    return asyncio.run(ops.handle({"id": 1, "op": op, **args}))


def test_ops_in_process() -> None:
    w = SimWorld()
    ops = Ops(w)
    host = Host(w)
    assert _op(ops, "co.call", line="1/3", caller_id={"number": "13800000001", "name": "A"})["ok"]
    host.run(2)
    assert host.of(RingStart)[0][1].port == "1/3"
    assert _op(ops, "co.state", line="1/3")["state"] == "ringing"
    assert set(_op(ops, "co.state")["lines"]) == {"1/1", "1/2", "1/3", "1/4"}
    assert _op(ops, "phone.off_hook", phone="8002")["hook"] == "off"
    assert _op(ops, "phone.send_tone", phone="8002", freq=500)["ok"]
    assert _op(ops, "phone.flash", phone="8002", ms=200)["ok"]
    host.run(15)
    assert [type(e) for _, e in host.events if not isinstance(e, RingStart)] == [OffHook, OnHook, OffHook]
    st = _op(ops, "phone.state", phone="8002")
    assert st["hook"] == "off" and st["flashes"] == 1 and st["sending"]["freqs"] == [500.0]
    heard = _op(ops, "phone.heard", phone="8002", since=w.tick - 4)
    assert len(heard["audio"]) == 5 * 160 and heard["first_tick"] == w.tick - 4
    assert _op(ops, "co.scenario", number="777", action="unallocated", after_s=0)["ok"]
    assert w.co.scenarios["777"].action == "unallocated"
    assert _op(ops, "co.scenario", number="*", action="busy")["ok"] and w.co.default_scenario.action == "busy"
    assert _op(ops, "e1.alarm", span=4, alarm="ais", on=True)["alarms"] == ["AIS"]
    assert _op(ops, "e1.send_hdlc", span=4, data=b"abc")["delivered"] is False  # AIS blinds the host
    assert not _op(ops, "e1.alarm", span=4, alarm="XYZ")["ok"]
    assert not _op(ops, "e1.set_cas", span=3, ts=16, bits=1)["ok"]
    assert not _op(ops, "e1.set_cas", span=3, ts=1, bits=99)["ok"]
    assert _op(ops, "e1.send_tone", span=3, ts=1, freq=1000)["ok"]
    assert not _op(ops, "link.inject_garbage", n=10)["ok"]  # no board link in-process
    assert not _op(ops, "phone.send_wav", phone="8001", path="/nonexistent.wav")["ok"]
    assert _op(ops, "traffic.start", rate_per_min=1, seed=1)["running"]
    assert not _op(ops, "traffic.stop")["running"]
    assert _op(ops, "tick")["tick"] == w.tick
    assert asyncio.run(ops.handle("nonsense"))["ok"] is False


def test_default_config_and_errors(tmp_path) -> None:  # noqa: ANN001
    cfg = load_config()
    assert [s["kind"] for s in cfg.layout] == ["fxo", "fxs", "e1", "e1"]
    assert [p.extension for p in cfg.phones.values()] == [str(8001 + i) for i in range(8)]
    data = tomllib.loads(DEFAULT_TOML)
    data["co"]["line"] = [{"port": "1/2", "callerid": "dtmf", "disconnect": ["busy", "polarity"]}]
    data["co"]["scenario"] = [{"number": "12301", "action": "busy", "after_s": 1}]
    data["phone"] = [{"port": "2/3", "extension": "8100", "auto_answer_rings": 2}]
    cfg = parse_config(data)
    assert cfg.co_lines["1/2"].callerid == "dtmf" and cfg.co_lines["1/2"].disconnect_polarity
    assert cfg.scenarios["12301"].action == "busy" and cfg.phones["2/3"].extension == "8100"
    w = SimWorld(cfg)
    assert w.phone("8100").auto_answer_rings == 2 and w.co.line("1/2").s.callerid == "dtmf"
    for bad, key in (({"co": {"line": [{"port": "2/1"}]}}, "co.line[0].port"),
                     ({"co": {"callerid": "smoke"}}, "co"),
                     ({"phone": [{"port": "9/9"}]}, "phone[0].port"),
                     ({"span": [{"kind": "fxs", "ports": 0}]}, "span[0].ports")):
        with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
            parse_config(bad)
    p = tmp_path / "x.toml"
    p.write_text("[[span]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="x.toml"):
        load_config(p)
