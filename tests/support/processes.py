"""Start ``callbox-sim`` and ``callboxd`` as real processes for end-to-end tests.

The daemon gets its own NOTIFY_SOCKET (a datagram socket the test owns), so tests see READY=1,
STATUS= and WATCHDOG=1 exactly as systemd would.
"""

from __future__ import annotations

import os
import pwd
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemon.api.client import ApiClient
from daemon.config.editing import ID_KEYS, edit_text
from daemon.config.pin_setup import fill

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "packaging" / "callbox.toml"
BIN = Path(sys.executable).parent
# the suite's cache directory (box.cache_dir of every test's config): the prompts a flow speaks are
# synthesised once for every test, worker and run instead of again at each daemon's start
CACHE_DIR = Path(os.environ.get("CALLBOX_BUILD_DIR", "/tmp/callbox-build")) / "cache"
TTS_CACHE = CACHE_DIR / "tts"


# the PINs the tests' copies of the default config get in place of its placeholders (the installer's step)
AGENT_PINS = {"1001": "4826", "1002": "5937", "1003": "6148", "1004": "7259", "1005": "3862", "1008": "9417"}
SUPERVISOR_PIN = AGENT_PINS["1008"]
VOICEMAIL_PIN = "2468"  # the queue:general box's


def default_config_text(ivr_lines: bool = False) -> str:
    """The default travel-agency config, movable to any directory (flow paths made absolute, the cache
    the suite's ``CACHE_DIR``), its PINs
    set as the installer would (``AGENT_PINS``, ``VOICEMAIL_PIN``). Without ``ivr_lines`` the inbound
    lines ring their destinations directly (what the foundation's tests test); the IVR's tests keep the
    flow on PSTN-1 and PSTN-2."""
    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace('"ivr/', f'"{DEFAULT_CONFIG.parent}/ivr/').replace(
        'cache_dir = "/var/cache/callbox"', f'cache_dir = "{CACHE_DIR}"')
    text, _ = fill(text, {f"agent[{a}].pin": pin for a, pin in AGENT_PINS.items()}
                   | {"voicemail[queue:general].pin": VOICEMAIL_PIN})
    return text if ivr_lines else re.sub(r"(?m)^ivr = .*\n", "", text)


def edit_config(config: Path, **tables: dict[str, Any]) -> Path:
    """Set keys of tables in the config file ``config`` with the daemon's own editor (``config.set``'s:
    the other keys and the comments kept): ``edit_config(cfg, recording={"mode": "on_demand"})``; an
    array of tables (``line``) gets the keys in every entry. Returns ``config``."""
    text = config.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    changes = []
    for name, keys in tables.items():
        paths = [f"{name}[{e[ID_KEYS[name]]}]" for e in data[name]] if name in ID_KEYS else [name]
        changes += [{"key": f"{path}.{k}", "value": v} for path in paths for k, v in keys.items()]
    config.write_text(edit_text(text, changes), encoding="utf-8")
    return config


def agent_pin(config: Path, agent: str) -> str:
    """The PIN of ``agent`` in the config file ``config`` (what the agent would key in)."""
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    return next(a.get("pin", "") for a in data.get("agent", []) if a["id"] == agent)


def as_nobody(main: Callable[[list[str]], int], argv: list[str], env: dict | None = None) -> tuple[int, str, str]:
    """A client's entry point ``main(argv)`` in a child process running as the user nobody (whose role
    is the lowest; the callbox variables of the environment cleared, then ``env`` set): its exit status
    and output. Forked, not executed: the interpreter lives where nobody may not read."""
    nobody = pwd.getpwnam("nobody")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:
            code = 99
            try:
                sys.stdout = open(out.fileno(), "w", closefd=False)  # noqa: SIM115 - flushed before _exit
                sys.stderr = open(err.fileno(), "w", closefd=False)  # noqa: SIM115
                os.setgroups([])
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
                for k in ("CALLBOX_TOKEN", "CALLBOX_TOKEN_FILE", "CALLBOX_API", "CALLBOX_CONFIG"):
                    os.environ.pop(k, None)
                os.environ.update(env or {})
                code = main(argv)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        out.seek(0)
        err.seek(0)
        return os.waitstatus_to_exitcode(status), out.read().decode(), err.read().decode()


