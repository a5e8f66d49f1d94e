"""Second copy (verified by checksum, corruption detected, retried) and retention (oldest first)."""

from __future__ import annotations

import hashlib
import itertools
import os
from pathlib import Path

from recorder import backup as backup_module
from recorder import wav
from tests.unit.recorder.conftest import Line
from tests.unit.recorder.signals import corr, linear, noise


def _record(rec, call_id: str, ticks: int = 50, seed: int = 1) -> None:
    line = Line()
    sig = noise(seed, ticks)
    rec.start(call_id, {"agent": "8001"}, 1, 2)
    line.run(rec, {1: sig, 2: sig}, ticks)
    rec.stop(call_id)


def test_second_copy_appears_verifies_and_corruption_is_detected(make_recorder, tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    backup.mkdir()
    rec = make_recorder(backup_dir=backup)
    _record(rec, "a", seed=1)
    _record(rec, "b", seed=2)
    rec.flush()
    assert {r["copy"] for r in rec.query()} == {"pending"}
    result = rec.housekeep()["backup"]
    assert sorted(result.verified) == ["a-1", "b-1"]
    for row in rec.query():
        copy = backup / row["file"]
        assert row["copy"] == "verified" and copy.read_bytes() == rec.fetch(row["id"])
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == row["sha256"]
        assert corr(linear(noise(1 if row["call_id"] == "a" else 2, 50)), wav.read(copy)[1][:, 0]) > 0.9
    # a bit flipped on the backup disk is found by verify, and the next run copies the file again
    copy = backup / rec.query(call_id="b")[0]["file"]
    data = bytearray(copy.read_bytes())
    data[1000] ^= 0x40
    copy.write_bytes(bytes(data))
    assert rec.backup.verify() == (2, ["b-1"])  # both copies read back, one bad
    assert rec.query(call_id="b")[0]["copy"] == "mismatch"
    assert rec.housekeep()["backup"].verified == ["b-1"]
    assert copy.read_bytes() == rec.fetch("b-1")


def test_unreachable_backup_is_retried_then_alarmed(make_recorder, tmp_path: Path) -> None:
    backup = tmp_path / "share"  # not mounted (absent)
    rec = make_recorder(backup_dir=backup, backup_attempts=3)
    _record(rec, "a")
    rec.flush()
    for attempt in (1, 2):
        assert rec.housekeep()["backup"].retry == ["a-1"]
        row = rec.query()[0]
        assert row["copy"] == "retry" and row["copy_attempts"] == attempt and "backup directory" in row["copy_error"]
    assert rec.housekeep()["backup"].failed == ["a-1"]
    assert rec.query()[0]["copy"] == "failed" and "recorder.backup_failed" in rec.alarms
    assert rec.housekeep()["backup"].failed == []  # given up: not retried for ever
    assert not (backup / rec.query()[0]["file"]).exists()


def test_a_copy_that_reads_back_wrong_is_not_verified(make_recorder, tmp_path: Path) -> None:
    """The checksum compared is the index's (taken when the file was finalized): a primary file
    that changed since then is copied but not marked verified."""
    backup = tmp_path / "backup"
    backup.mkdir()
    rec = make_recorder(backup_dir=backup)
    _record(rec, "a")
    rec.flush()
    path = rec.path("a")
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    result = rec.housekeep()["backup"]
    assert result.verified == [] and result.retry == ["a-1"]
    assert "checksum" in rec.query()[0]["copy_error"]


def test_retention_by_disk_use_deletes_oldest_first(make_recorder, tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    backup.mkdir()
    times = itertools.count(1_700_000_000, 3600)  # one recording an hour
    size = 58 + 50 * 160 * 2  # each: 1 s of stereo A-law
    rec = make_recorder(backup_dir=backup, clock=lambda: float(next(times)), max_bytes=3 * size + 100)
    for i in range(2):
        _record(rec, f"c{i}", seed=i)
    rec.flush()
    assert rec.housekeep()["purged"] == []  # under quota: nothing; the copies are made
    for i in range(2, 5):
        _record(rec, f"c{i}", seed=i)
    rec.flush()
    assert {r["size"] for r in rec.query()} == {size}
    out = rec.housekeep(now=1_800_000_000)
    assert out["purged"] == ["c0-1", "c1-1"]
    rows = {r["call_id"]: r for r in rec.query()}
    for cid in ("c0", "c1"):
        assert rows[cid]["status"] == "purged" and rows[cid]["purge_reason"] == "disk quota"
        assert not (rec.directory / rows[cid]["file"]).exists() and not (backup / rows[cid]["file"]).exists()
    for cid in ("c2", "c3", "c4"):
        assert rows[cid]["status"] == "complete" and (rec.directory / rows[cid]["file"]).exists()
    assert rec.housekeep(now=1_800_000_000)["purged"] == []  # under quota now
    assert rec.backup.verify() == (3, [])  # the purged files' copies went with them: not "mismatch"


def test_retention_by_age(make_recorder) -> None:
    times = iter([0.0, 1000.0, 1010.0, 90000.0, 90010.0, 100000.0, 100010.0])
    rec = make_recorder(clock=lambda: next(times), max_age_days=1)
    for i in range(3):
        _record(rec, f"c{i}", ticks=10)
    rec.flush()
    out = rec.housekeep(now=1000.0 + 86400 + 1)
    assert out["purged"] == ["c0-1"]
    assert rec.query(call_id="c0")[0]["purge_reason"] == "age"
    assert [r["status"] for r in rec.query()] == ["purged", "complete", "complete"]
    assert rec.housekeep(now=100010.0 + 1)["purged"] == []  # the others are hours old, not a day


def test_the_copy_is_synced_before_it_is_renamed_into_place(make_recorder, tmp_path: Path, monkeypatch) -> None:
    backup = tmp_path / "backup"
    backup.mkdir()
    rec = make_recorder(backup_dir=backup)
    _record(rec, "a")
    rec.flush()
    synced: list[str] = []
    real = backup_module.os.fsync
    monkeypatch.setattr(backup_module.os, "fsync",
                        lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd))[1])
    assert rec.housekeep()["backup"].verified == ["a-1"]
    copy = backup / rec.query()[0]["file"]
    assert str(copy) + ".part" in synced
