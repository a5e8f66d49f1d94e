"""PINs against brute force, through the socket of the running daemon: a client of the lowest role
(the user nobody) loops wrong PINs at the supervisor agent's login; the lockout engages after five,
the right PIN is refused while locked, every failure is audited and published (never the PIN); a
supervisor lists and lifts the locks and the right PIN works again. And a PIN set through
``config.set`` never reaches the audit log or the daemon's log in clear."""

from __future__ import annotations

import re

import pytest

from daemon.api.client import ApiClient
from daemon.api.protocol import ErrorCode
from tests.support.processes import AGENT_PINS, DaemonProcess
from tests.unit.daemon.api.test_roles import NOBODY, _as_nobody

pytestmark = pytest.mark.e2e

GUESSES = [f"{n:04d}" for n in range(5000, 5020)]  # none of them the PIN


def test_a_brute_force_on_a_pin_is_locked_out_until_a_supervisor_unlocks(reachable_daemon: DaemonProcess) -> None:
    d = reachable_daemon
    d.api.call("config.set", changes=[{"key": "api.tokens.tok-sup", "value": "supervisor"},
                                      {"key": "pin.delay_s", "value": 0}])  # the lockout alone, at API speed
    source = f"api:uid {NOBODY.pw_uid}"
    events = ApiClient(str(d.api_socket))
    events.call("subscribe", kinds=["pin."])
    out = _as_nobody(str(d.api_socket), [
        *[("agent.login", {"agent": "1008", "pin": pin, "extension": "8008"}) for pin in GUESSES],
        ("agent.login", {"agent": "1008", "pin": AGENT_PINS["1008"], "extension": "8008"})])
    assert [r["error"] for r in out] == [ErrorCode.REFUSED] * len(out)  # the right PIN too, at the end
    failed = [events.next_event("pin.failed", 5) for _ in range(5)]
    locked = [events.next_event("pin.locked", 5) for _ in range(2)]
    assert [(f["subject"], f["source"], f["failures"]) for f in failed] == [
        ("agent:1008", source, n) for n in range(1, 6)]
    assert sorted(lock["key"] for lock in locked) == ["agent:1008", source]
    state = next(a for a in d.api.call("acd.snapshot")["agents"] if a["id"] == "1008")["state"]
    assert state == "logged_out"
    audit = [a for a in d.api.call("audit.list") if a["op"] == "pin.failed"]
    assert len(audit) == 5 and {(a["who"], a["args"]["subject"]) for a in audit} == {(source, "agent:1008")}
    said = repr(audit) + d.log_text()  # a PIN in clear is a number of its own, not four digits of a longer one
    assert not [pin for pin in [*GUESSES, AGENT_PINS["1008"]] if re.search(rf"(?<!\d){pin}(?!\d)", said)]

    out = _as_nobody(str(d.api_socket), [("pin.unlock", {"key": "agent:1008"}), ("auth", {"token": "tok-sup"}),
                                         ("pin.locks", {}), ("pin.unlock", {"key": "agent:1008"}),
                                         ("pin.unlock", {"key": source}), ("pin.unlock", {"key": source})])
    assert out[0] == {"error": ErrorCode.FORBIDDEN} and out[1]["role"] == "supervisor"
    assert sorted(lock["key"] for lock in out[2]) == ["agent:1008", source]
    assert out[3:5] == [{"key": "agent:1008", "unlocked": True}, {"key": source, "unlocked": True}]
    assert out[5] == {"error": ErrorCode.NOT_FOUND}
    unlocked = [events.next_event("pin.unlocked", 5) for _ in range(2)]
    assert sorted((u["key"], u["by"]) for u in unlocked) == [("agent:1008", "supervisor"), (source, "supervisor")]
    unlocks = [a["args"]["key"] for a in d.api.call("audit.list") if a["op"] == "pin.unlock"]
    assert sorted(unlocks) == ["agent:1008", source]
    out = _as_nobody(str(d.api_socket), [("agent.login", {"agent": "1008", "pin": AGENT_PINS["1008"],
                                                          "extension": "8008"})])
    assert out[0]["state"] == "idle"
    events.close()


def test_a_pin_set_through_config_set_is_masked_in_the_audit_log_and_the_daemon_log(
        reachable_daemon: DaemonProcess) -> None:
    d = reachable_daemon
    d.api.call("config.set", changes=[{"key": "agent[1001].pin", "value": "730461"},
                                      {"key": "agent[1099]", "value": {"name": "新同事", "pin": "815204"}},
                                      {"key": "api.tokens.very-secret-token", "value": "integrator"}])
    text = d.api.call("config.get")["text"]
    d.api.call("config.set", text=text.replace('name = "新同事"', 'name = "新同事2"'))
    (whole, changes) = [a for a in d.api.call("audit.list") if a["op"] == "config.set"][:2]
    assert changes["args"]["changes"] == [{"key": "agent[1001].pin", "value": "****"},
                                          {"key": "agent[1099]", "value": {"name": "新同事", "pin": "****"}},
                                          {"key": "api.tokens.****", "value": "integrator"}]
    assert whole["args"]["text"].startswith(f"<{len(text.replace('新同事', '新同事2'))} characters, sha256 ")
    logged = d.log_text()
    assert "api change by" in logged
    for secret in ("730461", "815204", "very-secret-token"):
        assert secret not in repr(whole) + repr(changes) + logged
