"""The simulated exchange answers outbound calls as China's analog network does — a person's greeting
after ringback, a recorded announcement with or without the SIT-like tones, ringing left on, busy —
measured at the host, and decided by the box's answer detector (hal.dsp.answer) from that audio."""

from __future__ import annotations

import numpy as np
import pytest

from hal.dsp.answer import AnswerBank, AnswerVerdict
from hal.dsp.measure import dominant_frequency, level_dbm0
from hal.events import PolarityReversal, SetHook
from sim import speech
from sim.central_office import Scenario
from sim.config import ConfigError
from tests.support.audio import contains
from tests.unit.sim.conftest import Host, cadence_ms, make_world
from tests.unit.sim.test_central_office import _dial

LINE = "1/1"


def dial_and_listen(host: Host, number: str, seconds: float) -> tuple[list[tuple[int, AnswerVerdict]], int]:
    """The host seizes LINE, dials ``number`` and listens for ``seconds`` with the answer detector on
    from the moment the number is complete, as the daemon does: (verdicts with their tick, tick 0)."""
    host.send(SetHook(LINE, True))
    host.run(5)
    _dial(host, LINE, number + "#")
    host.run(100, until=lambda: host.w.co.line(LINE).call.number is not None)
    host.sources.clear()
    ch = host.listen(LINE)
    bank = AnswerBank(host.w.channels)
    bank.reset(ch)
    verdicts: list[tuple[int, AnswerVerdict]] = []
    frames = np.zeros((host.w.channels, 160), np.int16)

    def detect() -> bool:
        frames[ch] = host.heard(LINE, last=1)
        verdicts.extend((host.w.tick, v) for _, v in bank.process(frames, [ch]))
        return False

    t0 = host.w.tick
    host.run(round(seconds * 50), until=detect)
    return verdicts, t0


def test_a_person_answers_after_ringback_with_a_spoken_greeting() -> None:
    w = make_world("")
    host = Host(w)
    w.co.scenarios["12301"] = Scenario.from_dict({"action": "answer", "after_s": 3.0, "party": "voice"})
    verdicts, t0 = dial_and_listen(host, "12301", 8.0)
    call = w.co.line(LINE).call
    rx = host.heard(LINE)
    ans = (call.answer_tick - t0) * 160
    assert dominant_frequency(rx[:8000]) == pytest.approx(450.0, rel=0.01)  # ringback first
    assert level_dbm0(rx[ans:ans + 3000]) < -50  # lifting the handset: a moment of quiet
    greeting = speech.clip(speech.GREETING)
    assert contains(rx[ans:ans + 2 * 8000], greeting) > 0.95  # then the greeting, as espeak-ng said it
    assert not host.of(PolarityReversal)  # China's analog lines: no answer signal
    [(tick, v)] = [(t, v) for t, v in verdicts if v.final]
    assert (v.answered, v.by) == (True, "voice") and (tick - call.answer_tick) * 20 <= 2000
    assert (tick - call.answer_tick) * 20 - v.ago_ms == pytest.approx(400, abs=100)  # the 0.4 s to the first word


def test_polarity_on_answer_per_number_overrides_the_line() -> None:
    w = make_world("")
    host = Host(w)
    w.co.scenarios["12301"] = Scenario.from_dict({"action": "answer", "after_s": 1.0, "polarity": True})
    dial_and_listen(host, "12301", 2.0)
    [(tick, _)] = host.of(PolarityReversal)
    assert tick == w.co.line(LINE).call.answer_tick


@pytest.mark.parametrize("kind", list(speech.ANNOUNCEMENTS))
def test_an_announcement_with_sit_tones_then_busy_tone_is_never_answered(kind: str) -> None:
    w = make_world("")
    host = Host(w)
    w.co.scenarios["12302"] = Scenario.from_dict({"action": "announcement", "announcement": kind, "sit": True,
                                                  "after_s": 1.0, "repeats": 1})
    verdicts, _ = dial_and_listen(host, "12302", 14.0)
    rx = host.heard(LINE)
    sit = rx[8000 + 160: 8000 + 3 * 2640]
    got = [dominant_frequency(sit[i * 2640 + 400: (i + 1) * 2640 - 400]) for i in range(3)]
    assert got == pytest.approx([950.0, 1400.0, 1800.0], rel=0.01)
    assert contains(rx, speech.clip(*speech.ANNOUNCEMENTS[kind][0])) > 0.95  # the Mandarin sentence
    assert contains(rx, speech.clip(*speech.ANNOUNCEMENTS[kind][1])) > 0.95  # and the English one
    assert w.co.line(LINE).state == "busy" and w.co.line(LINE).call.answer_tick is None
    runs = cadence_ms(rx[-2 * 8000:])[1:-1]  # then busy tone
    assert len(runs) >= 3 and all(ms == pytest.approx(350, abs=40) for _, ms in runs)
    [(tick, v)] = [(t, v) for t, v in verdicts if v.final]
    assert (v.answered, v.by, v.reason) == (False, "tone", "sit")


def test_an_announcement_after_ringback_without_tones_is_early_media_then_busy() -> None:
    w = make_world("")
    host = Host(w)
    w.co.scenarios["12303"] = Scenario.from_dict({"action": "announcement", "announcement": "busy",
                                                  "ringback_s": 5.5, "after_s": 0.5})
    verdicts, _ = dial_and_listen(host, "12303", 40.0)
    assert not [v for _, v in verdicts if v.answered]
    assert [v.reason for _, v in verdicts] == ["announcement", "announcement"]
    assert verdicts[-1][1].final and verdicts[-1][1].by == "tone"
    assert w.co.line(LINE).call.answer_tick is None


def test_left_ringing_is_never_answered_and_busy_is_busy() -> None:
    w = make_world("")
    host = Host(w)
    w.co.scenarios["12304"] = Scenario.from_dict({"action": "noanswer"})
    w.co.scenarios["12305"] = Scenario.from_dict({"action": "busy"})
    verdicts, _ = dial_and_listen(host, "12304", 60.0)
    assert verdicts == [] and w.co.line(LINE).state == "alerting"
    host.send(SetHook(LINE, False))
    host.run(5)
    verdicts, t0 = dial_and_listen(host, "12305", 3.0)
    [(tick, v)] = verdicts
    assert (v.answered, v.reason) == (False, "busy") and (tick - t0) * 20 <= 0.5 * 1000 + 1200


@pytest.mark.parametrize(("bad", "message"), [
    ({"party": "robot"}, "party must be one of"),
    ({"action": "announcement", "announcement": "closed"}, "announcement must be one of"),
    ({"sit": "yes"}, "sit must be true or false"),
    ({"repeats": 0}, "repeats must be an integer"),
    ({"say": ""}, "say must be a non-empty string"),
    ({"ringback_s": -1}, "ringback_s must be a non-negative number"),
    ({"colour": "red"}, "unknown scenario key(s): colour"),
])
def test_scenario_settings_are_checked(bad: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Scenario.from_dict(bad)
    with pytest.raises(ConfigError, match="co.scenario"):
        make_world('[[co.scenario]]\nnumber = "1"\n' + "\n".join(
            f"{k} = {v!r}".replace("'", '"').replace("True", "true") for k, v in bad.items()) + "\n")
