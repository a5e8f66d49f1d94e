"""No.1 protocol errors through the whole box (in one process, virtual time): a scripted exchange that
misbehaves — wrong tone, a tone never removed, no seize-ack, a far end that vanishes — and then the
box's own No.1 stack on the same timeslot: every failure ends cleanly and the timeslot works again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hal.dsp.g711 import ALAW_SILENCE, alaw_to_linear, linear_to_alaw
from hal.dsp.measure import level_dbm0
from hal.dsp.r2mf import R2MfReceiver, R2MfSender
from hal.events import CasChange, SetCas
from signaling.events import CallAnswered, Cause
from tests.support.inprocess import Box
from tests.support.no1peer import No1Peer, attach_inprocess
from tests.unit.daemon.runtime.test_no1_calls import config

SPAN, TS = 3, 1
PORT = f"{SPAN}/{TS}"
IDLE, SEIZE, ACK = 0b1011, 0b0011, 0b1111
FORCED_RELEASE = 0b0011  # backward A=0 B=0


class Scripted:
    """An exchange on timeslot 1 that does only what the test says: CAS bits and forward MF tones."""

    def __init__(self) -> None:
        self.bits = IDLE
        self._sent: int | None = None
        self.mf = R2MfSender(True)
        self.rx = R2MfReceiver(False)
        self.host_bits = IDLE
        self.heard_mf: list[int] = []
        self.heard: list[np.ndarray] = []  # the box's audio on the timeslot, one A-law row per tick

    def step(self, audio: np.ndarray, events: list) -> tuple[np.ndarray, list]:
        for ev in events:
            if isinstance(ev, CasChange) and ev.port == PORT:
                self.host_bits = ev.bits
        self.heard.append(audio[0].copy())
        sig = self.rx.process(alaw_to_linear(audio[0]))
        if not self.heard_mf or sig != self.heard_mf[-1]:
            self.heard_mf.append(sig)
        tx = np.full((30, 160), ALAW_SILENCE, np.uint8)
        tx[0] = linear_to_alaw(self.mf.generate(160))
        cmds = []
        if self.bits != self._sent:
            self._sent = self.bits
            cmds.append(SetCas(PORT, self.bits))
        return tx, cmds


class Switch:
    """The far end of span 3: first the scripted exchange, then the box's own No.1 stack."""

    def __init__(self) -> None:
        self.scripted = Scripted()
        self.peer = No1Peer(SPAN)
        self.current: Scripted | No1Peer = self.scripted

    def step(self, audio: np.ndarray, events: list) -> tuple[np.ndarray, list]:
        if self.current is self.peer:
            return self.peer.step(audio, events)
        out = self.scripted.step(audio, events)
        self.peer.step(audio, [])  # keep its clock running
        return out

    def to_peer(self) -> No1Peer:
        """Hand the timeslot to the box's No.1 stack (its idle bits go out on its next output)."""
        self.peer.cas_tx = {p: IDLE for p in self.peer.ports}
        self.current = self.peer
        return self.peer


def make(tmp_path: Path, mf_level_dbm0: float | None = None) -> tuple[Box, Switch]:
    p = config(tmp_path)
    if mf_level_dbm0 is not None:
        p.write_text(p.read_text().replace('ani = "first"', f'ani = "first"\nmf_level_dbm0 = {mf_level_dbm0}'))
    box = Box(p)
    sw = Switch()
    attach_inprocess(box, sw, SPAN)
    box.run(0.2)
    return box, sw


def trunk_state(box: Box) -> str:
    return str(box.engine.ports[PORT].machine.state)


def works_again(box: Box, sw: Switch) -> None:
    """A whole inbound call from the box's own stack on the same timeslot."""
    sw.scripted.bits = IDLE
    box.run(0.2)
    peer = sw.to_peer()
    phones = [box.world.phone("8001"), box.world.phone("8002")]  # the trunk hunts round robin
    peer.dial(TS, "12301", caller="13800138000")
    box.run_until(lambda: any(p.ringing for p in phones), 8, "ringing after the failure")
    phone = next(p for p in phones if p.ringing)
    phone.off_hook()
    box.run_until(lambda: peer.events_of(TS, CallAnswered), 2, "answer after the failure")
    peer.release(TS)
    box.run_until(lambda: box.engine.is_free(PORT) and peer.state(TS) == "idle", 3, "idle again")
    phone.on_hook()
    box.run(0.2)


@pytest.mark.parametrize("level", [-11.0, -20.0])
def test_the_backward_tones_have_the_trunk_s_configured_level(tmp_path: Path, level: float) -> None:
    box, sw = make(tmp_path, mf_level_dbm0=level)
    s = sw.scripted
    s.bits = SEIZE
    box.run_until(lambda: s.host_bits == ACK, 1, "seize-ack")
    s.mf.set(1)
    box.run_until(lambda: 6 in s.heard_mf, 1, "A-6")
    box.run(0.2)
    tone = alaw_to_linear(np.concatenate(s.heard[-8:]))
    assert level_dbm0(tone) == pytest.approx(level + 3.01, abs=0.5)  # two frequencies at ``level`` each


