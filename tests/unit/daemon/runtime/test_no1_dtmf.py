"""DTMF from the far end of an answered No.1 call reaches call control as DigitReceived (what the IVR
reads), in one process on a virtual clock against the box's own No.1 stack as the exchange."""

from __future__ import annotations

from pathlib import Path

from signaling.events import CallAnswered, DigitReceived
from tests.support.inprocess import Box
from tests.support.no1peer import No1Peer, attach_inprocess
from tests.unit.daemon.runtime.test_no1_calls import SPAN, config


def test_caller_dtmf_after_answer_is_a_call_event(tmp_path: Path) -> None:
    peer = No1Peer(SPAN)
    box = Box(config(tmp_path))
    attach_inprocess(box, peer, SPAN)
    seen: list = []
    handle = box.engine.calls.handle

    def observe(ev) -> None:
        seen.append(ev)
        handle(ev)

    box.engine.calls.handle = observe
    box.run(0.2)
    phone = box.world.phone("8001")
    peer.dial(4, "12301", caller="13800138000")
    box.run_until(lambda: phone.ringing, 8, "ringing")
    phone.off_hook()
    box.run_until(lambda: peer.events_of(4, CallAnswered), 2, "answer")
    box.run(0.3)
    peer.media.send_dtmf(peer.row["3/4"], "12#")
    box.run(1.0)
    assert [e.digit for e in seen if isinstance(e, DigitReceived) and e.port == "3/4"] == ["1", "2", "#"]
