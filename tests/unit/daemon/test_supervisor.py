"""Supervisor listen / whisper / barge on the whole box in one process (virtual clock). The caller, the
agent and the supervisor each send their own tone; what each hears is measured."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.extension_features import ExtensionFeatures
from tests.support.audio import tone_frequency
from tests.support.inprocess import Box
from tests.support.tone_levels import heard_tones

CALLER, AGENT, SUP = "8001", "8002", "8008"  # 8008: agent 1008, supervisor, PIN 8888 (default config)
TONES = {CALLER: 500.0, AGENT: 700.0, SUP: 1700.0}


@pytest.fixture
def box() -> Box:
    b = Box()
    b.features = ExtensionFeatures(b.engine)
    b.run(0.2)
    return b


def ph(box: Box, n: str):
    return box.world.phone(n)


def listen(box: Box) -> dict[str, set[str]]:
    for n, f in TONES.items():
        ph(box, n).mouth.tone(f)
    box.run(0.3)
    mark = box.world.tick
    box.run(1.0)
    return {n: heard_tones(box.heard(n, mark), {k: v for k, v in TONES.items() if k != n}) for n in TONES}


def agent_call(box: Box) -> None:
    ph(box, CALLER).off_hook()
    box.run(0.5)
    ph(box, CALLER).dial(AGENT)
    box.run_until(lambda: ph(box, AGENT).ringing, 5, "agent ringing")
    ph(box, AGENT).off_hook()
    box.run(0.5)


def supervise(box: Box, code: str) -> None:
    s = ph(box, SUP)
    s.off_hook()
    box.run(0.5)
    s.mouth.silence()
    s.dial(code)
    box.run(0.2 * len(code) + 0.5)


def test_listen_hears_both_and_is_heard_by_nobody(box: Box) -> None:
    agent_call(box)
    supervise(box, f"*31{AGENT}#8888#")
    assert listen(box) == {CALLER: {AGENT}, AGENT: {CALLER}, SUP: {CALLER, AGENT}}


def test_whisper_is_heard_by_the_agent_only(box: Box) -> None:
    agent_call(box)
    supervise(box, f"*32{AGENT}#8888#")
    assert listen(box) == {CALLER: {AGENT}, AGENT: {CALLER, SUP}, SUP: {CALLER, AGENT}}


def test_barge_everyone_hears_everyone(box: Box) -> None:
    agent_call(box)
    supervise(box, f"*33{AGENT}#8888#")
    assert listen(box) == {CALLER: {AGENT, SUP}, AGENT: {CALLER, SUP}, SUP: {CALLER, AGENT}}


def test_keys_switch_mode_and_the_tap_ends_with_the_call(box: Box) -> None:
    agent_call(box)
    supervise(box, f"*31{AGENT}#8888#")
    assert listen(box)[AGENT] == {CALLER}
    ph(box, SUP).mouth.silence()
    ph(box, SUP).dial("2")  # whisper
    box.run(0.5)
    assert listen(box) == {CALLER: {AGENT}, AGENT: {CALLER, SUP}, SUP: {CALLER, AGENT}}
    ph(box, SUP).mouth.silence()
    ph(box, SUP).dial("3")  # barge
    box.run(0.5)
    assert listen(box)[CALLER] == {AGENT, SUP}
    ph(box, CALLER).on_hook()
    box.run(1.5)
    ph(box, SUP).mouth.silence()
    mark = box.world.tick
    box.run(1.0)
    assert tone_frequency(box.heard(SUP, mark)) == pytest.approx(450.0, rel=0.02)  # busy: the call is over
    assert not box.features.supervisors.taps and not box.engine.media.mixer.routes
    ph(box, SUP).on_hook()
    box.run(1.0)
    assert any(c["src"] == SUP and c["called"] == "*31#" for c in box.cdrs())


def test_wrong_pin_is_refused(box: Box) -> None:
    agent_call(box)
    supervise(box, f"*31{AGENT}#1234#")
    heard = listen(box)
    assert heard[SUP] == set() and heard[AGENT] == {CALLER}
    assert not box.features.supervisors.taps


def test_api_request_rings_the_supervisor_then_listens(box: Box) -> None:
    agent_call(box)
    tap = box.features.supervisors.request("listen", SUP, AGENT)
    assert tap.state == "ringing"
    box.run_until(lambda: ph(box, SUP).ringing, 5, "supervisor ringing")
    ph(box, SUP).off_hook()
    box.run(0.5)
    assert listen(box) == {CALLER: {AGENT}, AGENT: {CALLER}, SUP: {CALLER, AGENT}}
    box.features.supervisors.request("whisper", SUP, AGENT)  # change mode on the active tap
    assert listen(box)[AGENT] == {CALLER, SUP}
    box.features.supervisors.stop(SUP)
    box.run(0.5)
    assert not box.engine.media.mixer.routes


def test_target_by_agent_id(tmp_path: Path) -> None:
    box = Box(acd=True)
    box.features = ExtensionFeatures(box.engine)
    box.run(0.2)
    agent = ph(box, AGENT)
    agent.off_hook()
    box.run(0.5)
    agent.dial("*211001#1001#")
    box.run_until(lambda: box.engine.calls.acd.agent_extension("1001") == AGENT, 5, "agent 1001 logged in at 8002")
    box.run(4.0)
    agent.on_hook()
    box.run(1.0)
    agent_call(box)
    supervise(box, "*321001#8888#")
    assert listen(box) == {CALLER: {AGENT}, AGENT: {CALLER, SUP}, SUP: {CALLER, AGENT}}
