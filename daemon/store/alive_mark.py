"""The last-alive mark: when the daemon was last known to be running, for ending what a crash interrupted.

A file of 8 bytes (a little-endian double, epoch seconds) in the state directory, rewritten in place
about once a second by a timer of the service (on the store writer's thread, never the tick). It is
not fsync'd: the page cache keeps it across a kill -9, and after a power cut an older mark only
bills less. At start-up the previous run's mark is read before the first new one is written:
interrupted calls and recordings end there, not at the restart (a daemon down for 20 s must not
bill 20 s of talk nobody had).
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

log = logging.getLogger(__name__)

_MARK = struct.Struct("<d")


class AliveMark:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.previous: float | None = None  # the last run's last sign of life
        self.fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            data = os.pread(self.fd, _MARK.size, 0)
            value = _MARK.unpack(data)[0] if len(data) == _MARK.size else 0.0
            self.previous = value if value > 0 else None
            if len(data) < _MARK.size:
                os.pwrite(self.fd, bytes(_MARK.size), 0)  # its block allocated now: later marks fit on a full disk
                os.fsync(self.fd)
        except OSError as exc:  # a full disk when it first had to be written: crashed calls end at the restart
            log.error("cannot keep the last-alive mark in %s: %s", self.path, exc)
            os.close(self.fd)
            self.fd = None

    def write(self, when: float) -> None:
        """Rewrite the mark in place (no fsync: microseconds; a lost one only bills less)."""
        if self.fd is not None:
            os.pwrite(self.fd, _MARK.pack(when), 0)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
