"""End to end, real time: the central office places No.1 calls to the agency's numbers on one E1 span
(the box's own No.1 stack as the exchange on ``span3.peer``). The ``[[dnis]]`` table sends 88001234 to
the booking queue and 88005678 to extension 8002; an unknown number is refused with B-5 (unallocated),
which the exchange hears; the screen pops and the CDRs carry the DNIS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from signaling.events import CallAnswered, CallReleased, Cause
from tests.conftest import e2e_config, running
from tests.support.no1peer import No1Peer, PeerSocket
from tests.support.processes import DaemonProcess, SimProcess, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e

SPAN = 3
ROUTES = """
[[trunk]]
name = "CT-E1"
span = 3
timeslots = "1-3"
dnis_length = 8
destination = ["8001"]

[[dnis]]
number = "88001234"
to = "queue:booking"
name = "Booking line"

[[dnis]]
range = "88005600-88005699"
to = "extension:8002"
"""


@pytest.fixture
def dnis_daemon(tmp_path: Path, sim: SimProcess) -> Iterator[DaemonProcess]:
    cfg = e2e_config(tmp_path)
    cfg.write_text(cfg.read_text(encoding="utf-8") + ROUTES, encoding="utf-8")
    yield from running(DaemonProcess(tmp_path, sim, cfg))


def test_calls_to_the_agency_s_numbers_go_where_the_dnis_table_says(dnis_daemon: DaemonProcess,
                                                                      sim: SimProcess) -> None:
    api = dnis_daemon.api
    assert api is not None
    api.call("subscribe", kinds=["call."])
    peer = No1Peer(SPAN)
    heard: list[int] = []  # the backward MF signals the exchange hears on timeslot 3
    handle_mf = peer.machines["3/3"].handle_mf
    peer.machines["3/3"].handle_mf = lambda signal, now: (heard.append(signal), handle_mf(signal, now))[1]
    link = PeerSocket(str(sim.rundir / f"span{SPAN}.peer"), peer)
    try:
        wait_for(lambda: link.ticks > 10, 5, "the exchange ticking")

        def events(kind: str) -> list[dict]:
            api.call("status")
            return [e for e in api.events if e.get("kind") == kind]

        peer.dial(1, "88001234", caller="13800138000")
        queued = wait_for(lambda: events("call.queued"), 10, "the call queued")
        assert queued[0]["queue"] == "booking"
        offered = next(e for e in events("call.offered") if e["call"] == queued[0]["call"])
        assert (offered["dnis"], offered["dnis_name"]) == ("88001234", "Booking line")
        wait_for(lambda: peer.events_of(1, CallAnswered), 5, "the queue answers (music on hold)")

        phone = World(sim).phone("8002")
        peer.dial(2, "88005642", caller="13900139000")
        phone.wait_ringing(12, "8002 ringing")
        pop = next(e for e in events("call.ringing") if e.get("extension") == "8002")
        assert pop["dnis"] == "88005642" and pop["caller"] == "13900139000"

        peer.dial(3, "88009999", caller="13700137000")
        wait_for(lambda: peer.events_of(3, CallReleased), 10, "the refusal at the exchange")
        assert peer.events_of(3, CallReleased) == [CallReleased("3/3", Cause.UNALLOCATED_NUMBER)]
        assert [s for s in heard if s][-1] == 5  # B-5, unallocated number

        for ts in (1, 2):
            peer.release(ts)
        cdrs = wait_for(lambda: [c for c in api.call("cdr.list", limit=10) if c.get("dnis")]
                        if len(api.call("cdr.list", limit=10)) >= 3 else None, 10, "three CDRs")
        by_dnis = {c["dnis"]: c for c in cdrs}
        assert (by_dnis["88001234"]["queue"], by_dnis["88001234"]["dnis_name"]) == ("booking", "Booking line")
        assert by_dnis["88005642"]["dnis_name"] is None and by_dnis["88005642"]["cause"] == 16
        assert (by_dnis["88009999"]["cause"], by_dnis["88009999"]["disposition"]) == (1, "FAILED")
        table = api.call("cdr.export_csv")["csv"].decode("utf-8-sig").splitlines()
        header = table[0].split(",")
        rows = [dict(zip(header, r.split(","), strict=False)) for r in table[1:]]
        assert {(r["dnis"], r["dnis_name"]) for r in rows} == {("88001234", "Booking line"), ("88005642", ""),
                                                               ("88009999", "")}
        assert link.error is None
    finally:
        link.close()
