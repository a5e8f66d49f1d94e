"""A caller retrieves voicemail by keys: box, PIN, counts, play, save, delete, greeting, lockout."""

from __future__ import annotations

import datetime as dt
import subprocess

import numpy as np
import pytest

from hal.dsp.g711 import alaw_to_linear
from ivr import say
from ivr.events import (
    ArmTimer,
    CancelTimer,
    Digit,
    HangupRequest,
    Play,
    PromptDone,
    PromptFile,
    RecordingDone,
    StartRecording,
    TimerFired,
    TtsText,
)
from ivr.mailbox import PROMPTS, MailboxSession, StoreRequest, StoreResult, run_store_request
from ivr.prompts import Prompts
from ivr.tts import Tts, load_alaw
from ivr.voicemail import Box, Voicemail


class Caller:
    """The daemon's part: runs store requests at once, ends plays on demand, fires timers."""

    def __init__(self, vm: Voicemail, **kw) -> None:
        self.vm = vm
        self.now = 0.0
        self.s = MailboxSession(now=0.0, **kw)
        self.plays: list[Play] = []
        self.timers: dict[int, float] = {}
        self.recording: StartRecording | None = None
        self.hangup: HangupRequest | None = None
        self._apply(self.s.start())

    def _apply(self, actions) -> None:
        for a in actions:
            if isinstance(a, Play):
                self.plays.append(a)
            elif isinstance(a, ArmTimer):
                self.timers[a.id] = a.at
            elif isinstance(a, CancelTimer):
                self.timers.pop(a.id, None)
            elif isinstance(a, StoreRequest):
                self._apply(self.s.handle(StoreResult(a.id, run_store_request(self.vm, a), self.now)))
            elif isinstance(a, StartRecording):
                self.recording = a
            elif isinstance(a, HangupRequest):
                self.hangup = a

    def heard(self) -> list[str]:
        return [i.text if isinstance(i, TtsText) else f"file:{i.name}" for i in self.plays[-1].items]

    def finish_play(self) -> None:
        self.now += 2
        self._apply(self.s.handle(PromptDone(self.plays[-1].id, self.now)))

    def keys(self, keys: str) -> None:
        for k in keys:
            self.now += 0.3
            self._apply(self.s.handle(Digit(k, self.now)))

    def wait(self, seconds: float) -> None:
        self.now += seconds
        for tid, at in sorted(self.timers.items(), key=lambda kv: kv[1]):
            if at <= self.now and tid in self.timers:
                del self.timers[tid]
                self._apply(self.s.handle(TimerFired(tid, at)))


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    tts = Tts(tmp_path_factory.mktemp("tts"))
    out = [load_alaw(tts.synthesize(t)) for t in ("请回电话，谢谢", "明天上午十点出发")]
    tts.close()
    return out


@pytest.fixture
def vm(tmp_path, speech):
    v = Voicemail(tmp_path / "vm", wrong_pins=3)
    v.configure(Box("extension:8001"), pin="2468")
    v.deposit("extension:8001", speech[0], caller="13912345678")
    v.deposit("extension:8001", speech[1], caller="8002")
    yield v
    v.close()


def test_login_listen_save_delete(vm, speech, tmp_path):
    c = Caller(vm)
    assert c.heard() == [PROMPTS["enter_box"]]
    c.keys("8001#")
    assert c.heard() == [PROMPTS["enter_pin"]]
    c.keys("1111#")
    assert c.heard() == [PROMPTS["wrong_pin"], PROMPTS["enter_pin"]]
    c.keys("2468#")
    assert c.heard() == ["您有两条新留言，零条已保存留言", PROMPTS["main_menu"]]
    c.keys("1")
    first = c.plays[-1]
    assert first.items[0].text.startswith("第一条留言，来电号码一三九一二三四五六七八")
    assert isinstance(first.items[1], PromptFile)
    played = Prompts(tmp_path / "pc").load(first.items[1].path).samples  # what the caller would hear
    a, b = alaw_to_linear(played).astype(float), alaw_to_linear(speech[0]).astype(float)
    assert len(a) == len(b) and np.corrcoef(a, b)[0, 1] > 0.999
    c.finish_play()
    assert c.heard() == [PROMPTS["after_message"]]
    c.keys("2")  # save
    assert c.heard() == [PROMPTS["saved"]]
    c.finish_play()
    assert c.plays[-1].items[0].text.startswith("第二条留言，来电号码八零零二")
    c.keys("3")  # barge into the message: delete it
    assert c.heard() == [PROMPTS["deleted"], PROMPTS["no_more"], PROMPTS["main_menu"]]
    assert vm.counts("extension:8001") == (0, 1)
    c.keys("2")  # saved messages
    assert c.plays[-1].items[0].text.startswith("第一条留言")
    c.keys("*")  # back to the main menu with fresh counts
    assert c.heard() == ["您有零条新留言，一条已保存留言", PROMPTS["main_menu"]]
    c.keys("*")
    assert c.heard() == [PROMPTS["goodbye"]]
    c.finish_play()
    assert c.hangup is not None and c.s.done


