"""The bell phone through the socket against the running daemon and simulator: the domestic queue's
``always_ring`` extension rings only while no agent is staffed, with the same screen pop as an agent's
(``call.ringing`` with the customer record and ``bell``) and the customer's name on its display; an
agent logging in stops it and takes the call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.api.client import ApiClient
from daemon.config.editing import edit_text
from tests.conftest import e2e_config
from tests.support.processes import AGENT_PINS, DaemonProcess, SimProcess, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e

CHANGES = [
    {"key": "line[1/3].destination", "value": ["queue:domestic"]},
    {"key": "queue[domestic].always_ring", "value": ["8006"]},
    {"key": "queue[domestic].always_ring_when", "value": "no_agents"},
    {"key": "queue[domestic].max_wait_s", "value": 0},
]


@pytest.fixture
def bell_daemon(tmp_path: Path, sim: SimProcess) -> Iterator[DaemonProcess]:
    path = e2e_config(tmp_path)
    path.write_text(edit_text(path.read_text(encoding="utf-8"), CHANGES), encoding="utf-8")
    d = DaemonProcess(tmp_path, sim, path)
    d.start()
    yield d
    d.stop()


def test_bell_rings_with_the_screen_pop_and_the_name_while_nobody_is_staffed(bell_daemon: DaemonProcess) -> None:
    api = bell_daemon.api
    api.call("customer.create", number="13800138000", name="张三", level=0, notes="常客")
    w = World(bell_daemon.sim)
    bell, agent = w.phone("8006"), w.phone("8002")
    with ApiClient(str(bell_daemon.api_socket)) as pops:
        pops.call("subscribe", kinds=["call.ringing"])
        w.co_call("1/3", "13800138000")
        ev = pops.next_event("call.ringing")
        assert (ev["extension"], ev["agent"], ev["bell"], ev["queue"], ev["caller"]) == \
            ("8006", None, True, "domestic", "13800138000")
        assert ev["customer"]["name"] == "张三" and ev["customer"]["notes"] == "常客"
        bell.wait_ringing(12, "the bell phone ringing")
        shown = wait_for(lambda: bell.state()["caller_name"], 8, "the caller ID on the bell's display")
        assert (shown, bell.state()["caller_id"]) == ("张三", "13800138000")

        api.call("agent.login", agent="1001", pin=AGENT_PINS["1001"], extension="8002")
        ev = pops.next_event("call.ringing")
        assert (ev["extension"], ev["agent"], ev["customer"]["name"]) == ("8002", "1001", "张三")
        assert "bell" not in ev
        agent.wait_ringing(12, "the agent's phone")
        bell_rings = bell.state()["total_rings"]
        # the agent's phone rings again (1 s on, 4 s off): the bell has started no ring meanwhile
        wait_for(lambda: agent.state()["rings"] >= 2, 10, "the agent's second ring")
        assert bell.state()["total_rings"] == bell_rings and not bell.state()["ringing"]
