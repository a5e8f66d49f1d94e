"""The CDR journal: finished calls' CDRs that the store could not take yet, in a small preallocated file.

When LMDB refuses a CDR (its disk is full, the map cannot grow), the store writer keeps the CDR in
memory and appends it here, so a kill -9 or a power cut before the store takes it loses nothing.
The file is given all its blocks when it is created (``posix_fallocate``), so appending to it still
works on a full disk. Once every held CDR has landed in the store the journal is emptied.

Layout: a 16-byte file header (``CDRJ``, epoch) and records, each a 16-byte header (``CDRR``, epoch,
length, CRC-32) and a msgpack ``[key, call_id, cdr]``. Emptying bumps the epoch in the file header,
so records of an earlier epoch further on are never read as current. A torn record (a crash in the
middle of an append) fails its CRC and ends the journal there; every record before it is intact
because each append is fdatasync'd before the CDR is reported held.

Replaying is idempotent: a record carries the CDR's store key, and the store does not overwrite a
key it already has (a crash between the store's commit and the journal's emptying).
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import msgpack

JOURNAL_SIZE = 256 << 10  # about 600 CDRs
_FILE = struct.Struct(">4sI")
_REC = struct.Struct(">4sIII")
_FILE_MAGIC, _REC_MAGIC = b"CDRJ", b"CDRR"


class JournalFull(Exception):
    """No room left in the journal for another CDR (it stays in memory only)."""


class NoJournal:
    """Where the journal file could not be created (a full disk when it first had to be): held CDRs stay
    in memory only."""

    def __init__(self, why: str) -> None:
        self.why = why

    def entries(self) -> list[tuple[bytes, str, dict]]:
        return []

    def append(self, key: bytes, call_id: str, cdr: dict) -> None:
        raise JournalFull(f"no journal: {self.why}")

    def clear(self) -> None:
        pass

    def close(self) -> None:
        pass


class CdrJournal:
    """An append-only journal of ``(key, call_id, cdr)`` in a preallocated file. Not thread-safe: one
    thread (the store writer's) uses it."""

    def __init__(self, path: str | Path, size: int = JOURNAL_SIZE) -> None:
        self.path = Path(path)
        new = not self.path.exists()
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            self.size = max(size, os.fstat(self.fd).st_size)
            if os.fstat(self.fd).st_blocks * 512 < self.size:
                os.posix_fallocate(self.fd, 0, self.size)  # OSError: no room for it (the caller says so)
            head = os.pread(self.fd, _FILE.size, 0)
            magic, epoch = _FILE.unpack(head) if len(head) == _FILE.size else (b"", 0)
            if new or magic != _FILE_MAGIC:
                self.epoch = 1
                self._write_head()
            else:
                self.epoch = epoch
            self._entries, self.offset = self._scan()
        except BaseException:
            os.close(self.fd)
            raise

    def _write_head(self) -> None:
        os.pwrite(self.fd, _FILE.pack(_FILE_MAGIC, self.epoch), 0)
        os.fdatasync(self.fd)

    def _scan(self) -> tuple[list[tuple[bytes, str, dict]], int]:
        out: list[tuple[bytes, str, dict]] = []
        offset = _FILE.size
        while offset + _REC.size <= self.size:
            magic, epoch, length, crc = _REC.unpack(os.pread(self.fd, _REC.size, offset))
            if magic != _REC_MAGIC or epoch != self.epoch or offset + _REC.size + length > self.size:
                break
            payload = os.pread(self.fd, length, offset + _REC.size)
            if zlib.crc32(payload) != crc:
                break
            key, call_id, cdr = msgpack.unpackb(payload)
            out.append((bytes(key), call_id, cdr))
            offset += _REC.size + length
        return out, offset

    def entries(self) -> list[tuple[bytes, str, dict]]:
        """The CDRs the journal holds (when opened after a crash: those the store may still lack)."""
        return list(self._entries)

    def append(self, key: bytes, call_id: str, cdr: dict) -> None:
        """Add a CDR, on disk (fdatasync'd) when this returns. ``JournalFull`` if it does not fit."""
        payload = msgpack.packb([key, call_id, cdr])
        if self.offset + _REC.size + len(payload) > self.size:
            raise JournalFull(f"{self.path}: journal full ({self.size >> 10} KiB)")
        os.pwrite(self.fd, _REC.pack(_REC_MAGIC, self.epoch, len(payload), zlib.crc32(payload)) + payload,
                  self.offset)
        os.fdatasync(self.fd)
        self.offset += _REC.size + len(payload)
        self._entries.append((key, call_id, cdr))

    def clear(self) -> None:
        """Every CDR held has landed in the store: start a new epoch (one small write)."""
        if self.offset == _FILE.size and not self._entries:
            return
        self.epoch += 1
        self._write_head()
        self.offset = _FILE.size
        self._entries = []

    def close(self) -> None:
        os.close(self.fd)
