"""How many API connections the daemon takes, and who is refused first when they run out.

A connection costs a file descriptor and some memory, so their number is capped: in total, and per
Unix user. The last ``admin_reserve`` connections of the total are kept for admins (root, the
daemon's own user, members of ``callbox-admin``), so the installer's CLI or TUI still gets in while
an integrator's runaway script holds every other connection; root and the daemon's user are not
held to the per-user cap. A refused client gets an error frame saying why, then the connection is
closed; the refusals are logged once a minute at most, with how many there were (a client
reconnecting in a loop must not fill the disk with log lines).
"""

from __future__ import annotations

import logging
import os
import resource
from collections.abc import Callable
from dataclasses import dataclass

from daemon.api.roles import Peer

# descriptors the daemon needs besides API clients: board link, LMDB, logs, recordings being written
# (two files per recorded call at 120 channels), prompts and voicemail being read
FD_HEADROOM = 512


@dataclass(frozen=True)
class ApiLimits:
    """``[api]`` ``max_clients``, ``max_clients_per_uid``, ``admin_reserve``."""

    max_clients: int = 256
    max_clients_per_uid: int = 32
    admin_reserve: int = 8

    def refusal(self, peer: Peer, total: int, of_uid: int) -> str | None:
        """Why a new connection from ``peer`` is refused while ``total`` are open (``of_uid`` of them
        from its uid), or None if it is taken."""
        if total >= self.max_clients:
            return f"the daemon's {self.max_clients} API connections are all in use"
        if peer.uid not in (0, os.geteuid()) and of_uid >= self.max_clients_per_uid:
            return f"user {peer.user} has its {self.max_clients_per_uid} API connections open"
        if peer.role != "admin" and total >= self.max_clients - self.admin_reserve:
            return (f"all {self.max_clients - self.admin_reserve} API connections open to non-admins are in use "
                    f"(the last {self.admin_reserve} are kept for admins)")
        return None


def fit_to_descriptors(limits: ApiLimits) -> ApiLimits:
    """``limits`` with ``max_clients`` lowered to what the process's descriptor limit leaves after
    ``FD_HEADROOM`` (the soft limit raised to the hard one first), so clients can never use up the
    descriptors the calls need. Logs a warning when it had to lower the cap."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    room = soft - FD_HEADROOM
    if soft == resource.RLIM_INFINITY or room >= limits.max_clients:
        return limits
    total = max(room, limits.admin_reserve + 1)
    logging.getLogger(__name__).warning(
        "api: open-file limit %d leaves room for %d API connections, not [api] max_clients = %d "
        "(raise LimitNOFILE= in the unit)", soft, total, limits.max_clients)
    return ApiLimits(total, min(limits.max_clients_per_uid, total), min(limits.admin_reserve, total - 1))


class Throttled:
    """Log a recurring condition at most once per ``interval`` seconds (by ``clock``), saying how many
    times it happened in between."""

    def __init__(self, logger: logging.Logger, interval: float, clock: Callable[[], float]) -> None:
        self.logger, self.interval, self.clock = logger, interval, clock
        self.last: float | None = None
        self.suppressed = 0
        self.count = 0  # all occurrences, logged or not

    def __call__(self, message: str) -> None:
        self.count += 1
        now = self.clock()
        if self.last is not None and now - self.last < self.interval:
            self.suppressed += 1
            return
        more = f" ({self.suppressed} more since the last report)" if self.suppressed else ""
        self.logger.warning("%s%s", message, more)
        self.last, self.suppressed = now, 0