def test_wrong_forward_tone_releases_and_the_timeslot_works_again(tmp_path: Path) -> None:
    box, sw = make(tmp_path)
    s = sw.scripted
    s.bits = SEIZE
    box.run_until(lambda: s.host_bits == ACK, 1, "seize-ack")
    s.mf.set(13)  # not a digit: Group I has no signal 13 here
    box.run_until(lambda: s.host_bits == IDLE, 1, "the box to release")
    assert trunk_state(box) == "releasing" and not box.engine.calls.calls
    s.mf.set(0)
    works_again(box, sw)


def test_forward_tone_never_removed_times_out(tmp_path: Path) -> None:
    box, sw = make(tmp_path)
    s = sw.scripted
    s.bits = SEIZE
    box.run_until(lambda: s.host_bits == ACK, 1, "seize-ack")
    s.mf.set(1)
    box.run_until(lambda: 6 in s.heard_mf, 1, "A-6 (send KA)")
    box.run(4.5)
    assert s.host_bits == ACK  # still inside T_MF_CYCLE
    box.run_until(lambda: s.host_bits == IDLE, 1, "release after T_MF_CYCLE")
    box.run(0.2)
    assert s.heard_mf[-1] == 0  # the box's A-6 is off too
    s.mf.set(0)
    works_again(box, sw)


def test_no_seize_ack_alarms_the_circuit_tries_others_then_the_caller_hears_congestion(tmp_path: Path) -> None:
    """No circuit of the span acknowledges (only timeslot 1 has a far end, and it is deaf): each seizure
    times out, its circuit is alarmed and left out of hunting, the call tries the next, and after
    SEIZE_ATTEMPTS circuits it fails; the far end's next seizure on timeslot 1 clears its alarm."""
    box, sw = make(tmp_path)
    s = sw.scripted
    phone = box.world.phone("8002")
    phone.off_hook()
    box.run(0.5)
    phone.dial("912301#")
    box.run_until(lambda: s.host_bits == SEIZE, 8, "the box to seize")
    box.run(7.5)
    assert box.engine.calls.calls and not box.engine.circuit_alarms
    box.run_until(lambda: box.engine.circuit_alarms, 1, "T_SEIZE_ACK")
    assert s.host_bits == IDLE and not box.engine.is_free(PORT)
    assert box.engine.ports["3/2"].machine.state == "out_seizing"  # the same call on the next circuit
    box.run_until(lambda: box.cdrs(), 2 * 8.5, "the failed call's CDR")
    (cdr,) = box.cdrs()
    assert (cdr["cause"], cdr["trunk"]) == (int(Cause.RECOVERY_ON_TIMER_EXPIRY), "CT-E1/3")
    assert box.engine.circuit_alarms == {"3/1": "NO_SEIZE_ACK", "3/2": "NO_SEIZE_ACK", "3/3": "NO_SEIZE_ACK"}
    raised = [d for k, d in box.events if k == "alarm.raised"]
    assert raised == [{"span": 3, "port": f"3/{ts}", "alarm": "NO_SEIZE_ACK"} for ts in (1, 2, 3)]
    phone.on_hook()
    works_again(box, sw)
    assert {"span": 3, "port": PORT, "alarm": "NO_SEIZE_ACK"} in [d for k, d in box.events if k == "alarm.cleared"]
    assert "3/1" not in box.engine.circuit_alarms


def test_far_end_vanishing_after_answer_is_released_by_timer(tmp_path: Path) -> None:
    box, sw = make(tmp_path)
    peer = sw.to_peer()
    phone = box.world.phone("8001")
    peer.dial(TS, "12301", caller="13800138000")
    box.run_until(lambda: phone.ringing, 8, "ringing")
    phone.off_hook()
    box.run_until(lambda: peer.events_of(TS, CallAnswered), 2, "answer")
    sw.scripted.bits = SEIZE  # the exchange freezes: still seized, deaf to everything
    sw.current = sw.scripted
    phone.on_hook()  # clear-back that nobody answers
    box.run(1.0)
    assert trunk_state(box) == "in_clearing"
    box.run_until(lambda: trunk_state(box) != "in_clearing", 61, "T_CLEAR_FORWARD")
    assert trunk_state(box) == "releasing" and sw.scripted.host_bits == FORCED_RELEASE
    box.run_until(lambda: sw.scripted.host_bits == IDLE, 11, "T_RELEASE: the box idle, the exchange still seized")
    assert trunk_state(box) == "far_end_held" and not box.engine.is_free(PORT)
    assert box.engine.circuit_alarms == {PORT: "FAR_END_HELD"}
    caller = box.world.phone("8002")  # an outgoing call meanwhile is not held up on the stuck circuit
    caller.off_hook()
    box.run(0.5)
    caller.dial("912301#")
    box.run_until(lambda: box.engine.ports["3/2"].machine.state == "out_seizing", 8, "a seizure on 3/2")
    assert trunk_state(box) == "far_end_held"
    caller.on_hook()
    sw.scripted.bits = IDLE
    box.run(0.5)
    assert box.engine.is_free(PORT) and not box.engine.circuit_alarms
    sw.peer = No1Peer(SPAN)  # the exchange restarts
    works_again(box, sw)