def test_wrong_pin_three_times_locks_the_box(vm):
    c = Caller(vm, box="extension:8001")
    assert c.heard() == [PROMPTS["enter_pin"]]
    c.keys("0000#")
    c.keys("0000#")
    c.keys("0000#")
    assert c.heard() == [PROMPTS["locked"]]
    c.finish_play()
    assert c.hangup is not None
    assert vm.check_pin("extension:8001", "2468").locked  # the right PIN no longer opens it
    again = Caller(vm, box="extension:8001")
    again.keys("2468#")
    assert again.heard() == [PROMPTS["locked"]]


def test_unknown_box_sounds_like_a_wrong_pin(vm):
    c = Caller(vm)
    c.keys("9999#")
    c.keys("1234#")
    assert c.heard() == [PROMPTS["wrong_pin"], PROMPTS["enter_box"]]


def test_pin_ends_by_timeout_without_hash(vm):
    c = Caller(vm, box="extension:8001")
    c.finish_play()
    c.keys("2468")
    c.wait(4.1)
    assert c.heard()[0] == "您有两条新留言，零条已保存留言"


def test_silence_ends_the_session(vm):
    c = Caller(vm)
    for _ in range(3):
        c.finish_play()
        c.wait(8.1)
    assert c.heard() == [PROMPTS["goodbye"]]


def test_record_greeting(vm, speech, tmp_path):
    c = Caller(vm, box="extension:8001")
    c.keys("2468#")
    c.keys("3")
    assert c.heard() == [PROMPTS["greeting"]]
    c.finish_play()
    rec = c.recording
    assert rec is not None and rec.terminator == "#" and rec.beep
    raw = tmp_path / "greet.alaw"
    speech[1].tofile(raw)
    wav = tmp_path / "greet.wav"
    subprocess.run(["sox", "-t", "raw", "-e", "a-law", "-r", "8000", "-c", "1", str(raw), str(wav)], check=True)
    c._apply(c.s.handle(RecordingDone(rec.id, str(wav), 2.0, "terminator", c.now)))
    assert c.heard() == [PROMPTS["greeting_saved"], PROMPTS["main_menu"]]
    g = Prompts(tmp_path / "pc").load(vm.greeting("extension:8001")).samples
    assert np.array_equal(g, speech[1])


@pytest.mark.parametrize("utc_offset_min", [480, -300])
def test_a_message_is_dated_in_the_box_zone(vm, utc_offset_min):
    """The date and time read out before a message are the box's (``[acd] utc_offset_min``), not a
    fixed zone nor the host's."""
    c = Caller(vm, utc_offset_min=utc_offset_min)
    c.keys("8001#2468#1")
    received = min(m.received for m in vm.messages("extension:8001", "new"))
    when = dt.datetime.fromtimestamp(received, dt.timezone(dt.timedelta(minutes=utc_offset_min)))
    spoken = f"{say.date(when.date(), weekday=False, year=False).text}{say.time(when.time()).text}"
    assert c.plays[-1].items[0].text.endswith(spoken)


def test_empty_box_number_is_asked_again(vm):
    c = Caller(vm)
    c.keys("#")
    assert c.heard() == [PROMPTS["invalid"], PROMPTS["enter_box"]]
    assert c.s.box is None


def test_hash_after_a_message_skips_to_the_next(vm):
    c = Caller(vm, box="extension:8001")
    c.keys("2468#")
    c.keys("1")
    assert c.plays[-1].items[0].text.startswith("第一条留言")
    c.finish_play()
    c.keys("#")
    assert c.plays[-1].items[0].text.startswith("第二条留言，来电号码八零零二")
    assert vm.counts("extension:8001") == (2, 0)  # skipping keeps both new


def test_silences_before_login_do_not_count_after_it(vm):
    """Two silent PIN prompts, then the right PIN: the menu gets its own three tries."""
    c = Caller(vm, box="extension:8001")
    for _ in range(2):
        c.finish_play()
        c.wait(8.1)
    assert c.heard() == [PROMPTS["enter_pin"]]
    c.keys("2468#")
    c.finish_play()
    c.wait(8.1)
    assert c.heard() == [PROMPTS["main_menu"]] and c.hangup is None
