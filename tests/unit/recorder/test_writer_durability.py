"""The writer's durability steps, asserted (kill -9 of the daemon cannot show a missing fsync, only a
power cut can): a recording in progress has its data fdatasync'd every ``sync_interval``; a finished
one has its file and its directory fsync'd before its row says ``complete``."""

from __future__ import annotations

import os
import threading

import pytest

from recorder import writer as writer_module
from tests.unit.recorder.conftest import Line
from tests.unit.recorder.signals import noise


def _watch(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Record every fsync / fdatasync (with the path of the fd) the recorder makes from now on."""
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def wrap(name: str):
        real = getattr(writer_module.os, name)

        def call(fd: int) -> None:
            with lock:
                seen.append((name, os.readlink(f"/proc/self/fd/{fd}")))
            real(fd)
        return call

    for name in ("fsync", "fdatasync"):
        monkeypatch.setattr(writer_module.os, name, wrap(name))
    return seen


def test_finished_recording_and_its_directory_are_synced(make_recorder, monkeypatch) -> None:
    rec = make_recorder()
    seen = _watch(monkeypatch)
    sig = noise(3, 50)
    rec.start("d", {"agent": "8001"}, 1, 2)
    Line().run(rec, {1: sig, 2: sig}, 50)
    rec.stop("d")
    rec.flush()
    [row] = rec.query(call_id="d")
    path = rec.directory / row["file"]
    assert row["status"] == "complete"
    assert ("fsync", str(path)) in seen and ("fsync", str(path.parent)) in seen
    last_dir_sync = max(i for i, e in enumerate(seen) if e == ("fsync", str(path.parent)))
    assert seen.index(("fsync", str(path))) < last_dir_sync


def test_open_recording_is_fdatasynced_every_sync_interval(make_recorder, monkeypatch) -> None:
    rec = make_recorder(sync_interval=0.0, check_interval=0.01)
    seen = _watch(monkeypatch)
    sig = noise(3, 50)
    rec.start("o", {"agent": "8001"}, 1, 2)
    line = Line()
    line.run(rec, {1: sig, 2: sig}, 50)
    rec.flush()
    rec.flush()  # the writer thread's periodic step after the first batch is done once this returns
    [path] = rec.directory.glob("*/o-1.wav")
    assert ("fdatasync", str(path)) in seen  # while still recording
    assert rec.recording("o")
    rec.stop("o")
