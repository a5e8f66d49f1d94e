"""What the caller hears, tick by tick: the default flow's prompts as real espeak-ng audio through
AudioLibrary + Playback, driven by IvrCall on a virtual 20 ms clock, measured by correlation. The
caller's keys are DTMF tones (spandsp's sender), A-law coded, detected by hal's DTMF receiver."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pytest

from hal.dsp.dtmf import DtmfReceiver, DtmfSender
from hal.dsp.g711 import alaw_to_linear, linear_to_alaw
from hal.dsp.measure import level_dbm0
from ivr.audio import FRAME, AudioLibrary, Playback
from ivr.events import PromptFile, TtsText
from ivr.flow_config import load_flow
from ivr.interface import IvrCall
from ivr.prompts import Prompts
from ivr.tts import Tts
from tests.unit.ivr.harness import BEIJING

DEFAULT = Path(__file__).resolve().parents[3] / "packaging" / "ivr" / "travel-agency.toml"


class Leg:
    """The daemon's part for one caller leg: prompt audio out by frames, timers on the tick clock."""

    def __init__(self, library: AudioLibrary) -> None:
        self.playback = Playback(library)
        self.tick = 0
        self.timers: dict[int, float] = {}
        self.heard: list[np.ndarray] = []
        self.started: list[tuple[int, tuple]] = []  # (tick, items) per play
        self.listening = False
        self.ended: tuple | None = None
        self.call: IvrCall | None = None
        self.phone = DtmfSender()  # the caller's keypad
        self.dtmf = DtmfReceiver()  # the box's detector on the caller's leg
        self.detected: list[str] = []
        self.lookups: list[tuple] = []

    @property
    def now(self) -> float:
        return self.tick * 0.02

    def play(self, play_id, audio, barge_in):
        self.playback.play(play_id, audio)
        for f in self.playback._queue:  # the daemon would play silence until ready; the test waits
            f.result(30)
        self.started.append((self.tick, tuple(audio)))

    def stop_play(self, play_id):
        self.playback.stop(play_id)

    def listen(self, on):
        self.listening = on

    def arm_timer(self, timer_id, at):
        self.timers[timer_id] = at

    def cancel_timer(self, timer_id):
        self.timers.pop(timer_id, None)

    def lookup(self, request_id, name, params, timeout_s):
        self.lookups.append((request_id, name, params))

    def start_recording(self, *args):
        pass

    def transfer(self, to, target, summary):
        self.ended = ("transfer", to, target)

    def hangup(self, cause, reason, summary):
        self.ended = ("hangup", cause)

    def run(self, seconds: float) -> None:
        for _ in range(round(seconds * 50)):
            frame, done = self.playback.frame()
            self.heard.append(frame)
            uplink = alaw_to_linear(linear_to_alaw(self.phone.generate(FRAME)))
            self.tick += 1
            if self.listening:
                for key in self.dtmf.process(uplink):
                    self.detected.append(key)
                    self.call.on_digit(key, self.now)
            if done is not None:
                self.call.on_prompt_done(done, self.now)
            for tid, at in sorted(self.timers.items(), key=lambda kv: kv[1]):
                if at <= self.now and tid in self.timers:
                    del self.timers[tid]
                    self.call.on_timer(tid, self.now)

    def press(self, key: str) -> None:
        """The caller presses a key: 80 ms of DTMF into the leg; run until it is detected."""
        self.phone.send(key)
        before = len(self.detected)
        for _ in range(25):
            self.run(0.02)
            if len(self.detected) > before:
                break
        assert self.detected[before:] == [key]
        while not self.phone.idle:  # the rest of the tone and the gap after it
            self.run(0.02)

    def last_play_start(self) -> int:
        return self.started[-1][0] * FRAME

    def linear(self) -> np.ndarray:
        return alaw_to_linear(np.concatenate(self.heard)).astype(np.float64)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    d = tmp_path_factory.mktemp("ivr-audio")
    lib = AudioLibrary(Tts(d / "tts"), Prompts(d / "prompts"))
    yield lib
    lib.close()
    lib.tts.close()


def samples(library, text):
    return alaw_to_linear(library.get(TtsText(text, "cmn-latn-pinyin")).result(30)).astype(np.float64)


def corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    a, b = a[:n] - a[:n].mean(), b[:n] - b[:n].mean()
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))


