"""Recording through the whole box in one process (virtual clock): on-demand start and stop mid-call by
the in-call code ``*1`` and by the API ops, recording by agent and by queue, and a supervisor's
playback over the phone (``*35``). Every check is a measurement of the audio in the file or heard."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from daemon.api.protocol import ApiError
from daemon.api.server import ApiServer
from daemon.recording.host import BEEP_END, BEEP_OFF, BEEP_ON, BEEP_REFUSED, Recording, recorder_config
from hal.dsp.measure import dominant_frequency, level_dbm0
from recorder import Recorder, playback, wav
from signaling.events import Cause
from sim.audio import SamplesSource
from tests.support.audio import contains, decode, tone_frequency
from tests.support.inprocess import Box
from tests.support.processes import AGENT_PINS, default_config_text, edit_config
from tests.unit.recorder.signals import linear, noise

SUPERVISOR = """
[[agent]]
id = "9001"
name = "Supervisor"
pin = "2580"
supervisor = true

[[agent]]
id = "1023"
name = "Agent"
pin = "4711"
"""


def _noise(seed: int, seconds: float) -> np.ndarray:
    """A caller's ``seconds`` of noise, linear (uncorrelated between seeds)."""
    return linear(noise(seed, round(seconds * 50)))


def _offset(sent: np.ndarray, got: np.ndarray, lead: int = 4000) -> tuple[int, float]:
    """Where ``got`` starts within ``sent`` (samples; negative: ``got`` starts up to ``lead`` samples
    before it) and the correlation of the overlap."""
    sent = np.concatenate([np.zeros(lead), sent.astype(np.float64)])
    probe = got[lead:lead + 4000].astype(np.float64)
    size = 1 << (len(sent) + len(probe) - 1).bit_length()
    xc = np.fft.irfft(np.fft.rfft(sent, size) * np.conj(np.fft.rfft(probe, size)), size)
    lag = int(np.argmax(xc[: len(sent)])) - 2 * lead  # got[lead] is at padded index lag + 2 * lead
    a, b = max(0, -lag), max(0, lag)  # overlap: got[a:], sent[lead + b:]
    m = min(len(got) - a, len(sent) - lead - b)
    return lag, float(np.corrcoef(sent[lead + b:lead + b + m], got[a:a + m].astype(np.float64))[0, 1])


def _part_of(said: np.ndarray, recorded: np.ndarray) -> float:
    """How well ``recorded`` is a stretch of what was ``said`` (silence before and after it): 1.0 = exactly."""
    quiet = np.zeros(len(recorded))
    return contains(np.concatenate([quiet, said, quiet]), recorded)


@pytest.fixture
def make_box(tmp_path: Path) -> Iterator:
    made: list[tuple[Box, Recording]] = []

    def make(extra: str = "", acd: bool = False, **tables: dict[str, Any]) -> tuple[Box, Recording]:
        """The box with the default config, ``extra`` appended and ``tables`` set (``edit_config``)."""
        text = default_config_text().replace('state_dir = "/var/lib/callbox"', f'state_dir = "{tmp_path / "state"}"')
        cfg = tmp_path / "callbox.toml"
        cfg.write_text(text + extra, encoding="utf-8")
        box = Box(edit_config(cfg, **tables), acd=acd)
        rec = Recording(box.engine, ApiServer(str(tmp_path / "api.sock"), {}), Recorder(recorder_config(box.config)))
        made.append((box, rec))
        box.run(0.2)
        return box, rec

    yield make
    for _, rec in made:
        rec.close_sync()


def _settled(box: Box, rec: Recording, seconds: float) -> None:
    """Run, letting the recording's files thread keep up (on a virtual clock it must look instant)."""
    for _ in range(round(seconds / 0.1)):
        rec.files.submit(lambda: None).result(timeout=10)
        box.run(0.1)


def _published(rec: Recording) -> list[tuple[str, dict]]:
    """The API events ``rec`` publishes from now on (no client needed)."""
    events: list[tuple[str, dict]] = []
    rec.api.publish = lambda kind, **data: events.append((kind, data))
    return events


def _inbound(box: Box, caller_audio: np.ndarray | None = None, answer: bool = True, **call_fields: str):
    """A call from the network on PSTN-1; the extension the line's hunt rings answers it (unless not
    ``answer``): the call and the extension's phone."""
    w = box.world
    w.co.call("1/1", "13800138000")
    box.run_until(lambda: any(c.b is not None for c in box.engine.calls.calls.values()), 8, "an extension rung")
    call = next(iter(box.engine.calls.calls.values()))
    phone = w.phone(call.b.label)
    box.run_until(lambda: phone.ringing, 8, f"{call.b.label} ringing")
    for k, v in call_fields.items():  # what the ACD sets before it bridges an agent
        setattr(call, k, v)
    line = w.co.line("1/1")
    if caller_audio is not None:
        line.party.say(SamplesSource(caller_audio))
    if answer:
        phone.off_hook()
        box.run_until(lambda: call.answer is not None, 2, "answer")
    return call, phone


