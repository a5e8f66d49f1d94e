"""End to end: CAS bits and HDLC frames cross a simulated E1 both ways; far-end alarms reach the daemon."""

from __future__ import annotations

import pytest

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
    msu = bytes([0x80, 0x81, 0x3F]) + bytes(range(40))
    daemon.api.call("e1.send_hdlc", span=HDLC_SPAN, data=msu)
    wait_for(lambda: msu in w.e1_received_hdlc(HDLC_SPAN), 3, "frame at the far end")
    w.e1_send_hdlc(HDLC_SPAN, b"\x01\x02\x03fisu")
    wait_for(lambda: b"\x01\x02\x03fisu" in daemon.api.call("e1.hdlc_received", span=HDLC_SPAN), 3,
             "frame at the daemon")


def test_far_end_alarm_reaches_the_daemon(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    daemon.api.call("subscribe", kinds=["alarm."])
    w.e1_alarm(CAS_SPAN, "LOS", True)
    wait_for(lambda: daemon.api.call("status")["alarms"].get(str(CAS_SPAN)) == ["LOS"], 3, "LOS at the daemon")
    assert any(e["kind"] == "alarm.raised" and e["alarm"] == "LOS" for e in daemon.api.events)
    w.e1_alarm(CAS_SPAN, "LOS", False)
    wait_for(lambda: not daemon.api.call("status")["alarms"], 3, "LOS cleared")
