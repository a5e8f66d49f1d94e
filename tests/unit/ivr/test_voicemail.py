"""Voicemail storage: spoken messages come back intact, folders, limits, PIN lockout, kill -9 safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from hal.dsp.g711 import alaw_to_linear
from hal.dsp.measure import level_dbm0
from ivr.tts import Tts, load_alaw
from ivr.voicemail import Box, Voicemail, VoicemailError

ROOT = Path(__file__).resolve().parents[3]


class Clock:
    def __init__(self) -> None:
        self.t = 1_795_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    tts = Tts(tmp_path_factory.mktemp("tts"))
    audio = load_alaw(tts.synthesize("我想预订十二月一号的云南线路，请回电"))
    tts.close()
    return audio


@pytest.fixture
def vm(tmp_path):
    clock = Clock()
    v = Voicemail(tmp_path / "vm", clock=clock, wrong_pins=3, lockout_s=600)
    v.configure(Box("extension:8001", max_message_s=30, max_messages=3, notify_extension="8001"), pin="2468")
    yield v
    v.close()


def corr(a, b):
    a = alaw_to_linear(a).astype(float)
    b = alaw_to_linear(b).astype(float)
    n = min(len(a), len(b))
    a, b = a[:n] - a[:n].mean(), b[:n] - b[:n].mean()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_spoken_message_comes_back(vm, speech):
    changes = []
    vm.on_change.append(lambda box, new, saved: changes.append((box, new, saved)))
    msg = vm.deposit("extension:8001", speech, caller="13912345678")
    assert msg.folder == "new" and msg.caller == "13912345678"
    assert abs(msg.seconds - len(speech) / 8000) < 1e-6
    back = vm.audio(msg)
    assert len(back) == len(speech) and corr(back, speech) > 0.9999
    assert level_dbm0(alaw_to_linear(back)) > -35
    assert vm.counts("extension:8001") == (1, 0) and changes == [("extension:8001", 1, 0)]
    # the file is a real A-law WAV: sox reads it
    out = subprocess.run(["soxi", "-e", msg.file], capture_output=True, text=True, check=True).stdout
    assert "A-law" in out


def test_save_next_and_delete(vm, speech):
    a = vm.deposit("extension:8001", speech[:8000], caller="1")
    b = vm.deposit("extension:8001", speech[8000:16000], caller="2")
    assert [m.id for m in vm.messages("extension:8001", "new")] == [a.id, b.id]  # oldest first
    vm.save("extension:8001", a.id)
    assert vm.counts("extension:8001") == (1, 1)
    assert [m.caller for m in vm.messages("extension:8001", "saved")] == ["1"]
    vm.delete("extension:8001", b.id)
    assert vm.counts("extension:8001") == (0, 1) and not Path(b.file).exists()
    with pytest.raises(VoicemailError):
        vm.delete("extension:8001", b.id)


def test_maximum_length_and_box_full(vm, speech):
    vm.configure(Box("extension:8001", max_message_s=1.0, max_messages=2))
    w = vm.start_message("extension:8001", "1")
    assert w.write(speech[:4000]) is True
    assert w.write(speech[4000:20000]) is False  # reached 1 s
    msg = w.finish()
    assert msg.seconds == 1.0 and np.array_equal(vm.audio(msg), speech[:8000])
    vm.deposit("extension:8001", speech[:800])
    with pytest.raises(VoicemailError, match="full"):
        vm.start_message("extension:8001")


def test_pin_lockout(vm, tmp_path):
    assert vm.check_pin("extension:8001", "2468").ok
    r1 = vm.check_pin("extension:8001", "1111")
    r2 = vm.check_pin("extension:8001", "2222")
    assert (r1.ok, r1.remaining, r2.remaining) == (False, 2, 1)
    r3 = vm.check_pin("extension:8001", "3333")
    assert r3.locked and r3.locked_until == vm.clock() + 600
    assert vm.check_pin("extension:8001", "2468").locked  # even the right PIN, while locked
    # the lock survives a restart
    vm.close()
    again = Voicemail(tmp_path / "vm", clock=vm.clock, lockout_s=600)
    assert again.check_pin("extension:8001", "2468").locked
    vm.clock.t += 601
    assert again.check_pin("extension:8001", "2468").ok
    again.close()


def test_wrong_pins_then_right_pin_resets_the_count(vm):
    vm.check_pin("extension:8001", "0000")
    vm.check_pin("extension:8001", "0000")
    assert vm.check_pin("extension:8001", "2468").ok
    assert vm.check_pin("extension:8001", "0000").remaining == 2


def test_greeting_and_box_ids(vm, speech):
    assert vm.greeting("extension:8001") is None
    p = vm.set_greeting("extension:8001", speech[:16000])
    assert vm.greeting("extension:8001") == p and p.stat().st_size > 16000
    vm.configure(Box("queue:booking"), pin="13579")
    vm.configure(Box("agent:A12"))
    with pytest.raises(VoicemailError):
        vm.configure(Box("../etc"))
    with pytest.raises(VoicemailError):
        vm.configure(Box("extension:8002"), pin="12")
    with pytest.raises(VoicemailError):
        vm.deposit("extension:9999", speech)


CHILD = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from ivr.voicemail import Box, Voicemail
    root, mode = sys.argv[1], sys.argv[2]
    audio = np.fromfile(sys.argv[3], dtype=np.uint8)
    vm = Voicemail(root)
    vm.configure(Box("extension:8001"), pin="2468")
    if mode == "ack":
        msg = vm.deposit("extension:8001", audio, caller="13912345678")
        print("ACK", msg.id, flush=True)
    else:  # the caller is still speaking when the daemon dies
        w = vm.start_message("extension:8001", caller="13700000000")
        for i in range(0, len(audio), 160):
            w.write(audio[i:i + 160])
        print("WROTE", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


def run_child(tmp_path, mode, speech):
    src = tmp_path / "speech.alaw"
    speech.tofile(src)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "vm"), mode, str(src)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return proc.stdout.split()


def test_acknowledged_message_survives_kill_9(tmp_path, speech):
    out = run_child(tmp_path, "ack", speech)
    assert out[0] == "ACK"
    vm = Voicemail(tmp_path / "vm")
    assert vm.recovered == []  # nothing needed repair: it was whole when acknowledged
    (msg,) = vm.messages("extension:8001")
    assert msg.id == out[1] and msg.caller == "13912345678"
    assert np.array_equal(vm.audio(msg), speech)
    vm.close()


def test_message_cut_off_by_a_crash_is_recovered(tmp_path, speech):
    assert run_child(tmp_path, "partial", speech) == ["WROTE"]
    vm = Voicemail(tmp_path / "vm")
    (msg,) = vm.recovered
    assert vm.messages("extension:8001") == [msg]
    assert msg.caller == "13700000000" and msg.folder == "new"
    assert np.array_equal(vm.audio(msg), speech)
    assert subprocess.run(["soxi", "-s", msg.file], capture_output=True, text=True).stdout.strip() \
        == str(len(speech))
    assert not list((tmp_path / "vm").rglob("*.part"))
    vm.close()
    assert os.path.exists(msg.file)


def test_the_message_index_is_opened_durable(tmp_path):
    """Kill -9 cannot show a missing fsync: the store's own LMDB syncs data and metadata at commit."""
    v = Voicemail(tmp_path / "vm")
    try:
        flags = v.env.flags()
        assert flags["sync"] and flags["metasync"]
    finally:
        v.close()


