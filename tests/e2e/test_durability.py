"""End to end, real processes: nothing lost and nothing overbilled on a full disk or a crash.

The state directory (CDR store, recordings index, journal) and the recordings each on their own small
tmpfs; the store found with its reservation used up to the last page (years of old CDRs), so on a
full disk it cannot take another. Every finished call then keeps its CDR (held, journalled) and its
recording (index row held, ``recording.finished`` withheld) while the alarms are up, seen by an API
subscriber; once space is back every call has exactly one CDR with its billsec, every recording is
``complete``, and the alarms clear, also across a kill -9 while the disk is full. With no room at all
the daemon refuses to start, saying why. A call killed mid-conversation is billed to the last-alive
mark, not to the restart, and its recording agrees.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import lmdb
import msgpack
import pytest

from daemon.api.client import ApiClient
from daemon.store.database import Store
from recorder.index import RecordingIndex, rec_key
from tests.conftest import e2e_config, running
from tests.support.processes import DaemonProcess, SimProcess, edit_config, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e


def _seed_store(state: Path) -> int:
    """Old CDRs in the store until its reservation is used to the last page (raw transactions: no
    growth); returns how many."""
    s = Store(state)
    n, batch = 0, 256
    while batch:
        try:
            with s.env.begin(write=True) as txn:
                for i in range(n, n + batch):
                    cdr = {"id": f"old{i}", "caller": "13800138000", "end": 1_000_000_000.0 + i, "billsec": 60.0}
                    txn.put(s.cdr_key(cdr), msgpack.packb(cdr), db=s.cdr)
            n += batch
        except lmdb.MapFullError:
            batch //= 2
    s.close()
    return n


def _seed_index(state: Path) -> int:
    """Old recordings' rows (purged long ago: no files) in the recordings index until its reservation is
    used to the last page; returns how many."""
    idx = RecordingIndex(state / "recordings-index")
    n, batch = 0, 256
    while batch:
        try:
            with idx.env.begin(write=True) as txn:
                for i in range(n, n + batch):
                    rid = f"old{i}-1"
                    row = {"id": rid, "call_id": f"old{i}", "start": 1_000_000_000.0 + i, "status": "purged",
                           "size": 0, "file": f"20010909/{rid}.wav"}
                    txn.put(rec_key(row["start"], rid), msgpack.packb(row), db=idx.rec)
                    txn.put(rid.encode(), rec_key(row["start"], rid), db=idx.ids)
            n += batch
        except lmdb.MapFullError:
            batch //= 2
    idx.close()
    return n


def _fill(path: Path) -> None:
    """Write until the filesystem says it is full."""
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\xa5" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


@dataclass
class Box:
    d: DaemonProcess
    state_fs: Path
    seeded: int

    @property
    def api(self) -> ApiClient:
        assert self.d.api is not None
        return self.d.api


def _box(tmp_path: Path, sim: SimProcess, tmpfs, seed: bool) -> Iterator[Box]:
    state_fs, rec_fs = tmpfs("4m"), tmpfs("16m")
    cfg = edit_config(e2e_config(tmp_path), recording={"mode": "all", "directory": str(rec_fs / "rec"),
                                                       "min_free_mb": 1})
    d = DaemonProcess(tmp_path, sim, cfg)
    d.state_dir = state_fs / "state"
    seeded = _seed_store(d.state_dir) if seed else 0
    if seed:
        assert _seed_index(d.state_dir) > 1000
    yield from (Box(d, state_fs, seeded) for d in running(d))


@pytest.fixture
def box(tmp_path: Path, sim: SimProcess, tmpfs) -> Iterator[Box]:
    """The daemon with its state and its recordings on small filesystems, the room reserved for the CDR
    store and the recordings index used up."""
    yield from _box(tmp_path, sim, tmpfs, seed=True)


@pytest.fixture
def new_box(tmp_path: Path, sim: SimProcess, tmpfs) -> Iterator[Box]:
    """The same with an empty store."""
    yield from _box(tmp_path, sim, tmpfs, seed=False)


def _calls(d: DaemonProcess, n: int, talk: float = 1.0) -> list[tuple[str, float]]:
    """``n`` calls 8001 → 8002, each talking ``talk`` s: (call id, talk time from answer to hang-up)."""
    w, out = World(d.sim), []
    for _ in range(n):
        a, b = w.internal_call("8001", "8002", d.api)
        [call] = [c for c in d.api.call("calls") if c.get("answer")]
        time.sleep(talk)  # the conversation
        b.on_hook()
        out.append((call["id"], time.time() - call["answer"]))
        a.on_hook()
        wait_for(lambda: not d.api.call("calls") and _idle(d, "8001", "8002"), 5, "the call ended, both phones idle")
    return out


def _idle(d: DaemonProcess, *extensions: str) -> bool:
    """The extensions' ports idle (on hook past a hook flash: lifting the phone again is a new call)."""
    return all(p.get("state") == "idle" for p in d.api.call("ports") if p.get("extension") in extensions)