def _hangup(box: Box, phone) -> None:
    phone.on_hook()
    box.run_until(lambda: not box.engine.calls.calls, 5, "the call to clear")
    box.run(1.0)  # the box released the trunk: the line goes idle


def test_in_call_code_starts_and_stops_recording_mid_call(make_box) -> None:
    box, rec = make_box(recording={"mode": "on_demand", "on_demand": True})
    caller = _noise(1, 12.0)
    call, phone = _inbound(box, caller)
    sent_at = box.world.tick  # the caller's clip starts about here
    box.run(1.0)
    assert not rec.recorder.recording(call.id)  # on_demand: nothing yet
    phone.dial("*1")
    box.run_until(lambda: rec.recorder.recording(call.id), 1.0, "*1 to start the recording")
    started = box.world.tick
    box.run(0.3)
    beep = decode(box.heard(call.b.label, started))
    assert dominant_frequency(beep[:1200]) == pytest.approx(1400, rel=0.02)  # the beep to the agent
    assert contains(beep, BEEP_ON) > 0.95
    phone.mouth.tone(400.0)
    box.run(2.0)
    phone.mouth.silence()
    mark = box.world.tick
    phone.dial("*1")
    box.run_until(lambda: not rec.recorder.recording(call.id), 1.0, "*1 to stop it")
    stopped = box.world.tick
    box.run(1.5)
    assert contains(decode(box.heard(call.b.label, mark)), BEEP_OFF) > 0.95  # two beeps, a pause between
    _hangup(box, phone)
    rec.recorder.flush()

    [row] = rec.recorder.query(call_id=call.id)
    assert row["status"] == "complete" and row["reason"] == "demand" and row["agent"] == call.b.label
    info, audio = wav.read(rec.recorder.path(call.id))
    assert (stopped - started) * 0.02 - 0.05 <= info.duration <= (stopped - started) * 0.02 + 0.05
    lag, c = _offset(caller, audio[:, 0])
    assert c > 0.9  # left: the caller, exactly the part between the two *1
    assert abs(lag / 8000 - (started - sent_at) * 0.02) < 0.1
    middle = audio[int(0.5 * 8000):int(2.0 * 8000), 1].astype(float)
    assert dominant_frequency(middle) == pytest.approx(400, rel=0.02)  # right: the agent
    [cdr] = box.cdrs()
    assert cdr["id"] == call.id and cdr["disposition"] == "ANSWERED"


def test_api_start_and_stop_mid_call_and_policy_refusals(make_box) -> None:
    box, rec = make_box(recording={"mode": "selected", "agents": ["8002"], "on_demand": True, "allow_stop": False})
    caller = _noise(2, 10.0)
    call, phone = _inbound(box, caller)
    sent_at = box.world.tick
    box.run(1.0)
    assert not rec.recorder.recording(call.id)
    assert rec.api.run_op("recordings.start", call=call.id) == {"call": call.id, "recording": True}
    started = box.world.tick
    box.run(2.0)
    assert rec.api.run_op("recordings.stop", call=call.id) == {"call": call.id, "recording": False}  # demand: may stop
    stopped = box.world.tick
    box.run(1.0)
    with pytest.raises(ApiError) as err:
        rec.api.run_op("recordings.start", call="nope")
    assert err.value.code == "not_found"
    _hangup(box, phone)
    rec.recorder.flush()
    info, audio = wav.read(rec.recorder.path(call.id))
    assert abs(info.duration - (stopped - started) * 0.02) <= 0.05
    lag, c = _offset(caller, audio[:, 0])
    assert c > 0.9 and abs(lag / 8000 - (started - sent_at) * 0.02) < 0.1


def test_api_start_refused_before_the_answer_and_by_the_policy(make_box) -> None:
    box, rec = make_box(recording={"mode": "selected", "on_demand": False})
    call, phone = _inbound(box, answer=False)
    with pytest.raises(ApiError) as err:
        rec.api.run_op("recordings.start", call=call.id)
    assert err.value.code == "bad_argument"  # ringing: not two parties talking yet
    phone.off_hook()
    box.run_until(lambda: call.answer is not None, 2, "answer")
    box.run(0.5)
    with pytest.raises(ApiError) as err:
        rec.api.run_op("recordings.start", call=call.id)
    assert err.value.code == "forbidden"  # on_demand = false
    box.run(0.5)
    assert not rec.recorder.recording(call.id)
    _hangup(box, phone)
    rec.recorder.flush()
    assert rec.recorder.query(call_id=call.id) == []


