"""End to end: CAS bits and HDLC frames cross a simulated E1 both ways; far-end alarms reach the daemon
(and its API subscribers: ``e1.hdlc``, ``alarm.raised``, ``alarm.cleared``)."""

from __future__ import annotations

import pytest

from daemon.api.client import ApiClient
from tests.support.processes import DaemonProcess, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e

CAS_SPAN, HDLC_SPAN = 3, 4


def test_cas_bits_both_ways(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    # after start-up the daemon holds every CAS timeslot idle (1011)
    wait_for(lambda: w.e1_get_cas(CAS_SPAN, 1) == 0b1011, 3, "idle bits from the box")
    daemon.api.call("e1.set_cas", port=f"{CAS_SPAN}/5", bits=0b0011)
    wait_for(lambda: w.e1_get_cas(CAS_SPAN, 5) == 0b0011, 3, "seize bits at the far end")
    w.e1_set_cas(CAS_SPAN, 17, 0b1111)
    ports = lambda: {p["port"]: p for p in daemon.api.call("ports")}  # noqa: E731
    wait_for(lambda: ports()[f"{CAS_SPAN}/17"]["cas_rx"] == 0b1111, 3, "far-end bits at the daemon")


def test_hdlc_frames_both_ways(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    link = lambda: next(s for s in daemon.api.call("spans") if s["id"] == HDLC_SPAN)["hdlc"]  # noqa: E731
    assert link() == {"state": "idle", "rx_frames": 0, "tx_frames": 0, "last_rx_s": None}
    assert all("hdlc" not in s for s in daemon.api.call("spans") if s["id"] != HDLC_SPAN)
    msu = bytes([0x80, 0x81, 0x3F]) + bytes(range(40))
    daemon.api.call("e1.send_hdlc", span=HDLC_SPAN, data=msu)
    wait_for(lambda: msu in w.e1_received_hdlc(HDLC_SPAN), 3, "frame at the far end")
    with ApiClient(str(daemon.api_socket)) as events:
        events.call("subscribe", kinds=["e1.hdlc"])
        w.e1_send_hdlc(HDLC_SPAN, b"\x01\x02\x03fisu")
        ev = events.next_event("e1.hdlc", timeout=3)
    assert (ev["span"], ev["data"]) == (HDLC_SPAN, b"\x01\x02\x03fisu")
    assert b"\x01\x02\x03fisu" in daemon.api.call("e1.hdlc_received", span=HDLC_SPAN)
    now = link()
    assert (now["state"], now["rx_frames"], now["tx_frames"]) == ("up", 1, 1) and 0 <= now["last_rx_s"] < 5
    w.e1_alarm(HDLC_SPAN, "LOS", True)
    wait_for(lambda: link()["state"] == "down", 3, "the link down with the span's LOS")
    w.e1_alarm(HDLC_SPAN, "LOS", False)


def test_far_end_alarm_reaches_the_daemon(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    with ApiClient(str(daemon.api_socket)) as events:
        events.call("subscribe", kinds=["alarm."])
        w.e1_alarm(CAS_SPAN, "LOS", True)
        wait_for(lambda: daemon.api.call("status")["alarms"].get(str(CAS_SPAN)) == ["LOS"], 3, "LOS at the daemon")
        raised = events.next_event("alarm.raised", timeout=3)
        assert (raised["span"], raised["alarm"]) == (CAS_SPAN, "LOS")
        w.e1_alarm(CAS_SPAN, "LOS", False)
        wait_for(lambda: not daemon.api.call("status")["alarms"], 3, "LOS cleared")
        cleared = events.next_event("alarm.cleared", timeout=3)
        assert (cleared["span"], cleared["alarm"]) == (CAS_SPAN, "LOS")