def _check_cdrs(api: ApiClient, since: float, calls: list[tuple[str, float]],
                interrupted: frozenset[str] = frozenset()) -> None:
    """Exactly one CDR for each call, billed its talk time (the on-hook is told from a hook flash
    after about 0.6 s), none interrupted but those in ``interrupted`` (checked by the caller)."""
    cdrs = api.call("cdr.list", since=since, limit=1000)
    assert sorted(c["id"] for c in cdrs) == sorted(cid for cid, _ in calls)
    for cid, talk in calls:
        if cid in interrupted:
            continue
        [cdr] = [c for c in cdrs if c["id"] == cid]
        assert cdr["disposition"] == "ANSWERED" and not cdr["interrupted"]
        assert talk - 0.1 <= cdr["billsec"] <= talk + 1.0, (cdr, talk)


def _events(api: ApiClient, kind: str, **match: object) -> list[dict]:
    api.call("status")  # events are read while waiting for a reply
    return [e for e in api.events if e["kind"] == kind and all(e.get(k) == v for k, v in match.items())]


def test_full_state_disk_cdrs_land_in_the_room_reserved_at_start(new_box: Box) -> None:
    """The state directory on a 4 MiB filesystem, filled up: all of ten calls' CDRs and recordings' index
    rows land in the room the store and the index reserved at start, with no alarm."""
    d, since = new_box.d, time.time()
    watcher = ApiClient(str(d.api_socket))
    watcher.call("subscribe", kinds=["alarm.", "recorder.", "recording.finished"])
    _fill(new_box.state_fs / "filler")
    calls = _calls(d, 10, talk=0.2)
    _check_cdrs(d.api, since, calls)
    for cid, _ in calls:
        watcher.next_event("recording.finished", timeout=5, where=lambda e, cid=cid: e["call_id"] == cid)
        assert [r["status"] for r in d.api.call("recordings.query", call_id=cid)] == ["complete"]
    assert d.api.call("status")["cdrs_held"] == 0
    assert not _events(watcher, "alarm.raised") and not _events(watcher, "recorder.alarm")
    watcher.close()


def test_full_disk_every_cdr_and_recording_lands_once_space_is_back(box: Box, tmp_path: Path) -> None:
    d, api, since = box.d, box.api, time.time()
    assert box.seeded > 1000
    watcher = ApiClient(str(d.api_socket))  # an integrator watching alarms and recordings
    watcher.call("subscribe", kinds=["alarm.", "recorder.", "recording."])
    filler = box.state_fs / "filler"
    _fill(filler)
    calls = _calls(d, 4)

    raised = watcher.next_event("alarm.raised", timeout=5, where=lambda e: e.get("alarm") == "CDR_STORE")
    assert "wait for the store: mdb_txn_commit" in raised["detail"]  # ENOSPC, or EIO (a short write)
    st = wait_for(lambda: (s := api.call("status"))["cdrs_held"] == 4 and s, 5, "four CDRs held")
    assert "CDR_STORE" in st["store_alarms"] and st["cdrs"] == box.seeded
    wait_for(lambda: any("4 CDRs held" in n for n in d.read_notices()), 5, "STATUS= naming the held CDRs")
    assert api.call("cdr.list", since=since) == []  # not in the store yet: held
    index = watcher.next_event("recorder.alarm", timeout=5, where=lambda e: e["name"] == "recorder.index_error")
    assert index["active"] is True
    assert not _events(watcher, "recording.finished")  # not before the index has their rows
    assert not _events(watcher, "alarm.cleared")

    filler.unlink()
    cleared = watcher.next_event("alarm.cleared", timeout=5, where=lambda e: e.get("alarm") == "CDR_STORE")
    assert cleared["alarm"] == "CDR_STORE"
    watcher.next_event("recorder.alarm", timeout=5,
                       where=lambda e: e["name"] == "recorder.index_error" and e["active"] is False)
    for cid, _ in calls:
        finished = watcher.next_event("recording.finished", timeout=5, where=lambda e, cid=cid: e["call_id"] == cid)
        assert finished["status"] == "complete"
    _check_cdrs(api, since, calls)
    st = api.call("status")
    assert st["cdrs_held"] == 0 and st["store_alarms"] == {} and st["recorder_alarms"] == {}
    assert st["cdrs"] == box.seeded + 4
    for cid, talk in calls:
        [row] = api.call("recordings.query", call_id=cid)
        assert row["status"] == "complete" and talk - 0.5 <= row["duration"] <= talk + 1.0
    watcher.close()


