"""The store's durability: LMDB's sync settings, the reservation sized to the filesystem (and the refusal
where nothing fits), the CDR journal, the store writer holding and retrying CDRs the store refuses (on
an injectable clock), and interrupted calls ended at the last-alive mark."""

from __future__ import annotations

import os
from pathlib import Path

import lmdb
import pytest

from daemon.store.alive_mark import AliveMark
from daemon.store.cdr_journal import CdrJournal, JournalFull, NoJournal
from daemon.store.database import MIN_RESERVE, Store, StoreError, StoreWriter
from ivr.voicemail import Voicemail
from recorder.index import RecordingIndex


def _durable(env: lmdb.Environment) -> None:
    flags = env.flags()
    assert flags["sync"] is True and flags["metasync"] is True, flags
    assert flags["map_async"] is False and flags["writemap"] is False, flags


def test_every_lmdb_environment_is_opened_durable(tmp_path: Path) -> None:
    """kill -9 cannot show a missing fsync: the settings themselves are asserted (CDRs, recordings index,
    voicemail index)."""
    _durable(Store(tmp_path / "state").env)
    _durable(RecordingIndex(tmp_path / "index").env)
    _durable(Voicemail(tmp_path / "vm").env)


def test_reservation_sized_to_the_filesystem(tmpfs) -> None:
    fs = tmpfs("4m")
    s = Store(fs / "state")
    size = s.env.info()["map_size"]
    assert size == 1 << 20  # a quarter of the filesystem, not the 64 MiB that cannot fit
    assert (fs / "state" / "callbox.lmdb" / "data.mdb").stat().st_blocks * 512 >= size  # owned now
    assert (fs / "state" / "cdr.journal").stat().st_blocks * 512 >= 256 << 10
    s.close()


def test_no_room_at_all_refuses_to_open(tmpfs) -> None:
    fs = tmpfs("256k")
    with pytest.raises(StoreError) as err:
        Store(fs / "state")
    assert str(fs / "state") in str(err.value) and "no room for the CDR store" in str(err.value)
    assert f"needs at least {(MIN_RESERVE + (256 << 10)) >> 10} KiB" in str(err.value)


def test_a_store_that_owns_its_room_opens_on_a_full_disk_without_its_journal(tmpfs) -> None:
    """A box whose store was created before the journal existed, started with the disk full: it starts
    (the CDRs land in the store's own room); a CDR the store refused would be held in memory only."""
    fs = tmpfs("4m")
    Store(fs / "state").close()
    for name in ("cdr.journal", "alive"):
        (fs / "state" / name).unlink()
    with open(fs / "filler", "wb", buffering=0) as f, pytest.raises(OSError):
        while True:
            f.write(b"\0" * 4096)
    s = FlakyStore(fs / "state")
    assert isinstance(s.journal, NoJournal) and s.last_alive is None
    clock = Clock()
    w = StoreWriter(s, clock=clock)
    w.finish_call("c1", {"id": "c1", "end": 2001.0}).result()
    assert [c["id"] for c in s.cdrs()] == ["c1"]
    s.full = True
    w.finish_call("c2", {"id": "c2", "end": 2002.0}).result()
    assert list(w.held.values())[0][0] == "c2" and "journal: no journal: No space left on device" in w.alarm
    s.full = False
    clock.t += 1.0
    assert w.retry_due()
    w.submit(lambda: None).result()
    assert [c["id"] for c in s.cdrs()] == ["c1", "c2"] and w.alarm is None
    w.close()


def test_journal_appends_survive_reopen_and_clear(tmp_path: Path) -> None:
    j = CdrJournal(tmp_path / "j", size=4096)
    j.append(b"k1" * 6, "c1", {"id": "c1", "billsec": 5.0})
    j.append(b"k2" * 6, "c2", {"id": "c2"})
    j.close()
    j = CdrJournal(tmp_path / "j", size=4096)
    assert j.entries() == [(b"k1" * 6, "c1", {"id": "c1", "billsec": 5.0}), (b"k2" * 6, "c2", {"id": "c2"})]
    j.clear()
    j.append(b"k3" * 6, "c3", {"id": "c3"})  # a new epoch: the older records after it are not read back
    j.close()
    j = CdrJournal(tmp_path / "j", size=4096)
    assert [e[1] for e in j.entries()] == ["c3"]
    with pytest.raises(JournalFull):
        for i in range(100):
            j.append(b"k" * 12, f"x{i}", {"id": "x" * 50})
    j.close()


