"""Who reaches the API socket, with real users and groups, as the shipped packaging sets it up: the
socket directory made as the unit makes ``/run/callbox``, the daemon's socket mode, group and access
list, the groups from the sysusers file. Each role group's member connects and gets that group's
role (``GROUP_ROLES``); a user in none is refused by the kernel."""

from __future__ import annotations

import errno
import grp
import os
import stat
from collections.abc import Callable

import pytest

from daemon.api.limits import FD_HEADROOM, ApiLimits
from daemon.api.roles import GROUP_ROLES
from tests.conftest import unit_settings
from tests.support.processes import DaemonProcess
from tests.support.users import AsUser, RoleUsers, connect, shipped_groups

pytestmark = pytest.mark.e2e


def test_each_role_group_gets_its_role_and_a_user_in_none_cannot_connect(
        unit_daemon: Callable[..., DaemonProcess], role_users: RoleUsers) -> None:
    assert set(GROUP_ROLES) <= set(shipped_groups())  # the package creates every group that gives a role
    d = unit_daemon()
    path = str(d.api_socket)
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == grp.getgrnam("callbox-api").gr_gid
    got = {}
    for group, user in role_users.users.items():
        child = AsUser(user, lambda keep: connect(path, keep))
        child.release()
        got[group] = child.result
    for group, role in GROUP_ROLES.items():
        assert (got[group].get("user"), got[group].get("role")) == (role_users.users[group], role), group
    assert got[None] == {"error": "oserror", "errno": errno.EACCES}
    assert d.api.call("whoami")["role"] == "admin"  # root (and the daemon's own user)


def test_the_unit_gives_the_daemon_descriptors_for_its_connection_caps() -> None:
    unit = unit_settings()
    assert int(unit["LimitNOFILE"]) >= ApiLimits().max_clients + FD_HEADROOM