def fetch_recording(api: ApiClient, key: str) -> bytes:
    """A recording's bytes through ``recordings.fetch`` (``key``: a call id or a recording id), chunk by chunk."""
    data = b""
    while True:
        chunk = api.call("recordings.fetch", call=key, offset=len(data))
        data += chunk["data"]
        if not chunk["more"]:
            return data


def wait_for(pred, timeout: float, what: str, interval: float = 0.05):
    end = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class SimProcess:
    def __init__(self, rundir: Path, config: Path | None = None) -> None:
        self.rundir = rundir
        rundir.mkdir(parents=True, exist_ok=True)
        self.log = open(rundir / "sim.log", "w")  # noqa: SIM115
        cmd = [str(BIN / "callbox-sim"), "--rundir", str(rundir)]
        if config:
            cmd += ["--config", str(config)]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        self.board_socket = rundir / "board.sock"
        self.control_socket = rundir / "control.sock"
        wait_for(lambda: self.control_socket.exists() and self.board_socket.exists(), 15, "callbox-sim sockets")
        from sim.control import SimControl

        self.control = SimControl(str(self.control_socket))

    def call(self, op: str, **args):
        return self.control.call(op, **args)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class DaemonProcess:
    def __init__(self, workdir: Path, sim: SimProcess, config: Path = DEFAULT_CONFIG,
                 program: list[str] | None = None) -> None:
        """``program``: the command that runs the daemon (``callboxd``'s arguments follow it); default
        the installed ``callboxd`` (``tests.support.faults.faulty`` gives one with a fault injected)."""
        self.workdir = workdir
        self.program = program or [str(BIN / "callboxd")]
        self.cwd = ROOT if program else None  # ``python -m tests.support...`` finds the tests package
        self.sim = sim
        self.config = config
        self.api_socket = workdir / "api.sock"
        self.state_dir = workdir / "state"
        self.notify_path = workdir / "notify.sock"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.notify_path))
        self.notify.setblocking(False)
        self.notices: list[str] = []
        self.proc: subprocess.Popen | None = None
        self.api: ApiClient | None = None
        self.runs = 0

    def start(self, wait_ready: bool = True, extra_env: dict | None = None) -> None:
        env = dict(os.environ, NOTIFY_SOCKET=str(self.notify_path), **(extra_env or {}))
        self.runs += 1
        self.read_notices()
        self.notices = []  # READY=1 must come from this run, not an earlier one
        self.log = open(self.workdir / f"callboxd.{self.runs}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*self.program, "--config", str(self.config), "--state-dir", str(self.state_dir),
             "--board-socket", str(self.sim.board_socket), "--api-socket", str(self.api_socket), "--log", "stderr"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=self.cwd)
        if wait_ready:
            wait_for(lambda: "READY=1" in self.read_notices() or self._died(), 20, "READY=1")
            if self.proc.poll() is not None:
                raise RuntimeError(f"callboxd exited with {self.proc.returncode}: {self.log_text()}")
            self.api = ApiClient(str(self.api_socket))

    def subscriber(self, *kinds: str) -> ApiClient:
        """A new API connection subscribed to events of ``kinds`` (prefixes like ``"callback."`` too)."""
        client = ApiClient(str(self.api_socket))
        client.call("subscribe", kinds=list(kinds))
        return client

    def wait_ivr_node(self, node: str, timeout: float = 15) -> None:
        """Wait until the one call in an IVR flow is at ``node`` (``ivr.calls``), e.g. a menu to key in."""
        assert self.api is not None
        wait_for(lambda: [c["node"] for c in self.api.call("ivr.calls")] == [node], timeout, f"the caller at {node}")

    def exited(self, timeout: float) -> int:
        """Wait for the daemon to exit on its own; its exit status."""
        assert self.proc is not None
        return self.proc.wait(timeout)

    def _died(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def read_notices(self) -> list[str]:
        while True:
            try:
                self.notices += self.notify.recv(4096).decode().split("\n")
            except BlockingIOError:
                return self.notices

    def log_text(self) -> str:
        self.log.flush()
        return (self.workdir / f"callboxd.{self.runs}.log").read_text()

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        if self.api:
            self.api.close()
            self.api = None

    def stop(self) -> int | None:
        if self.api:
            self.api.close()
            self.api = None
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        self.notify.close()
        return rc