def test_policy_by_agent_and_by_queue(make_box) -> None:
    box, rec = make_box(SUPERVISOR, recording={"mode": "selected", "agents": ["1023"], "queues": ["vip"],
                                               "allow_stop": False})
    calls = []
    for seed, fields in ((3, {"agent": "1023", "queue": "travel"}), (4, {"agent": "1099", "queue": "vip"}),
                         (5, {"agent": "1099", "queue": "travel"}), (6, {})):
        caller = _noise(seed, 6.0)
        call, phone = _inbound(box, caller, **fields)
        box.run(1.5)
        if seed == 3:  # recorded by policy and allow_stop = false: *1 may not pause it
            events = _published(rec)
            mark = box.world.tick
            phone.dial("*1")
            box.run_until(lambda events=events: events, 1.0, "the *1 answered")
            box.run(0.6)
            assert events == [("recording.demand", {"call": call.id, "action": "stop", "by": call.b.label,
                                                    "ok": False})]
            assert contains(decode(box.heard(call.b.label, mark)), BEEP_REFUSED) > 0.95  # the low tone, to the agent
            assert rec.recorder.recording(call.id)
            with pytest.raises(ApiError) as err:
                rec.api.run_op("recordings.stop", call=call.id)
            assert err.value.code == "forbidden"
        _hangup(box, phone)
        calls.append((call, caller))
    rec.recorder.flush()
    rows = {r["call_id"]: r for r in rec.recorder.query(limit=100)}
    (a, ca), (q, cq), (n1, _), (n2, _) = calls
    assert rows[a.id]["reason"] == "agent:1023" and rows[a.id]["agent"] == "1023"
    assert rows[a.id]["extension"] == a.b.label
    assert rows[q.id]["reason"] == "queue:vip" and rows[q.id]["queue"] == "vip"
    assert n1.id not in rows and n2.id not in rows
    for call, caller in ((a, ca), (q, cq)):
        _, audio = wav.read(rec.recorder.path(call.id))
        assert _part_of(caller, audio[:, 0]) > 0.9
    assert [r["call_id"] for r in rec.recorder.query(agent="1023")] == [a.id]
    assert a.id in [r["call_id"] for r in rec.recorder.query(agent=a.b.label)]


def _key_then_listen(box: Box, rec: Recording, phone, key: str, seconds: float) -> np.ndarray:
    """``phone`` keys ``key``; what it heard from then on for ``seconds``, linear."""
    mark = box.world.tick
    phone.dial(key)
    _settled(box, rec, seconds)
    return decode(box.heard(phone.extension, mark))


