"""An agent logged in where no phone can ring must not stop the box: a login at an extension that is
not configured is ``not_found``; a login stored before a restart at an extension since removed from
the config is dropped (a warning in the log, ``agent.state`` logged_out with reason
``extension_gone``). Meanwhile a caller waits in that agent's queue, another call carries audio both
ways and the simulator counts no missed tick."""

from __future__ import annotations

import re

import pytest

from daemon.api.client import ApiClient
from daemon.api.protocol import ApiError
from tests.support.processes import DaemonProcess, agent_pin, wait_for
from tests.support.world import World

pytestmark = [pytest.mark.e2e, pytest.mark.serial]


def without_extension(text: str, number: str) -> str:
    """The config ``text`` with extension ``number`` removed (its table, and from the lines' destinations)."""
    text = re.sub(rf'\[\[extension\]\]\nnumber = "{number}"\n(?:[a-z_]+ = .*\n)*\n?', "", text)
    return text.replace(f'"{number}", ', "").replace(f', "{number}"', "")


def test_a_login_where_no_phone_can_ring_never_stops_the_box(acd_daemon: DaemonProcess) -> None:
    api, pin = acd_daemon.api, agent_pin(acd_daemon.config, "1001")
    with pytest.raises(ApiError) as err:
        api.call("agent.login", agent="1001", pin=pin, extension="9999")
    assert err.value.code == "not_found" and "9999" in err.value.message
    assert next(a for a in api.call("acd.snapshot")["agents"] if a["id"] == "1001")["state"] == "logged_out"

    assert api.call("agent.login", agent="1001", pin=pin, extension="8006")["state"] == "idle"
    acd_daemon.kill9()  # the login is stored; 8006 then goes from the config
    acd_daemon.config.write_text(without_extension(acd_daemon.config.read_text(encoding="utf-8"), "8006"),
                                 encoding="utf-8")
    acd_daemon.start()
    api = acd_daemon.api
    assert "agent 1001 was logged in at extension 8006, which is no longer configured" in acd_daemon.log_text()
    with ApiClient(str(acd_daemon.api_socket)) as events:
        events.call("subscribe", kinds=["agent.state"])
        gone = events.next_event("agent.state", 2)  # a start-up event, kept for this subscriber
    assert (gone["agent"], gone["state"], gone["reason"], gone["extension"]) == (
        "1001", "logged_out", "extension_gone", "8006")

    w = World(acd_daemon.sim)
    underruns = w.status()["underruns"]
    w.co_call("1/3", "13800138000")  # to the domestic queue, which 1001 serves
    wait_for(lambda: api.call("acd.snapshot")["queues"]["domestic"]["waiting"] == 1, 10, "the caller queued")
    phone, _ = w.answered_call("1/4", "8007", api, tones=None)
    at_phone, at_line = w.tones_both_ways(phone, "1/4")
    assert at_phone == pytest.approx(1000.0, rel=0.02) and at_line == pytest.approx(600.0, rel=0.02)
    assert api.call("acd.snapshot")["queues"]["domestic"]["waiting"] == 1  # still waiting, the API answering
    assert w.status()["underruns"] - underruns == 0
    w.co_hangup("1/3")
    w.co_hangup("1/4")
    phone.on_hook()