def test_a_message_is_synced_before_it_is_acknowledged(tmp_path, monkeypatch):
    """Before ``deposit`` returns (the acknowledgement) the file is fsync'd under its temporary name,
    renamed into place, and its directory fsync'd."""
    import ivr.voicemail as vm_module

    v = Voicemail(tmp_path / "vm")
    v.configure(Box("extension:8001"), pin="2468")
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = vm_module.os.fsync, vm_module.os.replace
    monkeypatch.setattr(vm_module.os, "fsync",
                        lambda fd: (events.append(("sync", os.readlink(f"/proc/self/fd/{fd}"))), real_fsync(fd))[1])
    monkeypatch.setattr(vm_module.os, "replace",
                        lambda a, b: (events.append(("rename", str(b))), real_replace(a, b))[1])
    try:
        msg = v.deposit("extension:8001", np.full(8000, 0xD5, np.uint8), caller="8002")
        final = Path(msg.file)
        kinds = [(k, p) for k, p in events if p.startswith(str(final.parent))]
        part = next(i for i, (k, p) in enumerate(kinds) if k == "sync" and p.endswith(".part"))
        moved = kinds.index(("rename", str(final)))
        last_dir_sync = max(i for i, e in enumerate(kinds) if e == ("sync", str(final.parent)))
        assert part < moved < last_dir_sync
    finally:
        v.close()
