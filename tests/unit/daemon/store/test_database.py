"""LMDB store: CDRs in time order, journal of calls in progress, recovery after a crash."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from daemon.store.database import Store


def test_cdrs_time_ordered_and_ranged(tmp_path: Path) -> None:
    s = Store(tmp_path)
    for i, t in enumerate([1000.0, 1002.0, 1001.0]):
        s.begin_call(f"c{i}", {"id": f"c{i}", "start": t})
        s.finish_call(f"c{i}", {"id": f"c{i}", "start": t, "end": t + 5})
    ends = [c["end"] for c in s.cdrs()]
    assert ends == sorted(ends) == [1005.0, 1006.0, 1007.0]
    assert [c["id"] for c in s.cdrs(since=1005.5, until=1006.5)] == ["c2"]
    assert [c["id"] for c in s.cdrs(reverse=True, limit=2)] == ["c1", "c2"]
    assert s.active_calls() == [] and s.cdr_count() == 3


def test_recover_interrupted_marks_calls(tmp_path: Path) -> None:
    s = Store(tmp_path)
    s.begin_call("x", {"id": "x", "start": 100.0, "answer": 101.0, "caller": "13800138000"})
    out = s.recover_interrupted(now=110.0)
    assert out and out[0]["interrupted"] and out[0]["disposition"] == "INTERRUPTED"
    cdr = s.cdrs()[0]
    assert cdr["caller"] == "13800138000" and cdr["billsec"] == 9.0 and cdr["duration"] == 10.0
    assert s.active_calls() == []


def test_acknowledged_cdrs_survive_kill_9(tmp_path: Path) -> None:
    """A writer killed with SIGKILL mid-stream loses nothing it had acknowledged."""
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[4])!r})
        from daemon.store.database import Store
        s = Store({str(tmp_path)!r})
        i = 0
        while True:
            s.begin_call(f"c{{i}}", {{"id": i}})
            s.finish_call(f"c{{i}}", {{"id": i, "end": 1000.0 + i}})
            print(i, flush=True)
            i += 1
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    acked = -1
    for line in p.stdout:
        acked = int(line)
        if acked >= 40:
            break
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    s = Store(tmp_path)
    ids = [c["id"] for c in s.iter_cdrs()]
    assert ids[: acked + 1] == list(range(acked + 1))


def test_cdr_pages_cover_every_cdr_once_both_ways(tmp_path: Path) -> None:
    s = Store(tmp_path)
    for i in range(23):
        s.finish_call(f"c{i}", {"id": f"c{i}", "end": 2000.0 + i})
    for reverse in (False, True):
        seen, cursor = [], None
        while True:
            rows, cursor = s.cdr_page(None, None, 5, cursor, reverse=reverse)
            seen += [r["id"] for r in rows]
            if cursor is None:
                break
        want = [f"c{i}" for i in range(23)]
        assert seen == (want[::-1] if reverse else want)
    rows, cursor = s.cdr_page(2005.0, 2009.5, 100)
    assert [r["id"] for r in rows] == ["c5", "c6", "c7", "c8", "c9"] and cursor is None


def test_audit_log_newest_first(tmp_path: Path) -> None:
    s = Store(tmp_path)
    s.add_audit({"who": "root(uid 0)", "op": "e1.set_cas", "args": {"port": "3/1", "bits": 3}})
    s.add_audit({"who": "ops(uid 1000)", "op": "config.set", "args": {}})
    log = s.audit_log()
    assert [r["op"] for r in log] == ["config.set", "e1.set_cas"] and log[1]["args"]["bits"] == 3
    assert all(isinstance(r["when"], float) for r in log)


def test_cdrs_still_land_on_a_full_disk(tmpfs) -> None:
    """On a real small filesystem filled to the last block, CDRs keep being committed into the room the
    store reserved at start (sized to the filesystem: 2 MiB of 8)."""
    mnt = tmpfs("8m")
    s = Store(mnt / "state")
    assert s.env.info()["map_size"] == 2 << 20
    fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)  # a recording that filled the disk
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    with pytest.raises(OSError):
        (mnt / "more").write_bytes(b"x" * 65536)
    for i in range(200):
        s.finish_call(f"c{i}", {"id": f"c{i}", "end": 3000.0 + i, "caller": "13800138000" * 5})
    assert s.cdr_count() == 200
    s.close()
    assert Store(mnt / "state").cdr_count() == 200  # and they are on disk
