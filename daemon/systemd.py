"""systemd integration: sd_notify (READY, WATCHDOG, STATUS, STOPPING) and journald logging.

``sd_notify`` writes the datagram itself (no dependency on systemd-python), so tests can point
``NOTIFY_SOCKET`` at a socket they own. Logging goes to journald with structured fields when the
daemon runs under systemd with a journal, to stderr otherwise; the config can force either.
"""

from __future__ import annotations

import logging
import os
import socket
import sys


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
    """Configure the root logger; returns "journal" or "stderr"."""
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    use_journal = mode == "journal" or (mode == "auto" and bool(os.environ.get("JOURNAL_STREAM"))
                                        and os.path.exists("/run/systemd/journal/socket"))
    if use_journal:
        try:
            from systemd.journal import JournalHandler

            handler: logging.Handler = JournalHandler(SYSLOG_IDENTIFIER="callboxd")
            root.addHandler(handler)
            return "journal"
        except ImportError:
            pass
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    return "stderr"
