"""Clients run as other Unix users, and the test users of the API's permission model.

``AsUser`` forks a child that becomes a user (its groups from the group database, as a login
would give them), runs a function and reports its JSON result; the child stays, holding what it
opened (API connections), until released. ``calls_as`` makes API calls that way. ``RoleUsers``
creates one throw-away user per role group of ``daemon.api.roles.GROUP_ROLES`` plus one in none
(the groups themselves from the shipped sysusers file, if the host lacks them) and removes them.
"""

from __future__ import annotations

import fcntl
import grp
import json
import os
import pwd
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemon.api.client import ApiClient
from daemon.api.protocol import ApiError
from daemon.api.roles import GROUP_ROLES

ROOT = Path(__file__).resolve().parents[2]
SYSUSERS = ROOT / "packaging" / "callbox.sysusers.conf"
_LOCK = Path("/run/lock/callbox-test-users.lock")


class AsUser:
    """``fn(keep)`` run in a forked child as ``user``; ``result`` is what it returned (JSON). Objects
    appended to ``keep`` stay alive (connections stay open) until ``release()``."""

    _holding: set[int] = set()  # the release ends of the children alive (a later child must not keep them open)
    _alive: list[AsUser] = []

    def __init__(self, user: str, fn: Callable[[list], Any]) -> None:
        pw = pwd.getpwnam(user)
        rfd, wfd = os.pipe()
        self._hold_r, self._hold_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: become the user, run, report, wait to be released, exit without cleanup
            code = 1
            try:
                os.close(rfd)
                for fd in (self._hold_w, *AsUser._holding):
                    os.close(fd)
                os.initgroups(user, pw.pw_gid)
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
                keep: list = []
                os.write(wfd, json.dumps(fn(keep)).encode())
                os.close(wfd)
                os.read(self._hold_r, 1)
                code = 0
            finally:
                os._exit(code)
        self.pid = pid
        AsUser._holding.add(self._hold_w)
        AsUser._alive.append(self)
        os.close(wfd)
        os.close(self._hold_r)
        with os.fdopen(rfd, "rb") as r:
            data = r.read()
        self.result = json.loads(data) if data else None
        if self.result is None:
            self.release()
            raise RuntimeError(f"the child running as {user} failed")

    def release(self) -> None:
        if self._hold_w >= 0:
            AsUser._holding.discard(self._hold_w)
            os.close(self._hold_w)
            self._hold_w = -1
            os.waitpid(self.pid, 0)

    @classmethod
    def release_all(cls) -> None:
        """End every child still holding (a test that failed before releasing its own)."""
        while cls._alive:
            cls._alive.pop().release()


def connect(path: str, keep: list, op: str = "whoami", **args: Any) -> dict:
    """Open an API connection (kept in ``keep``) and call ``op``: its result, or ``{"error": code,
    "message": ...}`` if refused; ``{"error": "EACCES"...}`` if the socket cannot be opened at all."""
    try:
        c = ApiClient(path)
    except ApiError as e:
        return {"error": e.code, "message": e.message}
    except OSError as e:
        return {"error": "oserror", "errno": e.errno}
    keep.append(c)
    try:
        return c.call(op, **args)
    except ApiError as e:
        return {"error": e.code, "message": e.message}


def calls_as(user: str, path: str, calls: list[tuple[str, dict]]) -> list:
    """Make ``calls`` on the API at ``path`` over one connection, as ``user``: each result, or
    ``{"error": code}`` for an error reply."""

    def run(keep: list) -> list:
        out: list = []
        with ApiClient(path) as c:
            for op, kw in calls:
                try:
                    out.append(c.call(op, **kw))
                except ApiError as e:
                    out.append({"error": e.code})
        return out

    child = AsUser(user, run)
    child.release()
    return child.result


def shipped_groups() -> list[str]:
    """The groups the package creates (``g`` lines of the sysusers file)."""
    return [line.split()[1] for line in SYSUSERS.read_text(encoding="utf-8").splitlines()
            if line.startswith("g ")]


class RoleUsers:
    """One user per role group (``users[group]``) and one in no callbox group (``users[None]``)."""

    def __init__(self) -> None:
        tag = f"{os.getpid() % 100000:05d}"
        self.users: dict[str | None, str] = {g: f"cbx{tag}{g.rsplit('-', 1)[1][:5]}" for g in GROUP_ROLES}
        self.users[None] = f"cbx{tag}none"
        self.made_groups: list[str] = []
        _LOCK.parent.mkdir(parents=True, exist_ok=True)
        with open(_LOCK, "w") as lock:  # other test runs may add or remove the same groups
            fcntl.flock(lock, fcntl.LOCK_EX)
            for group in shipped_groups():
                try:
                    grp.getgrnam(group)
                except KeyError:
                    subprocess.run(["groupadd", "--system", group], check=True, capture_output=True)
                    self.made_groups.append(group)
            for group, user in self.users.items():
                subprocess.run(["useradd", "--no-create-home", "--no-user-group", "--shell", "/usr/sbin/nologin",
                                *(["--groups", group] if group else []), user], check=True, capture_output=True)

    def remove(self) -> None:
        AsUser.release_all()  # a user with processes left cannot be removed
        with open(_LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            for user in self.users.values():
                subprocess.run(["userdel", user], check=False, capture_output=True)
            for group in self.made_groups:
                if not grp.getgrnam(group).gr_mem:  # no other run's user still in it
                    subprocess.run(["groupdel", group], check=False, capture_output=True)
