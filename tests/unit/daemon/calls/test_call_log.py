"""The daemon log's account of a call: one INFO line for each event that matters (offered, queued,
answered by an agent, abandoned, overflow, ended with its cause), nothing for the rest, and every
event still published."""

from __future__ import annotations

import logging

import pytest

from daemon.calls.call_log import CallLog, cause_text

CDR = {"id": "c1", "cause": 16, "disposition": "ANSWERED", "duration": 50.3, "billsec": 46.0, "agent": "1001",
       "ivr_keys": "11", "ivr_path": ["screen", "hours", "main", "routes", "domestic"], "caller": "13800138000"}
# one caller's events as the engine publishes them, with the rings, announcements and agent states between
EVENTS = [
    ("call.offered", {"call": "c1", "port": "1/1", "caller": "13800138000", "line": "PSTN-1", "called": None}),
    ("diag.dtmf", {"port": "1/1", "digit": "1"}),
    ("call.queued", {"call": "c1", "queue": "domestic", "caller": "13800138000", "position": 1}),
    ("call.announce", {"call": "c1", "queue": "domestic", "position": 1, "ewt_s": 30}),
    ("call.ringing", {"call": "c1", "port": "2/2", "extension": "8002", "agent": "1001"}),
    ("agent.state", {"agent": "1001", "old": "idle", "state": "reserved"}),
    ("call.connected", {"call": "c1", "queue": "domestic", "extension": "8002", "agent": "1001", "wait_s": 12.4}),
    ("call.answered", {"call": "c1", "port": "2/2"}),
    ("call.ended", {"call": "c1", "queue": "domestic", "agent": "1001", "talk_s": 34.2}),  # the ACD's
    ("call.ended", {"call": "c1", "cdr": CDR}),
]


def test_one_line_per_call_event_that_matters(caplog: pytest.LogCaptureFixture) -> None:
    published: list[str] = []
    call_log = CallLog(lambda kind, **data: published.append(kind))
    with caplog.at_level(logging.INFO):
        for kind, data in EVENTS:
            call_log(kind, **data)
        call_log("call.offered", call="c2", port="1/2", caller=None, line="PSTN-2", called="88886666")
        call_log("call.queued", call="c2", queue="booking", caller=None, position=2)
        call_log("call.overflow", call="c2", queue="booking", reason="max_wait", to="voicemail:queue:general",
                 wait_s=240.0)
        call_log("call.abandoned", call="c3", queue="complaints", wait_s=3.2, short=True)
    assert published == [k for k, _ in EVENTS] + ["call.offered", "call.queued", "call.overflow", "call.abandoned"]
    assert [r.levelname for r in caplog.records] == ["INFO"] * 8
    assert [r.getMessage() for r in caplog.records] == [
        "call c1: offered on PSTN-1 (1/1) from 13800138000",
        "call c1: queued in domestic at position 1 (caller 13800138000)",
        "call c1: answered by agent 1001 at 8002 after 12 s in domestic",
        "call c1: ended, cause 16 normal clearing, ANSWERED, lasted 50 s, agent 1001, IVR screen > hours > main > routes > domestic",
        "call c2: offered on PSTN-2 (1/2) from unknown for 88886666",
        "call c2: queued in booking at position 2 (caller unknown)",
        "call c2: overflow from booking to voicemail:queue:general after 240 s (max_wait)",
        "call c3: abandoned in complaints after 3 s (short)",
    ]


def test_nothing_logged_above_info_and_causes_named(caplog: pytest.LogCaptureFixture) -> None:
    call_log = CallLog(lambda kind, **data: None)
    with caplog.at_level(logging.WARNING):
        for kind, data in EVENTS:
            call_log(kind, **data)
    assert not caplog.records
    assert cause_text(17) == "17 user busy" and cause_text(99) == "99" and cause_text(None) == "None"
