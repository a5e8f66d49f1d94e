"""End to end, real time: a caller on the simulated central office walks the travel-agency IVR by
DTMF; a test integrator on the API socket answers the tour lookup and the caller hears the price
read back in Mandarin (checked by correlation with the same TTS); the operator key rings an agent
and the IVR path reaches the CDR. On a holiday a caller leaves a spoken message (``voicemail.message``,
``voicemail.changed``), which the box owner hears back and saves."""

from __future__ import annotations

import datetime as dt
import subprocess
import threading
import time
from pathlib import Path
from unittest.mock import ANY

import numpy as np
import pytest

from daemon.api.client import ApiClient
from ivr.tts import Tts
from tests.conftest import ivr_e2e_config, running
from tests.support.audio import contains, decode
from tests.support.processes import DaemonProcess, SimProcess, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e
LINE = "1/1"


@pytest.fixture
def holiday_daemon(tmp_path: Path, sim: SimProcess):
    today = dt.date.today()
    span = f'["{today - dt.timedelta(days=2)}..{today + dt.timedelta(days=300)}"]'
    yield from running(DaemonProcess(tmp_path, sim, ivr_e2e_config(tmp_path, span)))  # a holiday: voicemail


def _tts(tmp: Path, text: str) -> np.ndarray:
    return decode(Tts(tmp / "tts").request(text, "cmn-latn-pinyin").result(60).read_bytes())


def test_caller_walks_the_menu_and_hears_the_integrators_answer(ivr_daemon: DaemonProcess, tmp_path: Path) -> None:
    w = World(ivr_daemon.sim)
    answered: list[dict] = []
    integrator = ApiClient(str(ivr_daemon.api_socket), timeout=30)
    integrator.call("subscribe", kinds=["ivr.lookup"])

    def serve() -> None:  # a booking system: answers tour lookups by code
        while not answered:
            try:
                integrator.call("whoami")
            except Exception:
                return
            for ev in integrator.events:
                if ev["kind"] == "ivr.lookup":
                    answered.append(ev)
                    integrator.call("ivr.lookup_reply", request=ev["request"],
                                    data={"price": "12880", "date": "2026-12-01"})
            time.sleep(0.1)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    price = _tts(tmp_path, "一万两千八百八十元整")
    w.co_call(LINE, "13800138000")
    wait_for(lambda: w.co_state(LINE)["hook"] == "off", 12, "the IVR to answer")
    ivr_daemon.wait_ivr_node("main")
    w.co_keys(LINE, "1")  # barges into the welcome: routes menu
    ivr_daemon.wait_ivr_node("routes")
    w.co_keys(LINE, "3")  # tour code
    ivr_daemon.wait_ivr_node("tour_code")
    mark = w.tick()
    w.co_dial(LINE, "123456#")
    wait_for(lambda: answered, 15, "the integrator to get the lookup")
    assert answered[0]["params"] == {"code": "123456"} and answered[0]["caller"] == "13800138000"
    wait_for(lambda: contains(decode(w.co_heard(LINE, since=mark)), price) > 0.9, len(price) / 8000 + 30,
             "the caller to hear 一万两千八百八十元整", interval=0.5)
    ivr_daemon.wait_ivr_node("tour_menu", 30)  # after the departure date (~7 s): 0 is the operator
    w.co_dial(LINE, "0")
    phone = w.phone("8001")
    phone.wait_ringing(15, "the operator's phone")
    phone.off_hook()
    time.sleep(1.0)
    w.co_hangup(LINE)
    (cdr,) = wait_for(lambda: ivr_daemon.api.call("cdr.list"), 10, "the CDR")
    phone.on_hook()
    assert cdr["ivr_flow"] == "travel-agency" and cdr["dst"] == "8001"
    assert "find_tour" in cdr["ivr_path"] and cdr["ivr_keys"].startswith("13123456")
    integrator.close()


def test_a_spoken_message_is_left_and_played_back_to_the_box_owner(holiday_daemon: DaemonProcess,
                                                                  tmp_path: Path) -> None:
    w = World(holiday_daemon.sim)
    wav = tmp_path / "caller.wav"
    subprocess.run(["espeak-ng", "-v", "cmn-latn-pinyin", "-w", str(wav), "我想预订下个月去云南的旅行，请回电"],
                   check=True)
    events = ApiClient(str(holiday_daemon.api_socket))
    events.call("subscribe", kinds=["voicemail."])
    w.co_call(LINE, "13800138000")
    wait_for(lambda: w.co_state(LINE)["hook"] == "off", 12, "the IVR to answer")
    wait_for(lambda: holiday_daemon.api.call("ivr.calls") and holiday_daemon.api.call("ivr.calls")[0]["voicemail"],
             30, "the holiday prompt and the beep")
    time.sleep(0.6)
    w.call("co.send_wav", line=LINE, path=str(wav))
    time.sleep(5.0)
    w.co_silence(LINE)
    w.co_dial(LINE, "#")
    wait_for(lambda: not holiday_daemon.api.call("calls"), 20, "the message saved and the call ended")
    cdr = wait_for(lambda: holiday_daemon.api.call("cdr.list"), 5, "the CDR (written off the loop)")[-1]
    assert "holiday" in cdr["ivr_path"]
    msg = events.next_event("voicemail.message")
    assert msg == {"type": "event", "kind": "voicemail.message", "box": "queue:general", "message": ANY,
                   "caller": "13800138000", "seconds": ANY, "call": cdr["id"]}
    assert 4.0 < msg["seconds"] < 8.0  # the 5 s the caller spoke, up to the #
    changed = events.next_event("voicemail.changed", where=lambda e: e["box"] == "queue:general")
    assert (changed["new"], changed["saved"]) == (1, 0)
    # the box owner (8001 is notified) hears the stutter dial tone, dials *97 and the PIN, presses 1
    owner = w.phone("8001")
    owner.off_hook()
    time.sleep(0.4)
    mark = w.tick()
    time.sleep(1.2)
    assert World.cadence_ms(owner.heard(since=mark))[1] > 0  # stutter, not steady
    owner.dial("*97")
    time.sleep(4.0)
    owner.dial("2468#")
    time.sleep(6.0)
    spoken = decode(subprocess.run(["sox", str(wav), "-t", "raw", "-r", "8000", "-c", "1", "-e", "a-law", "-"],
                                   capture_output=True, check=True).stdout)
    mark = w.tick()
    owner.dial("1")
    wait_for(lambda: contains(decode(owner.heard(since=mark)), spoken[8000:16000]) > 0.8, 30,
             "a second of what the caller said, played back", interval=0.5)
    owner.dial("2")  # save it
    changed = events.next_event("voicemail.changed", where=lambda e: e["box"] == "queue:general")
    assert (changed["new"], changed["saved"]) == (0, 1)
    owner.on_hook()
    events.close()
