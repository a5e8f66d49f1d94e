"""The lines' hybrids: what the box plays on a closed line comes back on its receive path, the configured
response (echo return loss, bulk delay, dispersion) ``tx_buffer_frames`` ticks after the host's tick;
nothing comes back from an open line or one configured without echo."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from hal.dsp.g711 import alaw_to_linear, linear_to_alaw
from hal.events import SetHook
from sim.config import DEFAULT_TOML, ConfigError, parse_config
from sim.hybrid import HybridSettings
from sim.ops import Ops
from sim.world import SimWorld
from tests.support.line_echo import voice_band_noise
from tests.unit.sim.conftest import SILENCE

LINE = "1/1"
PHONE = "8001"


def _connected_line(world: SimWorld) -> int:
    """An inbound call on LINE answered by the host (the caller silent); the line's channel."""
    world.co.call(LINE, "13800138000")
    world.step()
    world.command(SetHook(LINE, True))
    world.step()
    assert world.co.line(LINE).state == "connected"
    return world.co.line(LINE).port.channel


def _send(world: SimWorld, ch: int, signal: np.ndarray) -> np.ndarray:
    """Play ``signal`` on channel ``ch`` tick by tick (answering each tick at once, as a host does); the
    linear audio the channel received meanwhile and for 10 ticks after."""
    got = []
    frames = signal.reshape(-1, 160)
    for i in range(len(frames) + 10):
        rx, _ = world.step()
        got.append(alaw_to_linear(rx[ch]))
        tx = np.full((world.channels, 160), SILENCE, np.uint8)
        if i < len(frames):
            tx[ch] = linear_to_alaw(frames[i])
        world.apply_tx(world.tick, tx)
    return np.concatenate(got).astype(np.float64)


def _estimate_response(sent: np.ndarray, heard: np.ndarray, taps: int) -> np.ndarray:
    """The impulse response from ``sent`` to ``heard`` (least squares over ``taps`` taps)."""
    n = len(sent)
    cols = np.stack([np.concatenate([np.zeros(k), sent[: n - k]]) for k in range(taps)], axis=1)
    h, *_ = np.linalg.lstsq(cols, heard[:n], rcond=None)
    return h


def test_a_closed_line_returns_the_configured_echo_the_buffer_after_the_hosts_tick() -> None:
    world = SimWorld(parse_config({}))
    ch = _connected_line(world)
    sent = voice_band_noise(160 * 100)
    heard = _send(world, ch, sent)
    lag = world.tx_buffer_frames * 160  # the host answers the tick it got: played B ticks later
    expected = world.hybrid_settings[LINE].response()
    h = _estimate_response(sent, heard[lag:], len(expected) + 16)
    corr = np.dot(h[: len(expected)], expected) / (np.linalg.norm(h) * np.linalg.norm(expected))
    assert corr > 0.99
    erl = 10 * np.log10(np.mean(sent ** 2) / np.mean(heard[lag:lag + len(sent)] ** 2))
    assert erl == pytest.approx(12.0, abs=1.0)  # the default FXO line
    first = np.flatnonzero(np.abs(expected) > 0)[0]
    assert first == 24  # 3 ms of bulk delay


def test_the_echo_rings_on_after_the_line_falls_silent() -> None:
    """An impulse in a tick's last sample: its echo (bulk delay, dispersion) comes back whole in the ticks
    after, when the line plays nothing any more (a hybrid with nothing new to echo still rings)."""
    world = SimWorld(parse_config({}))
    ch = _connected_line(world)
    sent = np.zeros(160 * 3)
    sent[159] = 20000.0
    heard = _send(world, ch, sent)
    start = world.tx_buffer_frames * 160 + 159
    expected = world.hybrid_settings[LINE].response()
    got = heard[start:start + len(expected)]
    assert len(expected) > 40  # the response outlasts the tick it was excited in
    corr = np.dot(got, expected) / (np.linalg.norm(got) * np.linalg.norm(expected))
    assert corr > 0.99


