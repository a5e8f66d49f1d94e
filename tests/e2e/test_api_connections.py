"""API connections under abuse, against the running daemon: caps that refuse non-admins first and
say why (the admin's CLI still gets in, the refusals logged once), a client that pipelines requests
and disconnects leaving no memory behind, and one that pipelines 1,500 requests sharing the loop
with the tick and with a call placed meanwhile."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable

import msgpack
import pytest

from daemon import cli
from daemon.api.protocol import MAX_MESSAGE
from daemon.api.server import BACKLOG_BYTES
from tests.support.processes import DaemonProcess, wait_for
from tests.support.users import AsUser, RoleUsers, connect
from tests.support.world import World

pytestmark = pytest.mark.e2e

PORTS = msgpack.packb({"id": 1, "op": "ports"})
PIPELINE = struct.pack(">I", len(PORTS)) + PORTS


def _raw(d: DaemonProcess) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(str(d.api_socket))
    return s


def _read_msg(s: socket.socket) -> dict:
    head = s.recv(4, socket.MSG_WAITALL)
    (n,) = struct.unpack(">I", head)
    assert n <= MAX_MESSAGE
    return msgpack.unpackb(s.recv(n, socket.MSG_WAITALL), raw=False, strict_map_key=False)


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_caps_refuse_non_admins_first_with_the_reason_and_the_admins_cli_gets_in(
        unit_daemon: Callable[..., DaemonProcess], role_users: RoleUsers, capsys) -> None:
    d = unit_daemon(api={"max_clients": 12, "max_clients_per_uid": 4, "admin_reserve": 3})
    path = str(d.api_socket)  # the test's own admin connection is open: 1 of 12

    def open_n(n: int) -> Callable[[list], list]:
        return lambda keep: [connect(path, keep) for _ in range(n)]

    integrator = AsUser(role_users.users["callbox-api"], open_n(6))
    assert [r.get("role") for r in integrator.result[:4]] == ["integrator"] * 4
    assert {r.get("error") for r in integrator.result[4:]} == {"refused"}
    assert "has its 4 API connections open" in integrator.result[4]["message"]
    agent = AsUser(role_users.users["callbox-agent"], open_n(4))  # 9 open: the last 3 are the admins'
    assert [r.get("role") for r in agent.result] == ["agent"] * 4
    supervisor = AsUser(role_users.users["callbox-supervisor"], open_n(1))
    assert supervisor.result[0]["error"] == "refused" and "kept for admins" in supervisor.result[0]["message"]

    assert cli.main(["--socket", path, "status"]) == 0  # the installer's CLI, as root, gets in
    assert "board: up" in capsys.readouterr().out
    admin = AsUser(role_users.users["callbox-admin"], open_n(4))  # callbox-admin members use the reserve
    assert [r.get("role") for r in admin.result] == ["admin"] * 3 + [None]
    assert "all in use" in admin.result[3]["message"]
    assert cli.main(["--socket", path, "status"]) == 1  # now every connection is taken, even for root
    assert "refused the connection" in capsys.readouterr().err

    status = d.api.call("status")
    assert (status["api"]["clients"], status["api"]["refused"]) == (12, 5)
    assert d.log_text().count("refusing connections") == 1  # five refusals, one log line
    for child in (integrator, agent, supervisor, admin):
        child.release()
    wait_for(lambda: d.api.call("status")["api"]["clients"] == 1, 5, "the children's connections closed")
    again = AsUser(role_users.users["callbox-supervisor"], open_n(1))  # closed connections free their places
    assert again.result[0]["role"] == "supervisor"
    again.release()


def test_clients_that_pipeline_and_disconnect_leave_no_memory_behind(daemon: DaemonProcess) -> None:
    """Thousands of ``ports`` requests sent, not one reply read, then gone: each of these left its
    replies behind (~7.8 MB for 1,500 on the reported box: its handler waited on a queue join that
    could not finish). Now what waited is freed and the daemon's RSS stays flat."""

    def api() -> dict:
        return daemon.api.call("status")["api"]

    def abuse() -> None:
        s = _raw(daemon)
        s.sendall(PIPELINE * 3000)  # 7.5 MB of replies: more than the daemon holds for a client
        seen = [-1]

        def parked() -> bool:  # its replies piled up to the backlog's limit: it is no longer read from
            before, seen[0] = seen[0], api()["waiting_bytes"]
            return seen[0] == before and seen[0] > BACKLOG_BYTES * 3 // 4

        wait_for(parked, 30, "its replies to pile up", interval=0.3)
        s.close()
        wait_for(lambda: api()["clients"] == 1, 10, "the abusive client dropped")
        assert api()["waiting_bytes"] < 100_000  # what waited for it is gone

    pid = daemon.proc.pid
    for _ in range(5):
        abuse()
    warm = _rss_kb(pid)
    for _ in range(15):
        abuse()
    grown = _rss_kb(pid) - warm
    print(f"RSS after warm-up {warm} kB, grown by {grown} kB over 15 more rounds")
    assert grown < 8 * 1024  # less than one round used to leak


@pytest.mark.serial  # counts the board's missed frames
def test_1500_pipelined_requests_share_the_loop_with_the_tick_and_a_new_call(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    a, b = w.internal_call("8001", "8002", daemon.api)  # a call in progress throughout
    before = w.board_misses()
    stop, rounds = threading.Event(), []

    def pipeline() -> None:  # bursts of 1,500 (each cost 37 late frames), a moment apart, until told to stop
        while True:
            s = _raw(daemon)
            _read_msg(s)  # hello
            s.sendall(PIPELINE * 1500)
            for _ in range(1500):
                assert _read_msg(s)["ok"]
            s.close()
            rounds.append(1)
            if stop.wait(0.5):
                return

    t = threading.Thread(target=pipeline, daemon=True)
    t.start()
    try:
        phone, _ = w.answered_call("1/1", "8003", daemon.api, tones=None)  # placed during it
        at_phone, on_line = w.tones_both_ways(phone, "1/1")
        wait_for(lambda: len(rounds) >= 3, 60, "three rounds of 1,500 requests")
    finally:
        stop.set()
        t.join(30)
    missed = w.missed_since(before)
    print(f"{len(rounds)} rounds of 1,500 pipelined requests: {missed} ticks missed at the board")
    assert at_phone == pytest.approx(1000.0, rel=0.02) and on_line == pytest.approx(600.0, rel=0.02)
    assert missed == 0
    for p in (a, b, phone):
        p.on_hook()
