"""Every list op pages under the API's 1 MiB frame limit, against a running daemon whose store holds
more than one reply could carry: 10,000 CDRs (2.9 MB: ``cdr.list limit=10000`` used to send a frame
the client drops), 1,500 audit records of config changes (1.6 MB), 3,000 customers with notes and
400 statistics intervals. Each is paged through completely with the project's own client: no row
lost or doubled, in order, every frame under the limit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon import cli
from daemon.api.paging import LIST_MAX
from daemon.api.protocol import ApiError
from tests.conftest import e2e_config, running
from tests.support.processes import DaemonProcess, SimProcess, wait_for
from tests.support.store_rows import T0, fill_store
from tests.support.world import World

pytestmark = pytest.mark.e2e

CDRS, AUDITS, CUSTOMERS, INTERVALS = 10_000, 1_500, 3_000, 400


@pytest.fixture
def full_daemon(tmp_path: Path, sim: SimProcess) -> Iterator[DaemonProcess]:
    d = DaemonProcess(tmp_path, sim, e2e_config(tmp_path))
    fill_store(d.state_dir, CDRS, AUDITS, CUSTOMERS, INTERVALS)
    yield from running(d)


def _all(pages: Iterator[list]) -> tuple[list, int]:
    rows, n = [], 0
    for page in pages:
        assert page, "an empty page before the last"
        rows += page
        n += 1
    return rows, n


def test_every_list_op_pages_through_a_big_store_under_the_frame_limit(full_daemon: DaemonProcess) -> None:
    api = full_daemon.api
    ids = [f"c{i:06d}" for i in range(CDRS)]
    with pytest.raises(ApiError) as err:  # the old request: refused up front, naming the way to page
        api.call("cdr.list", limit=10_000)
    assert err.value.code == "bad_argument" and "'limit'" in err.value.message

    rows, pages = _all(api.pages("cdr.list", limit=LIST_MAX))
    assert [r["id"] for r in rows] == ids and pages == CDRS // LIST_MAX
    rows, _ = _all(api.pages("cdr.list", limit=777, newest_first=True))
    assert [r["id"] for r in rows] == ids[::-1]
    rows, _ = _all(api.pages("cdr.list", limit=LIST_MAX, since=T0 + 100 * 60, until=T0 + 2500 * 60))
    assert [r["id"] for r in rows] == ids[100:2500]

    got, cursor = [], None
    while True:
        page = api.call("cdr.page", limit=LIST_MAX, cursor=cursor)
        got += page["cdrs"]
        if (cursor := page["next"]) is None:
            break
    assert [r["id"] for r in got] == ids

    csv, cursor, parts = b"", None, 0
    while True:
        page = api.call("cdr.export_csv", cursor=cursor)
        csv += page["csv"]
        parts += 1
        if (cursor := page["next"]) is None:
            break
    lines = csv.decode("utf-8-sig").splitlines()
    assert len(lines) == CDRS + 1 and [ln.split(",")[0] for ln in lines[1:]] == ids and parts >= 2

    audit, pages = _all(api.pages("audit.list", limit=LIST_MAX))
    assert [a["args"]["n"] for a in audit] == list(range(AUDITS))[::-1] and pages >= 3  # ~1 kB each: cut by bytes

    customers, cursor = [], None
    while True:
        page = api.call("customer.list", limit=LIST_MAX, cursor=cursor)
        assert page["total"] == CUSTOMERS
        customers += page["customers"]
        if (cursor := page["next"]) is None:
            break
    assert [c["number"] for c in customers] == [f"139{i:08d}" for i in range(CUSTOMERS)]

    intervals, pages = _all(api.pages("acd.intervals", since=0, limit=150))
    assert [r["start"] for r in intervals] == [T0 + i * 900 for i in range(INTERVALS)] and pages == 3
    assert api.call("status")["board"]  # the daemon served it all and is still there


def test_the_cli_follows_the_pages(full_daemon: DaemonProcess, tmp_path: Path, capsys) -> None:
    path = str(full_daemon.api_socket)
    assert cli.main(["--socket", path, "cdr", "list", "--limit", "2500"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]  # after the heading
    assert len(rows) == 2500 and f"138{CDRS - 1:08d}" in rows[0] and f"138{CDRS - 2500:08d}" in rows[-1]
    out = tmp_path / "all.csv"
    assert cli.main(["--socket", path, "cdr", "export", "-o", str(out)]) == 0
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert [ln.split(",")[0] for ln in lines[1:]] == [f"c{i:06d}" for i in range(CDRS)]


def test_hdlc_frames_kept_page_under_the_limit(daemon: DaemonProcess) -> None:
    """The last 256 frames of a signalling link, 4 kB each: 1 MiB, more than one reply carries."""
    w = World(daemon.sim)
    for i in range(300):
        w.e1_send_hdlc(4, bytes([i % 256]) * 4000)
    wait_for(lambda: next(s for s in daemon.api.call("spans") if s["id"] == 4)["hdlc"]["rx_frames"] >= 300, 10,
             "the frames received")
    frames, pages = _all(daemon.api.pages("e1.hdlc_received", span=4))
    assert [f[0] for f in frames] == [i % 256 for i in range(44, 300)] and pages == 2