def test_caller_hears_the_menu_then_invalid_prompt_then_operator(library):
    flow = load_flow(DEFAULT)
    leg = Leg(library)
    leg.call = IvrCall(flow, leg, "13912345678", "88886666", now=0.0,
                       wall=dt.datetime(2026, 11, 23, 10, tzinfo=BEIJING))
    leg.call.start()
    welcome = samples(library, flow.prompts["welcome"].tts)
    invalid = samples(library, flow.prompts["invalid"].tts)
    to_op = samples(library, flow.prompts["to_operator"].tts)
    assert len(welcome) > 3 * 8000  # a long sentence

    leg.run(len(welcome) / 8000 + 1.0)  # the whole welcome and a second of waiting
    heard = leg.linear()
    assert corr(heard[:len(welcome)], welcome) > 0.999
    assert level_dbm0(heard[len(welcome) + FRAME:]) < -60  # then silence while the menu waits

    leg.press("7")  # wrong key: invalid prompt, then the menu again
    t0 = leg.last_play_start()
    leg.run(len(invalid) / 8000 + 1.5)
    heard = leg.linear()
    assert corr(heard[t0:t0 + len(invalid)], invalid) > 0.999
    assert corr(heard[t0 + len(invalid):t0 + len(invalid) + 8000], welcome[:8000]) > 0.999

    leg.press("0")  # barge in: the welcome stops, the operator prompt starts
    t1 = leg.last_play_start()
    assert t1 - t0 < len(invalid) + len(welcome)
    leg.run(len(to_op) / 8000 + 0.2)
    heard = leg.linear()
    assert corr(heard[t1:t1 + len(to_op)], to_op) > 0.999
    assert leg.ended == ("transfer", "extension", "8001")
    assert leg.call.summary()["keys"] == "70" and leg.detected == ["7", "0"]


def test_playback_plays_silence_until_synthesis_is_ready(library):
    pb = Playback(library)
    pb.play(1, [TtsText("请稍候一下", "cmn-latn-pinyin")])
    frames = []
    for _ in range(2000):
        frame, done = pb.frame()
        frames.append(frame)
        if done == 1:
            break
        time.sleep(0.002)  # the tick runs in real time while the worker synthesises
    else:
        pytest.fail("playback never finished")
    got = alaw_to_linear(np.concatenate(frames)).astype(np.float64)
    want = samples(library, "请稍候一下")
    n = 1 << int(np.ceil(np.log2(len(got) + len(want))))
    xc = np.fft.irfft(np.fft.rfft(got, n) * np.conj(np.fft.rfft(want, n)), n)[:len(got)]
    start = int(np.argmax(xc))  # silence (waiting) first, then the whole prompt from a frame boundary
    assert start > 0 and start % FRAME == 0
    assert level_dbm0(got[:start]) < -60
    assert corr(got[start:start + len(want)], want) > 0.999


def test_failed_item_is_skipped_not_fatal(library, tmp_path):
    pb = Playback(library)
    pb.play(5, [PromptFile("missing", str(tmp_path / "missing.wav")), TtsText("好", "cmn-latn-pinyin")])
    for _ in range(500):
        _, done = pb.frame()
        if done == 5:
            break
        time.sleep(0.002)
    assert done == 5 and "file not found" in pb.failed[0]


def test_a_failed_item_is_tried_again(library, tmp_path):
    item = PromptFile("late", str(tmp_path / "late.wav"))
    with pytest.raises(Exception, match="file not found"):
        library.get(item).result(10)
    import wave

    with wave.open(str(tmp_path / "late.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes((np.sin(np.arange(800) / 3) * 8000).astype(np.int16).tobytes())
    assert len(library.get(item).result(10)) == 800


def test_lookup_answer_is_heard_as_mandarin_money_and_date(library):
    flow = load_flow(DEFAULT)
    leg = Leg(library)
    leg.call = IvrCall(flow, leg, "13912345678", "88886666", now=0.0,
                       wall=dt.datetime(2026, 11, 23, 10, tzinfo=BEIJING))
    leg.call.start()
    for key in "13123456":  # routes, tour code, six digits (barging into each prompt)
        leg.press(key)
    (request_id, name, params), = leg.lookups
    assert (name, params) == ("tour", {"code": "123456"})
    leg.run(0.5)
    leg.call.on_lookup_answer(request_id, {"price": "12880", "date": "2026-12-01"}, leg.now)
    t0 = leg.last_play_start()
    price_intro = samples(library, flow.prompts["tour_price"].tts)
    price = samples(library, "一万两千八百八十元整")
    date_intro = samples(library, flow.prompts["tour_date"].tts)
    date = samples(library, "二零二六年十二月一日 星期二")
    leg.run((len(price_intro) + len(price)) / 8000 + 0.1)
    t1 = leg.last_play_start()
    leg.run((len(date_intro) + len(date)) / 8000 + 0.1)
    heard = leg.linear()
    assert corr(heard[t0 + len(price_intro):t0 + len(price_intro) + len(price)], price) > 0.999
    assert corr(heard[t1 + len(date_intro):t1 + len(date_intro) + len(date)], date) > 0.999
    assert [i.text for i in leg.started[-1][1]] == [flow.prompts["tour_menu"].tts]


def test_library_memory_is_bounded(tmp_path):
    import wave

    lib = AudioLibrary(Tts(tmp_path / "t"), Prompts(tmp_path / "p"), max_bytes=20000)
    items = []
    for i in range(5):
        path = tmp_path / f"m{i}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes((np.sin(np.arange(8000) / (3 + i)) * 8000).astype(np.int16).tobytes())
        items.append(PromptFile(f"m{i}", str(path)))
        assert len(lib.get(items[-1]).result(10)) == 8000
    assert lib.bytes <= 20000 and len(lib._items) == 2  # the two most recent
    assert items[-1] in lib._items and items[0] not in lib._items
    lib.close()
    lib.tts.close()
