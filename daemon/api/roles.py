"""Who a client is: roles from the peer's credentials (SO_PEERCRED) or a token, and what each may do.

Roles: ``admin`` (everything, config changes), ``supervisor`` (listen/whisper/barge, all stats),
``integrator`` (call control, customer records, lookups, CDRs), ``agent`` (its own state, reads: a
connection of this role acts only for the agent it logged in as with the PIN, or whose ``agent:ID``
token it showed; see ``daemon.api.server``).
A connection's role comes from the Unix credentials of the process at the other end: root or the
daemon's own user is admin; otherwise the highest of the groups ``callbox-admin``,
``callbox-supervisor``, ``callbox-api`` (integrator), ``callbox-agent`` the user belongs to. The
``auth`` op can raise a connection's role with a token from the config. Each op names the roles
that may call it; a denied call gets the ``forbidden`` error, and nothing else happens.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import socket
import struct
from contextvars import ContextVar
from dataclasses import dataclass

ROLES = ("agent", "integrator", "supervisor", "admin")  # lowest first
GROUP_ROLES = {"callbox-admin": "admin", "callbox-supervisor": "supervisor", "callbox-api": "integrator",
               "callbox-agent": "agent"}
_UCRED = struct.Struct("3i")

ALL = frozenset(ROLES)
INTEGRATOR = frozenset({"integrator", "supervisor", "admin"})
SUPERVISOR = frozenset({"supervisor", "admin"})
ADMIN = frozenset({"admin"})

# the role of the connection whose request is being handled (set by the server around each handler), for
# ops whose answer depends on who asks beyond the op's roles (click-to-dial's class of service)
CURRENT_ROLE: ContextVar[str] = ContextVar("callbox_api_role", default="agent")
# the token this connection authenticated with (None: none), for what a token carries beyond its role
CURRENT_TOKEN: ContextVar[str | None] = ContextVar("callbox_api_token", default=None)


@dataclass(frozen=True)
class Peer:
    pid: int
    uid: int
    gid: int
    user: str
    role: str

    def describe(self) -> str:
        return f"{self.user}(uid {self.uid}, pid {self.pid}, {self.role})"


def highest(roles: list[str]) -> str:
    return max(roles, key=ROLES.index) if roles else "agent"


def peer_of(sock: socket.socket | None) -> Peer:
    """The credentials of the process at the other end of a Unix socket, and the role they give."""
    if sock is None:
        return Peer(-1, -1, -1, "?", "agent")
    pid, uid, gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    return Peer(pid, uid, gid, user, role_for(uid, gid, user))


def role_for(uid: int, gid: int, user: str) -> str:
    if uid in (0, os.geteuid()):
        return "admin"
    groups = {gid}
    with contextlib.suppress(KeyError, OSError):
        groups |= set(os.getgrouplist(user, gid))
    names = []
    for g in groups:
        try:
            names.append(grp.getgrgid(g).gr_name)
        except KeyError:
            continue
    return highest([GROUP_ROLES[n] for n in names if n in GROUP_ROLES])