def test_torn_journal_record_ends_the_journal_there(tmp_path: Path) -> None:
    j = CdrJournal(tmp_path / "j", size=4096)
    j.append(b"a" * 12, "c1", {"id": "c1"})
    end = j.offset
    j.append(b"b" * 12, "c2", {"id": "c2"})
    os.pwrite(j.fd, b"\xff", end + 20)  # a crash in the middle of the second append
    j.close()
    assert [e[1] for e in CdrJournal(tmp_path / "j", size=4096).entries()] == ["c1"]


class FlakyStore(Store):
    """A real store whose CDR commits fail while ``full`` (as LMDB's do on a full disk)."""

    full = False
    attempts = 0

    def finish_calls(self, items):
        self.attempts += 1
        if self.full:
            raise lmdb.Error("mdb_txn_commit: No space left on device")
        return super().finish_calls(items)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_refused_cdrs_held_journalled_retried_and_alarmed(tmp_path: Path) -> None:
    store, clock, alarms = FlakyStore(tmp_path), Clock(), []
    w = StoreWriter(store, clock=clock, retry_s=1.0, on_alarm=lambda up, detail: alarms.append((up, detail)))
    store.full = True
    w.begin_call("c1", {"id": "c1"})
    for i in (1, 2):
        w.finish_call(f"c{i}", {"id": f"c{i}", "end": 2000.0 + i, "billsec": 3.0}).result()
    assert len(w.held) == 2 and store.cdr_count() == 0
    assert [c for _, c, _ in store.journal.entries()] == ["c1", "c2"]  # on disk, in case of a crash
    assert alarms == [(True, "1 CDRs wait for the store: mdb_txn_commit: No space left on device")]
    assert "2 CDRs wait" in w.alarm

    tries = store.attempts
    clock.t += 0.5
    assert not w.retry_due()  # not yet: no retry storm against a full disk
    clock.t += 0.5
    assert w.retry_due()
    w.submit(lambda: None).result()
    assert store.attempts == tries + 1 and len(w.held) == 2 and len(alarms) == 1  # still full: still raised

    store.full = False
    clock.t += 1.0
    assert w.retry_due()
    w.submit(lambda: None).result()
    assert w.held == {} and w.alarm is None and alarms[-1] == (False, "")
    assert [(c["id"], c["billsec"]) for c in store.cdrs()] == [("c1", 3.0), ("c2", 3.0)]
    assert store.active_calls() == [] and store.journal.entries() == []
    assert not w.retry_due()
    w.close()


def test_a_write_that_lands_takes_the_held_ones_with_it(tmp_path: Path) -> None:
    store, clock = FlakyStore(tmp_path), Clock()
    w = StoreWriter(store, clock=clock)
    store.full = True
    w.finish_call("c1", {"id": "c1", "end": 2001.0}).result()
    store.full = False
    w.finish_call("c2", {"id": "c2", "end": 2002.0}).result()  # before any retry is due
    assert w.held == {} and w.alarm is None and [c["id"] for c in store.cdrs()] == ["c1", "c2"]
    w.close()


