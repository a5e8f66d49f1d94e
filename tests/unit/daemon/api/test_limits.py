"""Connection caps: who is refused first and why, the refusal log's throttle, the caps fitted to the
process's descriptor limit; and the server applying them (with clients run as other users), backing
off ``accept`` when the process is out of descriptors."""

from __future__ import annotations

import logging
import os
import resource
import subprocess
import sys
import time

from daemon.api.client import ApiClient
from daemon.api.limits import FD_HEADROOM, ApiLimits, Throttled, fit_to_descriptors
from daemon.api.roles import Peer
from tests.support.processes import ROOT, wait_for
from tests.support.users import AsUser, connect


def _peer(uid: int, role: str) -> Peer:
    return Peer(1, uid, uid, f"u{uid}", role)


def test_non_admins_are_refused_first_and_root_has_no_per_user_cap() -> None:
    lim = ApiLimits(max_clients=10, max_clients_per_uid=3, admin_reserve=2)
    assert lim.refusal(_peer(1000, "integrator"), 5, 2) is None
    assert "its 3 API connections" in lim.refusal(_peer(1000, "integrator"), 5, 3)
    assert "kept for admins" in lim.refusal(_peer(1001, "supervisor"), 8, 0)
    assert lim.refusal(_peer(1002, "admin"), 8, 0) is None  # an admin gets the reserve ...
    assert "its 3 API connections" in lim.refusal(_peer(1002, "admin"), 5, 3)  # ... but not more than its share
    assert lim.refusal(_peer(0, "admin"), 9, 9) is None  # root: only the total
    assert "all in use" in lim.refusal(_peer(0, "admin"), 10, 0)


def test_a_throttled_log_says_how_many_it_left_out() -> None:
    now = [100.0]
    records: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("test.throttled")
    logger.addHandler(Catch())
    say = Throttled(logger, 60.0, lambda: now[0])
    for _ in range(500):
        say("refusing")
        now[0] += 0.1
    assert records == ["refusing"]
    now[0] += 60
    say("refusing")
    assert records == ["refusing", "refusing (499 more since the last report)"] and say.count == 501


def test_the_caps_are_fitted_to_the_descriptor_limit() -> None:
    code = ("import resource; from daemon.api.limits import ApiLimits, fit_to_descriptors\n"
            "resource.setrlimit(resource.RLIMIT_NOFILE, (600, 600))\n"
            "print(fit_to_descriptors(ApiLimits()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"ApiLimits(max_clients={600 - FD_HEADROOM}, max_clients_per_uid=32, admin_reserve=8)"
    assert "raise LimitNOFILE" in out.stderr
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard >= ApiLimits().max_clients + FD_HEADROOM:
        assert fit_to_descriptors(ApiLimits()) == ApiLimits()  # the soft limit is raised to the hard one


def test_the_server_refuses_non_admins_first_with_a_reason_and_logs_it_once(server, caplog) -> None:
    srv, path, _ = server
    srv.limits = ApiLimits(max_clients=6, max_clients_per_uid=2, admin_reserve=2)
    caplog.set_level(logging.WARNING, logger="daemon.api.server")

    def open3(keep: list) -> list:
        return [connect(path, keep) for _ in range(3)]

    nobody = AsUser("nobody", open3)
    assert [r.get("role") for r in nobody.result[:2]] == ["agent", "agent"]
    assert nobody.result[2]["error"] == "refused" and "its 2 API connections" in nobody.result[2]["message"]
    daemon_user = AsUser("daemon", open3)  # non-admins now hold 4 of 6: the last 2 are the admins'
    assert daemon_user.result[2]["error"] == "refused"
    bin_user = AsUser("bin", open3)
    assert all(r["error"] == "refused" and "kept for admins" in r["message"] for r in bin_user.result)
    admins = [ApiClient(path), ApiClient(path)]  # root still gets in
    assert all(a.call("whoami")["role"] == "admin" for a in admins)
    third = AsUser("nobody", lambda keep: connect(path, keep))
    assert "all in use" in third.result["message"]
    refusals = [r for r in caplog.records if "refusing connections" in r.getMessage()]
    assert len(refusals) == 1 and srv.refused == 6
    for child in (nobody, daemon_user, bin_user, third):
        child.release()
    for a in admins:
        a.close()
    wait_for(lambda: len(srv.clients) == 0, 5, "every connection closed")
    again = AsUser("bin", open3)  # closed connections free their places
    assert [r.get("role") for r in again.result] == ["agent", "agent", None]
    again.release()


def test_out_of_descriptors_the_server_backs_off_and_logs_once(server, caplog) -> None:
    srv, path, _ = server
    caplog.set_level(logging.WARNING, logger="daemon.api.server")
    client = subprocess.Popen([sys.executable, "-c", "import sys, time; from daemon.api.client import ApiClient\n"
                               "time.sleep(0.3); print(ApiClient(sys.argv[1], timeout=20).call('echo', value=7))",
                               path], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    used = {int(fd) for fd in os.listdir("/proc/self/fd")}
    lowest_free = min(set(range(max(used) + 2)) - used)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free, hard))  # no descriptor left for accept
    try:
        time.sleep(2.0)  # the client connects meanwhile: the server cannot accept it
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    out, _ = client.communicate(timeout=20)
    assert out.strip() == "7"  # accepted once descriptors were back
    failed = [r for r in caplog.records if "cannot accept" in r.getMessage()]
    assert len(failed) == 1 and "Too many open files" in failed[0].getMessage()
    assert srv._accept_failed.count <= 8  # backing off (0.05 s doubling to 1 s), not retrying at once
