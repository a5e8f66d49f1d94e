"""Index rows the recordings index refused, kept beside it so a crash does not lose them.

While the index refuses writes (its disk full, its reserved room used up) the writer holds rows in
memory; each time that set changes it is saved here, so after a kill -9 a recording that ended
normally is indexed ``complete`` at the next start instead of being repaired as crashed. The file
is given all its blocks when it is created (it must be writable on a full disk) and has two slots
written in turn, each a header (``HELD``, sequence, length, CRC-32) and a msgpack list of rows: a
crash in the middle of a save leaves the other slot, the previous set, intact. Used by the writer's
thread only (and recovery, before the writer starts).
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from pathlib import Path

import msgpack

log = logging.getLogger(__name__)

SLOT_SIZE = 128 << 10  # about 300 rows
_HEAD = struct.Struct(">4sQII")
_MAGIC = b"HELD"


class HeldRows:
    def __init__(self, path: str | Path, slot_size: int = SLOT_SIZE) -> None:
        self.path = Path(path)
        self.slot_size = slot_size
        self.fd: int | None = None
        self.seq, self._slot, self._rows = 0, 1, []
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
            if os.fstat(self.fd).st_blocks * 512 < 2 * slot_size:
                os.posix_fallocate(self.fd, 0, 2 * slot_size)
        except OSError as exc:  # a full disk when it first had to be made: held rows stay in memory only
            log.error("recorder: cannot keep held index rows in %s: %s", self.path, exc)
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None
            return
        for slot in (0, 1):
            found = self._read(slot)
            if found is not None and found[0] > self.seq:
                self.seq, self._slot, self._rows = found[0], slot, found[1]

    def _read(self, slot: int) -> tuple[int, list[dict]] | None:
        assert self.fd is not None
        magic, seq, length, crc = _HEAD.unpack(os.pread(self.fd, _HEAD.size, slot * self.slot_size))
        if magic != _MAGIC or length > self.slot_size - _HEAD.size:
            return None
        payload = os.pread(self.fd, length, slot * self.slot_size + _HEAD.size)
        return (seq, list(msgpack.unpackb(payload))) if zlib.crc32(payload) == crc else None

    def rows(self) -> list[dict]:
        """The rows saved last (after a crash: those the index may still lack)."""
        return list(self._rows)

    def save(self, rows: list[dict]) -> None:
        """Replace the saved set (in the other slot, fdatasync'd). Rows beyond the slot's room stay in
        memory only (a log line)."""
        if self.fd is None:
            return
        payload = msgpack.packb(rows)
        while len(payload) > self.slot_size - _HEAD.size and rows:
            rows = rows[: len(rows) * 3 // 4]
            payload = msgpack.packb(rows)
            log.error("recorder: too many held index rows to keep on disk: %d kept", len(rows))
        slot = 1 - self._slot
        try:
            os.pwrite(self.fd, _HEAD.pack(_MAGIC, self.seq + 1, len(payload), zlib.crc32(payload)) + payload,
                      slot * self.slot_size)
            os.fdatasync(self.fd)
        except OSError as exc:
            log.error("recorder: cannot save held index rows: %s", exc)
            return
        self.seq, self._slot, self._rows = self.seq + 1, slot, list(rows)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