def test_journal_replayed_after_a_crash_exactly_once(tmp_path: Path) -> None:
    """A crash while CDRs are held: the next start holds them again from the journal, the calls are not
    also turned into interrupted CDRs, and a CDR the store had already taken is not stored twice."""
    store = FlakyStore(tmp_path)
    w = StoreWriter(store, clock=Clock())
    for i in (1, 2):
        w.begin_call(f"c{i}", {"id": f"c{i}", "start": 1990.0, "answer": 1991.0})
    store.full = True
    for i in (1, 2):
        w.finish_call(f"c{i}", {"id": f"c{i}", "start": 1990.0, "answer": 1991.0, "end": 2000.0 + i,
                                "billsec": 9.0 + i}).result()
    w._pool.shutdown()  # the process dies: nothing more runs ...
    store.full = False
    store.finish_calls([e for e in store.journal.entries() if e[1] == "c2"])  # ... after c2's commit, before the clear
    store.close()

    again = Store(tmp_path)
    w2 = StoreWriter(again, clock=Clock())
    assert w2.held_call_ids == {"c1", "c2"} and w2.alarm
    assert again.interrupted(last_alive=2003.0, skip=w2.held_call_ids) == []
    assert w2.retry_due()
    w2.submit(lambda: None).result()
    assert sorted((c["id"], c["billsec"]) for c in again.cdrs()) == [("c1", 10.0), ("c2", 11.0)]
    assert w2.alarm is None and again.active_calls() == [] and again.journal.entries() == []
    w2.close()


class RefusingStore(Store):
    """A real store that refuses every write while ``full``."""

    full = False

    def _write(self, fn):
        if self.full:
            raise lmdb.Error("mdb_txn_commit: No space left on device")
        return super()._write(fn)


def test_a_call_in_progress_the_store_refused_still_leaves_an_interrupted_cdr(tmp_path: Path) -> None:
    store = RefusingStore(tmp_path)
    w = StoreWriter(store, clock=Clock())
    store.full = True
    w.begin_call("live", {"id": "live", "start": 100.0}).result()
    w.update_call("live", {"id": "live", "start": 100.0, "answer": 101.0}).result()
    assert w.held_active["live"]["answer"] == 101.0 and w.alarm == (
        "0 CDRs and 1 calls in progress wait for the store: mdb_txn_commit: No space left on device")
    w._pool.shutdown()  # kill -9
    store.close()

    again = Store(tmp_path)
    w2 = StoreWriter(again, clock=Clock())
    assert again.active_calls() == [] and w2.held_active["live"]["answer"] == 101.0
    [(call_id, cdr)] = again.interrupted(last_alive=104.5, now=130.0, skip=w2.held_call_ids,
                                         journalled=dict(w2.held_active))
    assert (call_id, cdr["billsec"], cdr["disposition"]) == ("live", 3.5, "INTERRUPTED")
    w2.finish_call(call_id, cdr).result()
    assert [(c["id"], c["billsec"]) for c in again.cdrs()] == [("live", 3.5)]
    assert w2.held_active == {} and w2.alarm is None and again.journal.entries() == []
    w2.close()


def test_interrupted_calls_end_at_the_last_alive_mark(tmp_path: Path) -> None:
    """Killed 5.17 s after the answer, restarted 20 s later: billsec 5.17, not 25.17."""
    s = Store(tmp_path)
    s.begin_call("x", {"id": "x", "start": 100.0, "answer": 101.0})
    s.begin_call("y", {"id": "y", "start": 106.5})  # began after the last mark: ends where it began
    [(xid, x), (yid, y)] = s.interrupted(last_alive=106.17, now=126.17)
    assert (xid, x["billsec"], x["duration"], x["end"], x["disposition"]) == ("x", 5.17, 6.17, 106.17, "INTERRUPTED")
    assert (yid, y["billsec"], y["duration"], y["end"]) == ("y", 0.0, 0.0, 106.5)
    [(_, x)] = s.interrupted(last_alive=None, now=126.17)[:1]  # no mark (a first run): the restart, as before
    assert x["billsec"] == 25.17


def test_alive_mark_keeps_the_previous_runs_mark(tmp_path: Path) -> None:
    m = AliveMark(tmp_path / "alive")
    assert m.previous is None
    m.write(1234.5)
    m.close()  # no fsync on the write: the page cache keeps it across a kill -9
    m = AliveMark(tmp_path / "alive")
    assert m.previous == 1234.5
    m.write(1240.0)
    assert m.previous == 1234.5
