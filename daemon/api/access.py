"""Who may open the API socket: its mode, its group and an access list naming the role groups.

The socket is the gate (its directory, ``/run/callbox``, only lets users through to it): mode 0660,
owned by the daemon's user and ``[api] group`` (``callbox-api``), and a POSIX access list that also
lets in the members of every role group (``callbox-admin``, ``callbox-supervisor``, ``callbox-agent``:
``daemon.api.roles.GROUP_ROLES``), each of which gets its role from that membership. Everyone else is
refused by the kernel at ``connect`` (EACCES) and never reaches the daemon. Where the filesystem has
no access lists, only the socket's group gets in, and a warning says so.
"""

from __future__ import annotations

import grp
import logging
import os
import struct

from daemon.api.roles import GROUP_ROLES

log = logging.getLogger(__name__)

SOCKET_MODE = 0o660
_XATTR = "system.posix_acl_access"
_HEADER = struct.Struct("<I")
_ENTRY = struct.Struct("<HHI")
_VERSION = 2
_USER_OBJ, _GROUP_OBJ, _GROUP, _MASK, _OTHER = 0x01, 0x04, 0x08, 0x10, 0x20
_RW = 6
_NO_ID = 0xFFFFFFFF


def access_list(owner_group_perm: int, groups: list[int]) -> bytes:
    """The extended attribute of a POSIX access list: owner rw, the owning group ``owner_group_perm``,
    each of ``groups`` rw, others nothing (entries in the kernel's order: by tag, then id)."""
    entries = [(_USER_OBJ, _RW, _NO_ID), (_GROUP_OBJ, owner_group_perm, _NO_ID)]
    entries += [(_GROUP, _RW, gid) for gid in sorted(set(groups))]
    entries += [(_MASK, _RW, _NO_ID), (_OTHER, 0, _NO_ID)]
    return _HEADER.pack(_VERSION) + b"".join(_ENTRY.pack(*e) for e in entries)


def role_gids(group: str | None) -> dict[str, int]:
    """The role groups (and ``group``) that exist on this host: name -> gid."""
    out = {}
    for name in [*GROUP_ROLES, *([group] if group else [])]:
        try:
            out[name] = grp.getgrnam(name).gr_gid
        except KeyError:
            continue
    return out


def secure_socket(path: str, group: str | None) -> None:
    """Give the freshly bound socket at ``path`` its mode, group and access list (see the module)."""
    os.chmod(path, SOCKET_MODE)
    gids = role_gids(group)
    if group:
        if group in gids:
            try:
                os.chown(path, -1, gids[group])
            except PermissionError as exc:
                log.info("api: socket group %s not applied (%s)", group, exc)
        else:
            log.info("api: socket group %s not applied (no such group)", group)
    others = [gid for name, gid in gids.items() if name != group]
    if not others:
        return
    try:
        os.setxattr(path, _XATTR, access_list(_RW, others))
    except OSError as exc:
        log.warning("api: cannot give the role groups access to %s (%s): only members of %s can connect",
                    path, exc.strerror, group or "the socket's group")
