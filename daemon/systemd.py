"""systemd integration: sd_notify (READY, WATCHDOG, STATUS, STOPPING) and journald logging.

``sd_notify`` writes the datagram itself (no dependency on systemd-python), so tests can point
``NOTIFY_SOCKET`` at a socket they own. Logging goes to journald with structured fields when the
daemon runs under systemd with a journal, to stderr otherwise; the config can force either; either
way through a queue and a writer thread, so logging never blocks the tick.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import socket
import sys
from logging.handlers import QueueHandler, QueueListener


def sd_notify(*lines: str) -> bool:
    """Send ``KEY=value`` lines to the service manager; False when not under systemd or it did not take them.

    Never blocks: it runs on the event loop, and a notify socket whose reader has fallen behind (a
    full datagram queue) must cost a dropped STATUS, not a stalled daemon."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.setblocking(False)
            s.connect(addr)
            s.send("\n".join(lines).encode())
        return True
    except OSError:
        return False


def watchdog_interval() -> float | None:
    """Half the watchdog timeout systemd gave us (seconds), or None if there is no watchdog."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2e6
    except ValueError:
        return None


def setup_logging(mode: str = "auto", level: str = "info") -> str:
    """Configure the root logger; returns "journal" or "stderr".

    Records are queued (``QueueHandler``) and written by a thread of their own (``QueueListener``,
    stopped and drained at exit): a log line from the tick, such as a call's step (``daemon.calls.call_log``),
    never waits on a slow journal or a stderr pipe nobody reads."""
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        writer = getattr(old, "listener", None)
        if isinstance(writer, _Writer):
            writer.stop()
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    use_journal = mode == "journal" or (mode == "auto" and bool(os.environ.get("JOURNAL_STREAM"))
                                        and os.path.exists("/run/systemd/journal/socket"))
    kind, handler = "stderr", None
    if use_journal:
        try:
            from systemd.journal import JournalHandler

            kind, handler = "journal", JournalHandler(SYSLOG_IDENTIFIER="callboxd")
        except ImportError:
            pass
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    records: queue.SimpleQueue = queue.SimpleQueue()
    front = QueueHandler(records)
    front.listener = writer = _Writer(records, handler, respect_handler_level=True)
    writer.start()
    atexit.register(writer.stop)
    root.addHandler(front)
    return kind


class _Writer(QueueListener):
    """The log's writer thread; ``stop`` (write what is queued, end the thread) may be called twice."""

    running = False

    def start(self) -> None:
        super().start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.running = False
            super().stop()