def test_supervisor_plays_an_agents_recordings_over_the_phone(make_box) -> None:
    box, rec = make_box(SUPERVISOR, recording={"mode": "all"})
    recorded = []
    for seed, freq in ((7, 600.0), (8, 900.0)):  # an older call, then the newest, both taken by 8001
        box.engine.calls._hunt_pos.clear()
        call, phone = _inbound(box, _noise(seed, 3.0))
        assert call.b.label == "8001"
        phone.mouth.tone(freq)
        box.run(2.5)
        _hangup(box, phone)
        rec.recorder.flush()
        recorded.append(decode(playback.frames(rec.recorder.path(call.id)).tobytes()))
    older, newest = recorded
    sup = box.world.phone("8008")

    # a wrong PIN: refused, busy tone, nothing played
    sup.off_hook()
    box.run(0.3)
    sup.dial("*358001#1111#")
    box.run_until(lambda: [c for c in box.cdrs() if c["called"] == "*35##"], 5, "the refused playback to end")
    mark = box.world.tick
    box.run(1.0)
    assert tone_frequency(box.heard("8008", mark)) == pytest.approx(450.0, rel=0.02)  # busy tone
    assert box.cdrs()[-1]["cause"] == Cause.CALL_REJECTED and not rec.sessions
    sup.on_hook()
    box.run(1.0)

    sup.off_hook()
    box.run(0.3)
    sup.dial("*358001#2580#")
    box.run_until(lambda: box.engine.calls.calls and rec.sessions, 5, "the playback to start")
    mark = box.world.tick
    _settled(box, rec, 4.0)
    heard = decode(box.heard("8008", mark))
    start, c = _offset(heard, newest)
    assert c > 0.9, "the supervisor hears the newest recording, both parties mixed"
    end = start + len(newest)
    assert level_dbm0(heard[end + 160:end + 2400]) < -50  # at its end a pause,
    assert dominant_frequency(heard[end + 2560:end + 4000]) == pytest.approx(1000.0, rel=0.02)  # a beep,
    assert contains(heard[end:end + 4800], BEEP_END) > 0.95
    assert level_dbm0(heard[end + 4160:]) < -50  # then quiet until a key

    heard = _key_then_listen(box, rec, sup, "#", 1.5)
    start, c = _offset(heard, older)
    assert c > 0.9 and 0 <= start < 3200, "# plays the one before, from its start"
    heard = _key_then_listen(box, rec, sup, "*", 4.0)  # 1.5 s into it
    start, c = _offset(heard, older)
    assert c > 0.9 and 0 <= start < 3200, "* plays it again from the start"
    end = start + len(older)
    assert contains(heard[end:end + 4800], BEEP_END) > 0.95

    sup.dial("#")  # past the oldest: the call ends
    box.run_until(lambda: not box.engine.calls.calls, 3, "the playback call to end")
    assert box.cdrs()[-1]["cause"] == Cause.NORMAL_CLEARING
    box.run(0.5)
    sup.on_hook()
    box.run(0.5)
    assert not rec.sessions and not box.engine.media.prompts and not box.engine.media.bursts
    assert [(c["called"], c["src"]) for c in box.cdrs()][-2:] == [("*35##", "8008")] * 2  # who listened


def test_recordings_status_per_file(make_box, tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    backup.mkdir()
    box, rec = make_box(recording={"mode": "all", "backup_dir": str(backup)})
    call, phone = _inbound(box, _noise(9, 2.0))
    box.run(1.0)
    _hangup(box, phone)
    rec.recorder.flush()
    rec.recorder.housekeep()
    status = asyncio.run(rec.api.run_op("recordings.status", call=call.id))
    [f] = status["files"]
    assert f["copy"] == "verified" and f["copy_checked"] and (backup / f["file"]).read_bytes() == \
        rec.recorder.fetch(f["id"])
    assert asyncio.run(rec.api.run_op("recordings.status"))["copies"] == {"verified": 1}
    summary = asyncio.run(rec.api.run_op("recordings.verify"))
    assert summary["checked"] == 1 and summary["mismatch"] == []


def test_policy_by_agent_and_queue_with_the_real_acd(make_box) -> None:
    """Calls through the ACD's "domestic" queue: the one agent 1001 takes is recorded (agents = ["1001"]),
    the one agent 1004 takes is not; the row carries the agent ID, the queue and the extension."""
    from tests.unit.daemon.acd.test_host_calls import login

    box, rec = make_box(acd=True, recording={"mode": "selected", "agents": ["1001"]},
                        line={"destination": ["queue:domestic"]})
    login(box, "8002", "1001", AGENT_PINS["1001"])
    login(box, "8005", "1004", AGENT_PINS["1004"])
    w = box.world
    taken = []
    for port, phone_ext, seed in (("1/1", "8002", 11), ("1/2", "8005", 12)):
        caller = _noise(seed, 12.0)
        w.co.call(port, "1380000000" + port[-1])
        phone = w.phone(phone_ext)
        box.run_until(lambda phone=phone: phone.ringing, 10, f"{phone_ext} ringing")
        w.co.line(port).party.say(SamplesSource(caller))
        phone.off_hook()
        box.run(5.0)  # the agent-ID greeting, then the bridge
        call = next(c for c in box.engine.calls.calls.values() if c.a.port == port)
        taken.append((call, caller, phone))
    for _call, _, phone in taken:
        phone.on_hook()
    box.run_until(lambda: not box.engine.calls.calls, 5, "the calls to clear")
    rec.recorder.flush()
    (c1, caller1, _), (c2, _, _) = taken
    [row] = rec.recorder.query(call_id=c1.id)
    assert (row["agent"], row["queue"], row["extension"], row["reason"]) == ("1001", "domestic", "8002",
                                                                              "agent:1001")
    _, audio = wav.read(rec.recorder.path(c1.id))
    assert _part_of(caller1, audio[:, 0]) > 0.9 and audio.shape[0] > 2 * 8000
    assert rec.recorder.query(call_id=c2.id) == []
    assert [r["call_id"] for r in rec.recorder.query(agent="1001")] == [c1.id]
