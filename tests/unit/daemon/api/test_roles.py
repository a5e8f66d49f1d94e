"""Roles: from the peer's Unix credentials (SO_PEERCRED) or a token; each op checks its role; changes
are audited with who made them."""

from __future__ import annotations

import os
import pwd

import pytest

from daemon.api.client import ApiClient
from daemon.api.protocol import ApiError, ErrorCode
from daemon.api.roles import highest, role_for
from tests.support.users import AsUser, calls_as

NOBODY = pwd.getpwnam("nobody")


def _as_nobody(path: str, calls: list[tuple[str, dict]]) -> list:
    """Make ``calls`` on the API at ``path`` from a child process running as the user nobody."""
    return calls_as("nobody", path, calls)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another user")
def test_an_unprivileged_peer_is_an_agent_until_it_shows_a_token(server) -> None:
    srv, path, _ = server
    out = _as_nobody(path, [("whoami", {}), ("echo", {"value": 7}), ("integrator.change", {}),
                            ("auth", {"token": "wrong"}), ("auth", {"token": "tok-int"}),
                            ("integrator.change", {}), ("admin.change", {})])
    assert out[0]["role"] == "agent" and out[0]["user"] == "nobody" and out[0]["uid"] == NOBODY.pw_uid
    assert out[1] == 7
    assert out[2] == {"error": ErrorCode.FORBIDDEN} and out[3] == {"error": ErrorCode.FORBIDDEN}
    assert out[4]["role"] == "integrator" and out[5] == "done"
    assert out[6] == {"error": ErrorCode.FORBIDDEN}
    assert [a["op"] for a in srv.audited] == ["integrator.change"]  # denied calls change nothing
    assert "nobody" in srv.audited[0]["who"] and srv.audited[0]["role"] == "integrator"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another user")
def test_an_agent_connection_acts_only_for_the_agent_it_logged_in_as(server) -> None:
    srv, path, _ = server
    out = _as_nobody(path, [("agent.pause", {"agent": "1001"}),  # bound to no agent yet
                            ("agent.login", {"agent": "1001", "pin": "0000"}), ("agent.pause", {"agent": "1001"}),
                            ("agent.login", {"agent": "1001", "pin": "4711"}), ("whoami", {}),
                            ("agent.pause", {"agent": "1001"}), ("agent.pause", {"agent": "1002"}),
                            ("agent.pause", {})])
    assert out[:3] == [{"error": ErrorCode.FORBIDDEN}, {"error": ErrorCode.REFUSED}, {"error": ErrorCode.FORBIDDEN}]
    assert out[3] == "in" and out[4]["agent"] == "1001" and out[5] == "paused"
    assert out[6:] == [{"error": ErrorCode.FORBIDDEN}] * 2
    assert [(a["op"], a["args"].get("agent")) for a in srv.audited] == [("agent.login", "1001"), ("agent.pause", "1001")]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another user")
def test_an_agent_token_binds_the_connection_and_higher_roles_act_for_any_agent(server) -> None:
    _, path, _ = server
    out = _as_nobody(path, [("auth", {"token": "tok-1002"}), ("agent.pause", {"agent": "1002"}),
                            ("agent.pause", {"agent": "1001"}), ("auth", {"token": "tok-int"}),
                            ("agent.pause", {"agent": "1001"})])
    assert (out[0]["role"], out[0]["agent"]) == ("agent", "1002") and out[1] == "paused"
    assert out[2] == {"error": ErrorCode.FORBIDDEN}
    assert out[3]["role"] == "integrator" and out[4] == "paused"


def test_root_is_admin_and_its_changes_are_audited(server) -> None:
    srv, path, _ = server
    with ApiClient(path) as c:
        assert c.call("whoami")["role"] == "admin"
        assert c.call("admin.change", note="x") == "changed"
        with pytest.raises(ApiError) as err:
            c.call("nope")
        assert err.value.code == ErrorCode.UNKNOWN_OP
    (rec,) = srv.audited
    assert rec["op"] == "admin.change" and rec["args"] == {"note": "x"} and rec["who"].startswith("root(uid 0")


def test_role_rules() -> None:
    assert role_for(0, 0, "root") == "admin"
    assert role_for(NOBODY.pw_uid, NOBODY.pw_gid, "nobody") == "agent"
    assert highest(["agent", "supervisor", "integrator"]) == "supervisor" and highest([]) == "agent"


def test_subscription_filters_by_extension(server) -> None:
    srv, path, loop = server
    with ApiClient(path) as a:
        a.call("subscribe", kinds=["call."], filters={"extension": ["8001"]})
        for ext in ("8002", "8001"):
            loop.call_soon_threadsafe(lambda e=ext: srv.publish("call.ringing", extension=e, caller="138"))
        loop.call_soon_threadsafe(lambda: srv.publish("call.offered", port="1/1"))  # no extension: not for it
        assert a.call("echo", value=1) == 1
        assert [e["extension"] for e in a.events] == ["8001"]
        with pytest.raises(ApiError):
            a.call("subscribe", kinds=["call."], filters={"colour": ["red"]})


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another user")
def test_keyed_digits_and_pin_reports_reach_only_supervisors(server) -> None:
    """Subscribed to everything, an agent-role connection gets a call's events but not ``diag.dtmf``
    (the digits keyed on a phone: PINs among them) nor ``pin.failed``; a supervisor's (by token) does."""
    srv, path, _ = server

    def subscribe(keep: list) -> list:
        agent, sup = ApiClient(path), ApiClient(path)
        keep += [agent, sup]
        return [sup.call("auth", token="tok-sup")["role"], agent.call("subscribe", kinds=[]),
                sup.call("subscribe", kinds=[])]

    child = AsUser("nobody", subscribe)
    try:
        assert child.result[0] == "supervisor"
        assert srv.subscribers("call.ringing", call="c1") == 2
        assert srv.subscribers("diag.dtmf", port="2/2", digit="4") == 1
        assert srv.subscribers("pin.failed", subject="agent:1001", source="port:2/2") == 1
    finally:
        child.release()
