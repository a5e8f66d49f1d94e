"""End to end: the ``callbox`` command against a running daemon — the socket from the configuration,
a token (file, environment, option) that raises the caller's role, ``cdr list --since/--until`` and
the CSV export, with times in the box's zone (``[acd] utc_offset_min``) whatever the host's zone."""

from __future__ import annotations

import csv
import io
import os
import pwd
import subprocess
from pathlib import Path

import pytest

from daemon.cli import main as cli_main
from daemon.config.box_time import local_text
from tests.support.processes import BIN, DaemonProcess, as_nobody, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e

HOST_TZ = "America/New_York"  # the host's clock in another zone than the box's (UTC+8)


def callbox(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The installed ``callbox`` command, run with the host in ``HOST_TZ``."""
    return subprocess.run([str(BIN / "callbox"), *args], capture_output=True, text=True, timeout=20,
                          env=dict(os.environ, TZ=HOST_TZ, **(env or {})))


def callbox_as_nobody(*args: str, env: dict | None = None) -> tuple[int, str, str]:
    """``callbox``'s entry point (``daemon.cli.main``) run as the user nobody (whose role is the
    lowest): its exit status and output."""
    return as_nobody(cli_main, list(args), env)


def _a_call(daemon: DaemonProcess) -> dict:
    a, b = World(daemon.sim).internal_call("8001", "8002", daemon.api)
    a.on_hook()
    b.on_hook()
    return wait_for(lambda: daemon.api.call("cdr.list"), 5, "the CDR")[-1]


def test_cdr_list_since_and_until_in_the_box_zone(daemon: DaemonProcess) -> None:
    cdr = _a_call(daemon)
    sock = ["--socket", str(daemon.api_socket)]
    end = local_text(cdr["end"], 480, "%m-%d %H:%M:%S")
    listed = callbox(*sock, "cdr", "list")
    assert listed.returncode == 0 and end in listed.stdout  # shown in the box's time, not the host's
    before = local_text(cdr["start"] - 60, 480, "%Y-%m-%dT%H:%M")
    after = local_text(cdr["end"] + 60, 480, "%Y-%m-%dT%H:%M")
    since_before = callbox(*sock, "cdr", "list", "--since", before)
    assert since_before.returncode == 0 and end in since_before.stdout
    since_after = callbox(*sock, "cdr", "list", "--since", after)
    assert since_after.returncode == 0 and end not in since_after.stdout
    assert len(since_after.stdout.splitlines()) == 1  # the header only
    until_before = callbox(*sock, "cdr", "list", "--until", before)
    assert until_before.returncode == 0 and end not in until_before.stdout
    bad = callbox(*sock, "cdr", "list", "--since", "yesterday")
    assert bad.returncode == 2 and "not a date: 'yesterday'" in bad.stderr


def test_cdr_export_has_the_acd_and_ivr_columns_and_plain_values(daemon: DaemonProcess, tmp_path: Path) -> None:
    cdr = _a_call(daemon)
    out = tmp_path / "cdrs.csv"
    done = callbox("--socket", str(daemon.api_socket), "cdr", "export", "-o", str(out))
    assert done.returncode == 0 and "1 CDRs exported" in done.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 1
    row = rows[0]
    assert {"queue", "agent", "wait_s", "ivr_flow", "ivr_path", "ivr_keys"} <= row.keys()
    assert row["interrupted"] == "0" and row["queue"] == "" and row["wait_s"] == ""
    assert "False" not in out.read_text(encoding="utf-8-sig") and "None" not in out.read_text(encoding="utf-8-sig")
    assert row["start"] == local_text(cdr["start"], 480) and row["end"] == local_text(cdr["end"], 480)


def test_the_socket_comes_from_the_configuration(daemon: DaemonProcess, tmp_path: Path) -> None:
    cfg = tmp_path / "cli.toml"
    cfg.write_text(f'[box]\nname = "x"\n\n[api]\nsocket = "{daemon.api_socket}"\n', encoding="utf-8")
    by_option = callbox("--config", str(cfg), "status")
    assert by_option.returncode == 0 and "board: up" in by_option.stdout
    by_env = callbox("status", env={"CALLBOX_CONFIG": str(cfg)})
    assert by_env.returncode == 0 and "board: up" in by_env.stdout
    cfg.write_text('[box]\nname = "x"\n\n[api]\nsocket = 5\n', encoding="utf-8")
    bad = callbox("--config", str(cfg), "status")
    assert bad.returncode == 2 and f"{cfg}:5: api.socket: must be str" in bad.stderr
    missing = callbox("--config", str(tmp_path / "none.toml"), "status")
    assert missing.returncode == 2 and "cannot read the configuration" in missing.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the command as another user")
def test_a_token_raises_the_role_from_a_file_the_environment_or_the_option(reachable_daemon: DaemonProcess) -> None:
    d = reachable_daemon
    secret = "cli-tok-7f3a9c"
    d.api.call("config.set", changes=[{"key": f"api.tokens.{secret}", "value": "integrator"}])
    sock = ["--socket", str(d.api_socket)]
    code, _, err = callbox_as_nobody(*sock, "cdr", "list")  # nobody is an agent: CDRs are for integrators
    assert code == 1 and "forbidden" in err
    token_file = d.workdir / "token"
    token_file.write_text(secret + "\n", encoding="utf-8")
    os.chown(token_file, pwd.getpwnam("nobody").pw_uid, -1)
    token_file.chmod(0o644)
    code, _, err = callbox_as_nobody(*sock, "--token-file", str(token_file), "cdr", "list")
    assert code == 2 and "readable by other users" in err and secret not in err
    token_file.chmod(0o600)
    for args, env in ((["--token-file", str(token_file)], {}), ([], {"CALLBOX_TOKEN_FILE": str(token_file)}),
                      ([], {"CALLBOX_TOKEN": secret}), (["--token", secret], {})):
        code, out, err = callbox_as_nobody(*sock, *args, "cdr", "list", env=env)
        assert (code, err) == (0, "") and "disposition" in out, (args, env)
    code, _, err = callbox_as_nobody(*sock, "--token", "wrong-token", "cdr", "list")
    assert code == 1 and "the daemon refused the token (forbidden)" in err and "wrong-token" not in err
    assert secret not in d.log_text()
