"""End to end, real time: line echo through the simulator's hybrids, cancelled by the daemon.

Two calls from the exchange at once, each answered at an agent's phone: PSTN-3 (to 8003) with the
line's echo cancelled, PSTN-4 (to 8007) with ``echo_cancel = false``; both lines have the simulator's
default FXO hybrid (12 dB ERL, 3 ms, 6 ms). Into both calls goes the same spoken Mandarin announcement
(played by the agent's side, so the box transmits it on the line) — what the agent hears of it comes
back through the exchange's hybrid. ERLE is the echo the agent hears on the uncancelled line over
what is left on the cancelled one, from the first second on; then the caller talks over the
announcement (double talk) and the agent must hear the caller undamaged."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from daemon.api.client import ApiClient
from hal.dsp.measure import level_dbm0
from sim.audio import load_wav
from tests.conftest import e2e_config, running
from tests.support.audio import contains, decode
from tests.support.processes import DaemonProcess, SimProcess, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e
CANCELLED, PLAIN = ("1/3", "8003"), ("1/4", "8007")
TICKS_PER_S = 50


@pytest.fixture
def echo_daemon(tmp_path: Path, sim: SimProcess):
    path = e2e_config(tmp_path)
    text = path.read_text(encoding="utf-8")
    head, sep, tail = text.partition('port = "1/4"\n')
    path.write_text(head + sep + "echo_cancel = false\n" + tail, encoding="utf-8")
    yield from running(DaemonProcess(tmp_path, sim, path))


def _speech(tmp: Path, name: str, voice: str, text: str) -> Path:
    path = tmp / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(path), text], check=True, timeout=60)
    return path


def _window(audio: bytes, start_s: float, end_s: float) -> np.ndarray:
    return decode(audio)[round(start_s * 8000):round(end_s * 8000)].astype(np.float64)


def test_the_agent_hears_no_echo_of_the_announcement_and_the_caller_undamaged(echo_daemon: DaemonProcess,
                                                                               tmp_path: Path) -> None:
    w = World(echo_daemon.sim)
    api = ApiClient(str(echo_daemon.api_socket), timeout=30)
    announcement = _speech(tmp_path, "announcement", "cmn-latn-pinyin",
                           "您好，欢迎致电示例旅行社。机票预订请按一，酒店预订请按二，旅游线路请按三，人工服务请按零。"
                           "我们的营业时间是每天早上八点到晚上八点。")
    caller = _speech(tmp_path, "caller", "en-us", "Hello, I would like to book two tickets to Sanya for next Friday.")
    phones = {}
    for line, ext in (CANCELLED, PLAIN):
        phones[ext], _ = w.answered_call(line, ext, api, tones=None)
    answered = w.tick()
    wait_for(lambda: w.tick() >= answered + TICKS_PER_S // 2, 5, "half a second of both calls")
    mark = w.tick()
    for ext in phones:  # the same announcement goes out on both lines
        w.phone_send_wav(ext, str(announcement), loop=True)
    wait_for(lambda: w.tick() >= mark + 4 * TICKS_PER_S, 10, "four seconds of the announcement")
    for line, _ in (CANCELLED, PLAIN):
        w.co_send_wav(line, str(caller))  # the caller talks over it
    talk = w.tick()
    wait_for(lambda: w.tick() >= talk + 6 * TICKS_PER_S, 12, "the caller's sentence")

    heard = {ext: w.phone_heard(ext, since=mark) for ext in phones}
    echo = _window(heard[PLAIN[1]], 1.0, 4.0)  # the agent on the plain line hears the echo of it
    left = _window(heard[CANCELLED[1]], 1.0, 4.0)
    erle = level_dbm0(echo) - level_dbm0(left)
    print(f"\necho heard without the canceller {level_dbm0(echo):.1f} dBm0, with it {level_dbm0(left):.1f} dBm0: "
          f"ERLE {erle:.1f} dB (from 1 s to 4 s into the announcement)")
    assert level_dbm0(echo) > -40.0  # the line does return the announcement
    assert erle >= 30.0

    ref = load_wav(caller).astype(np.float64)
    start = (talk - mark) / TICKS_PER_S
    corr = {ext: contains(_window(heard[ext], start, start + 6.0), ref) for ext in phones}
    print(f"the caller over the announcement: correlation {corr[CANCELLED[1]]:.4f} with the canceller, "
          f"{corr[PLAIN[1]]:.4f} without")
    assert corr[CANCELLED[1]] >= 0.99
    assert corr[CANCELLED[1]] > corr[PLAIN[1]]