def test_kill_9_while_the_disk_is_full_loses_no_cdr(box: Box) -> None:
    """Three finished calls and one in progress when the daemon is killed on a full disk: after the
    restart (the disk still full) and then space, three ANSWERED CDRs and one INTERRUPTED billed to
    the last-alive mark, each once; the finished calls' recordings complete, the other's crashed."""
    d, since = box.d, time.time()
    filler = box.state_fs / "filler"
    _fill(filler)
    calls = _calls(d, 3)
    a, b = World(d.sim).internal_call("8001", "8002", d.api)
    [live] = [c for c in d.api.call("calls") if c.get("answer")]
    wait_for(lambda: d.api.call("status")["cdrs_held"] == 3, 5, "three CDRs held")
    time.sleep(1.5)  # the conversation in progress
    d.kill9()
    talk = time.time() - live["answer"]
    a.on_hook()
    b.on_hook()
    d.start()  # the disk still full: it starts, with the journal's CDRs held and the alarm up
    watcher = ApiClient(str(d.api_socket))
    watcher.call("subscribe", kinds=["alarm."])
    watcher.next_event("alarm.raised", timeout=5, where=lambda e: e.get("alarm") == "CDR_STORE")
    assert d.api.call("status")["cdrs_held"] == 4 and d.api.call("cdr.list", since=since) == []
    filler.unlink()
    watcher.next_event("alarm.cleared", timeout=5, where=lambda e: e.get("alarm") == "CDR_STORE")
    late = ApiClient(str(d.api_socket))  # a client subscribing after the clearing sees both, in order
    late.call("subscribe", kinds=["alarm."])
    assert [e["kind"] for e in _events(late, "alarm.raised", alarm="CDR_STORE") + _events(
        late, "alarm.cleared", alarm="CDR_STORE")] == ["alarm.raised", "alarm.cleared"]
    late.close()
    cdrs = d.api.call("cdr.list", since=since, limit=1000)
    [interrupted] = [c for c in cdrs if c["id"] == live["id"]]
    assert interrupted["disposition"] == "INTERRUPTED" and talk - 1.5 <= interrupted["billsec"] <= talk + 0.1
    _check_cdrs(d.api, since, calls + [(live["id"], 0.0)], interrupted=frozenset({live["id"]}))
    assert d.api.call("status")["cdrs"] == box.seeded + 4
    # the recordings: the finished calls' complete (their rows kept while the index refused them), the
    # call in progress repaired as crashed and ended at the last-alive mark
    for cid, call_talk in calls:
        [row] = wait_for(lambda cid=cid: d.api.call("recordings.query", call_id=cid), 5, f"{cid}'s recording")
        assert (row["status"], row["note"]) == ("complete", "")
        assert call_talk - 0.5 <= row["duration"] <= call_talk + 1.0
    [row] = d.api.call("recordings.query", call_id=live["id"])
    assert (row["status"], row["note"]) == ("interrupted", "crash") and row["end"] <= live["answer"] + talk + 0.1
    assert abs(row["duration"] - interrupted["billsec"]) <= 1.5
    watcher.close()


def test_no_room_for_the_store_refuses_to_start(tmp_path: Path, sim: SimProcess, tmpfs) -> None:
    d = DaemonProcess(tmp_path, sim, e2e_config(tmp_path))
    d.state_dir = tmpfs("256k") / "state"
    d.start(wait_ready=False)
    assert d.proc is not None and d.proc.wait(20) == 1
    assert f"cannot start: {d.state_dir}: no room for the CDR store" in d.log_text()
    assert "READY=1" not in d.read_notices()
    assert any(n.startswith("STATUS=cannot start:") for n in d.read_notices())
    d.stop()


def test_a_call_killed_mid_conversation_is_billed_to_the_last_alive_mark(daemon: DaemonProcess) -> None:
    """Killed 3 s into the conversation, down 4 s: billed about 3 s (not 7), its recording as long."""
    w = World(daemon.sim)
    a, b = w.internal_call("8001", "8002", daemon.api)
    [call] = [c for c in daemon.api.call("calls") if c.get("answer")]
    time.sleep(3.0)  # the conversation
    daemon.kill9()
    talk = time.time() - call["answer"]
    time.sleep(4.0)  # the box is down (as under systemd's RestartSec): no part of the call
    a.on_hook()
    b.on_hook()
    daemon.start()
    [cdr] = [c for c in daemon.api.call("cdr.list") if c["id"] == call["id"]]
    assert cdr["interrupted"] and cdr["disposition"] == "INTERRUPTED"
    assert talk - 1.5 <= cdr["billsec"] <= talk + 0.1, (cdr["billsec"], talk)
    [row] = daemon.api.call("recordings.query", call_id=call["id"])
    assert row["status"] == "interrupted" and row["note"] == "crash"
    assert abs(row["duration"] - cdr["billsec"]) <= 1.5 and abs(row["end"] - row["start"] - row["duration"]) <= 1.0
    assert row["end"] <= call["answer"] + talk + 0.1  # not at the restart
