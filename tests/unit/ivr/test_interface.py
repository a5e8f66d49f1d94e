"""IvrCall drives a flow over a CallControl the way the daemon will: calls in, calls out."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ivr.events import TtsText
from ivr.flow_config import load_flow
from ivr.interface import CallControl, IvrCall
from tests.unit.ivr.harness import BEIJING

DEFAULT = Path(__file__).resolve().parents[3] / "packaging" / "ivr" / "travel-agency.toml"


class RecordingControl:
    """A call leg as the daemon would keep it, minus the audio: it notes every request."""

    def __init__(self) -> None:
        self.log: list[tuple] = []
        self.timers: dict[int, float] = {}

    def play(self, play_id, audio, barge_in):
        self.log.append(("play", play_id, tuple(audio), barge_in))

    def stop_play(self, play_id):
        self.log.append(("stop", play_id))

    def listen(self, on):
        self.log.append(("listen", on))

    def arm_timer(self, timer_id, at):
        self.timers[timer_id] = at

    def cancel_timer(self, timer_id):
        self.timers.pop(timer_id, None)

    def lookup(self, request_id, name, params, timeout_s):
        self.log.append(("lookup", request_id, name, params, timeout_s))

    def start_recording(self, record_id, max_s, silence_s, terminator, beep):
        self.log.append(("record", record_id))

    def transfer(self, to, target, summary):
        self.log.append(("transfer", to, target, summary))

    def hangup(self, cause, reason, summary):
        self.log.append(("hangup", cause, reason, summary))


def test_ivr_call_over_call_control():
    flow = load_flow(DEFAULT)
    ctl = RecordingControl()
    assert isinstance(ctl, CallControl)
    call = IvrCall(flow, ctl, "13912345678", "88886666", now=0.0, wall=dt.datetime(2026, 11, 23, 10, tzinfo=BEIJING))
    call.start()
    kind, play_id, audio, barge_in = ctl.log[0][:4] if ctl.log[0][0] == "play" else ctl.log[1][:4]
    assert kind == "play" and barge_in and audio == (TtsText(flow.prompts["welcome"].tts, "cmn-latn-pinyin"),)
    assert ("listen", True) in ctl.log
    call.on_prompt_done(play_id, 4.0)
    (timer_id, at), = ctl.timers.items()
    assert at == 9.0
    call.on_timer(timer_id, 9.0)  # silence: "no input" + menu again
    replay = [e for e in ctl.log if e[0] == "play"][-1]
    assert [a.text for a in replay[2]] == [flow.prompts["no_input"].tts, flow.prompts["welcome"].tts]
    call.on_digit("2", 10.0)
    assert ("stop", replay[1]) in ctl.log  # barge-in into the replayed menu
    booking = [e for e in ctl.log if e[0] == "play"][-1]
    call.on_prompt_done(booking[1], 12.0)
    kind, to, target, summary = ctl.log[-1]
    assert (kind, to, target) == ("transfer", "queue", "booking")
    assert summary["keys"] == "2" and summary["path"] == ["screen", "hours", "main", "booking"]
    call.on_transfer_failed("all agents busy", 40.0)
    busy = [e for e in ctl.log if e[0] == "play"][-1]
    assert busy[2] == (TtsText(flow.prompts["busy"].tts, "cmn-latn-pinyin"),)


def test_fixed_tts_texts_are_known_ahead():
    flow = load_flow(DEFAULT)
    texts = {t for t, _ in flow.tts_texts()}
    assert flow.prompts["welcome"].tts in texts and len(texts) == len(flow.prompts)
    assert all(v == "cmn-latn-pinyin" for _, v in flow.tts_texts())