def test_an_open_line_and_a_line_without_echo_return_nothing() -> None:
    silence = float(alaw_to_linear(np.uint8(SILENCE)))
    sent = voice_band_noise(160 * 20)
    world = SimWorld(parse_config({}))
    ch = world.phone(PHONE).port.channel
    assert (_send(world, ch, sent) == silence).all()  # on hook: the loop is open
    world.phone(PHONE).off_hook()
    echo = _send(world, ch, sent)[world.tx_buffer_frames * 160:][: len(sent)]
    level = 10 * np.log10(np.mean(echo ** 2) / np.mean(sent ** 2))
    assert level == pytest.approx(-20.0, abs=1.0)  # the default phone line

    world = SimWorld(parse_config({"echo": {"fxs": {"erl_db": 0}}}))
    world.phone(PHONE).off_hook()
    assert (_send(world, ch, sent) == silence).all()


def test_echo_adds_to_what_the_far_end_says() -> None:
    world = SimWorld(parse_config({}))
    ch = _connected_line(world)
    tone = (10000 * np.sin(2 * np.pi * 1000 * np.arange(160 * 30) / 8000)).astype(np.int16)
    world.co.line(LINE).party.tone(400.0, -10.0)
    heard = _send(world, ch, tone.astype(np.float64))[1000:4000]
    spec = np.abs(np.fft.rfft(heard * np.hanning(len(heard))))
    f = np.fft.rfftfreq(len(heard), 1 / 8000)
    at = {hz: spec[np.argmin(np.abs(f - hz))] for hz in (400, 1000)}
    assert 20 * np.log10(at[1000] / at[400]) < -3  # the far end's tone on top, the echo of ours under it
    assert at[1000] > 0.05 * at[400]


def test_e1_echo_is_off_by_default_and_configurable_per_timeslot() -> None:
    cfg = parse_config({})
    assert not cfg.echo_for("3/1", "e1").on
    cfg = parse_config({"echo": {"port": [{"port": "3/1", "erl_db": 15}]}})
    s = cfg.echo_for("3/1", "e1")
    assert (s.erl_db, s.delay_ms, s.dispersion_ms) == (15.0, 12.0, 8.0)  # the default far exchange's
    assert not cfg.echo_for("3/2", "e1").on
    world = SimWorld(cfg)
    ch = world.span(3).first_channel
    heard = _send(world, ch, voice_band_noise(160 * 20))
    assert 10 * np.log10(np.mean(heard ** 2)) > 50  # -15 dBm0 noise comes back about 15 dB down


@pytest.mark.parametrize(("table", "key"), [
    ({"fxo": {"erl_db": 1.0}}, "echo.fxo.erl_db"),
    ({"fxs": {"delay_ms": -1}}, "echo.fxs.delay_ms"),
    ({"fxs": {"dispersion_ms": "long"}}, "echo.fxs.dispersion_ms"),
    ({"fxo": {"erl": 12}}, "echo.fxo.erl"),
    ({"fxo": 12}, "echo.fxo"),
    ({"port": [{"port": "9/9", "erl_db": 10}]}, "echo.port[0].port"),
    ({"e2": {}}, "echo.e2"),
])
def test_bad_echo_settings_name_their_key(table: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{key.replace('[', '.').replace(']', '.')}"):
        parse_config({"echo": table})


def test_the_default_config_documents_the_realistic_lines() -> None:
    assert "[echo]" in DEFAULT_TOML
    cfg = parse_config({})
    assert cfg.echo["fxo"] == HybridSettings(12.0, 3.0, 6.0)
    assert cfg.echo["fxs"] == HybridSettings(20.0, 0.5, 3.0)


def test_echo_set_changes_one_port_at_run_time() -> None:
    world = SimWorld(parse_config({}))
    ops = Ops(world)
    reply = asyncio.run(ops.handle({"id": 1, "op": "echo.set", "port": LINE, "erl_db": 0}))
    assert reply["ok"] and reply["erl_db"] == 0.0 and reply["delay_ms"] == 3.0
    assert not world.hybrid_settings[LINE].on
    bad = asyncio.run(ops.handle({"id": 2, "op": "echo.set", "port": LINE, "erl_db": 2}))
    assert not bad["ok"] and "erl_db" in bad["error"]
    bad = asyncio.run(ops.handle({"id": 3, "op": "echo.set", "port": "7/7"}))
    assert not bad["ok"] and "7/7" in bad["error"]
