"""The TUI against a running daemon: screens rendered headless at 80x24 and switched by keys, the
ASCII fallback, a lost daemon shown (not a crash), the configuration screen editing a setting through
the daemon (its errors shown, nothing lost), the diagnostics ring and live digits, the ACD dashboard,
form and reports (after a real queue call); and real runs in tmux at 80x24, TERM=vt100: one changes an
extension's name through the keys and sees it take effect, then logs an ACD agent in on the ACD screen
(PIN masked) and sees it in ``acd.snapshot``; one black-lists a caller on the IVR screen. The keys and
screen helpers are the unit tests' (``tests.unit.mgmt_tui.support``)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import urwid

from daemon.api.connect import read_token, socket_path
from mgmt_tui.app import TuiApp, client_factory
from tests.support.processes import AGENT_PINS, BIN, DaemonProcess, as_nobody, wait_for
from tests.support.world import World
from tests.unit.mgmt_tui.support import _focus_on, _note, _screen, _text, _type

pytestmark = pytest.mark.e2e


def test_screens_render_at_80x24_and_switch_by_keys(daemon: DaemonProcess) -> None:
    # READY comes before the board's first report of the far end's CAS bits; the screen shows
    # ``----`` until then, so the test waits for that report, not for the clock
    wait_for(lambda: all(p["cas_rx"] is not None for p in daemon.api.call("ports") if p.get("cas_tx") is not None),
             5, "the far end's CAS bits at the daemon")
    app = TuiApp(client_factory(str(daemon.api_socket)))
    app.refresh()
    text = _text(app)  # 24 rows, none wider than 80 columns
    assert "1:Dashboard*" in text and "board UP" in text and "PSTN-1" in text and "8001" in text
    assert app.keypress("3")
    text = _text(app)
    assert "3:Diagnostics*" in text and "E1 CAS bits" in text and "1011/1011" in text
    assert "Span 4 SS7 signalling link (HDLC on TS16)" in text and "link idle: 0 frames in" in text
    assert app.keypress("2")
    assert "Report for" in _text(app)
    assert not app.keypress("x")
    with pytest.raises(urwid.ExitMainLoop):
        app.keypress("q")


def test_ascii_mode_and_a_lost_daemon(daemon: DaemonProcess) -> None:
    app = TuiApp(client_factory(str(daemon.api_socket)), ascii_mode=True)
    app.refresh()
    rows = _screen(app)
    text = "\n".join(rows)  # Chinese as pinyin: the box's name, the extensions' and agents' names
    assert all(row.isascii() for row in rows) and "ShiLiLvXingShe HuJiaoZhongXin" in text and "??" not in text
    assert "8002 GuoNeiXianLu" in text and "1001 WangFang" in text
    daemon.stop()
    app.refresh()
    assert "daemon unreachable" in _text(app)


@contextlib.contextmanager
def tui_in_tmux(daemon: DaemonProcess, args: str | None = None, env: str = ""
                ) -> Iterator[tuple[Callable[[], str], Callable[..., None]]]:
    """``callbox-tui`` (with ``args``, default ``--socket`` the daemon's, and ``env`` settings) in a tmux
    session at 80x24, TERM=vt100: yields ``pane()`` (the screen's text) and ``keys(*keys)`` (tmux
    send-keys); at the end ``q`` must quit it; the tmux server is killed whatever happens."""
    session = f"callbox-tui-{time.monotonic_ns()}"
    tmux = ["tmux", "-L", session]
    args = f"--socket {daemon.api_socket}" if args is None else args
    subprocess.run([*tmux, "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                    f"env TERM=vt100 {env} {BIN / 'callbox-tui'} {args}"], check=True)

    def pane() -> str:
        return subprocess.run([*tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout

    def keys(*k: str) -> None:
        subprocess.run([*tmux, "send-keys", "-t", session, *k], check=True)

    try:
        wait_for(lambda: "PSTN-1" in pane(), 10, "the dashboard in tmux")
        yield pane, keys
        keys("q")
        wait_for(lambda: subprocess.run([*tmux, "has-session", "-t", session], capture_output=True).returncode != 0,
                 5, "the TUI to quit on q")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def test_config_screen_edits_a_name_through_the_daemon(daemon: DaemonProcess) -> None:
    app = TuiApp(client_factory(str(daemon.api_socket)))
    app.refresh()
    assert app.press("4")
    screen = _screen(app)
    text = "\n".join(screen)
    assert "4:Config*" in text and "Extensions" in text and screen[2].startswith("> ") and "8001" in screen[2]
    _focus_on(app, "8002")
    app.press("enter")
    assert any(row.startswith("extension 8002 name: ") for row in _screen(app))
    for _ in range(10):
        app.press("backspace")
    _type(app, "Zhang San")
    app.press("enter")
    assert "saved extension[8002].name" in _note(app) and "Zhang San" in _text(app)
    row = next(p for p in daemon.api.call("ports") if p.get("extension") == "8002")
    assert row["name"] == "Zhang San"
    assert 'name = "Zhang San"' in daemon.config.read_text(encoding="utf-8")

    # a value the daemon refuses: its message is shown, the edit stays open with what was typed
    before = daemon.config.read_text(encoding="utf-8")
    _focus_on(app, "no_answer_timeout_s")
    app.press("enter")
    for _ in range(5):
        app.press("backspace")
    _type(app, "0")
    app.press("enter")
    screen = _screen(app)
    assert any(row.startswith("dialplan no_answer_timeout_s: 0") for row in screen)
    assert "dialplan.no_answer_timeout_s: must be at least 1" in _note(app)  # wrapped as the path's length says
    assert daemon.config.read_text(encoding="utf-8") == before
    app.press("esc")  # cancelled: the row shows the saved value again
    assert any(row.startswith(">") and "no_answer_timeout_s" in row and row.endswith(" 8")
               for row in _screen(app))

    # the destinations of a line are a list: typed with commas
    _focus_on(app, "1/4      destinations")
    app.press("enter")
    for _ in range(20):
        app.press("backspace")
    _type(app, "8008, 8007")
    app.press("enter")
    line = next(ln for ln in daemon.api.call("config.get")["data"]["line"] if ln["port"] == "1/4")
    assert line["destination"] == ["8008", "8007"]
    assert app.press("1")
    assert "8002 Zhang San" in _text(app)  # the dashboard shows the new name


def test_diagnostics_rings_an_extension_and_shows_digits(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    app = TuiApp(client_factory(str(daemon.api_socket)))
    app.refresh()
    app.press("3")
    assert "DTMF heard: (none yet)" in _text(app)
    phone = w.phone("8005")
    rings = phone.rings()
    app.press("t")
    _type(app, "8005")
    app.press("enter")
    wait_for(lambda: phone.rings() > rings, 3, "8005 ringing from the TUI")
    assert "ringing 8005" in _note(app)
    wait_for(lambda: phone.state()["caller_id"] == "10000", 6, "the test caller ID")
    caller = w.phone("8006")
    caller.lift()
    caller.dial("80")

    def shown() -> bool:
        app.refresh()
        return "DTMF heard: 8@2/6 0" in _text(app)

    wait_for(shown, 5, "the digits on the diagnostics screen")
    caller.on_hook()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux comes with scripts/setup.sh")
def test_tui_in_tmux_at_80x24_vt100(daemon: DaemonProcess) -> None:
    with tui_in_tmux(daemon) as (pane, keys):
        # VT100: names as pinyin, none as ?? (the box, the extensions, the agents)
        assert "ShiLiLvXingShe HuJiaoZhongXin" in pane() and "8002 GuoNeiXianLu" in pane()
        assert "1001 WangFang" in pane() and "??" not in pane()
        w = World(daemon.sim)
        w.co_call("1/1", "13800138000")
        wait_for(lambda: "ringing" in pane(), 10, "the live dashboard to show the ringing call")
        keys("3")
        wait_for(lambda: "E1 CAS bits" in pane(), 5, "the diagnostics screen")
        assert "SS7 signalling link" in pane() and "??" not in pane()
        for key, shown in (("2", "Report for"), ("6", "IVR flow travel-agency")):  # every screen readable
            keys(key)
            wait_for(lambda shown=shown: shown in pane(), 5, f"screen {key}")
            rows = pane().splitlines()
            assert "??" not in pane() and all(len(r) <= 80 and r.isascii() for r in rows) and len(rows) <= 24
        assert "NinHao,HuanYingZhiDian" in pane()  # the welcome prompt's text, as pinyin
        w.co_hangup("1/1")

        # change a setting through the keys: extension 8001's name (the first row of the config screen)
        keys("4", "Enter", *["BSpace"] * 12)
        wait_for(lambda: "extension 8001 name:" in pane(), 5, "the edit box")
        keys("-l", "Wang Xiaoming")
        keys("Enter")
        wait_for(lambda: "saved extension[8001].name" in pane(), 5, "the name saved")
        assert all(len(row) <= 80 for row in pane().splitlines()) and len(pane().splitlines()) <= 24
        keys("1")
        wait_for(lambda: "8001 Wang Xiaoming" in pane(), 5, "the dashboard to show the new name")
        row = next(p for p in daemon.api.call("ports") if p.get("extension") == "8001")
        assert row["name"] == "Wang Xiaoming"  # the API agrees

        # log agent 1001 in on the ACD screen: the PIN masked, the configured extension (8002) typed in
        keys("5", "Tab", "l")
        wait_for(lambda: "log in agent 1001 WangFang, PIN:" in pane(), 5, "the PIN prompt")
        pin = AGENT_PINS["1001"]
        keys("-l", pin)
        wait_for(lambda: "PIN: " + "*" * len(pin) in pane(), 5, "the PIN typed, masked")
        assert pin not in pane()
        keys("Enter")
        wait_for(lambda: "at extension: 8002" in pane(), 5, "the extension prompt")
        keys("Enter")
        wait_for(lambda: "logged in agent 1001: idle at 8002" in pane(), 5, "the login done")
        agent = next(a for a in daemon.api.call("acd.snapshot")["agents"] if a["id"] == "1001")
        assert (agent["state"], agent["extension"]) == ("idle", "8002")
        assert any(r.startswith("> ") and r.split()[1:5] == ["1001", "WangFang", "idle", "8002"]
                   for r in pane().splitlines())
        assert "??" not in pane()


def test_acd_dashboard_report_and_agent_form(daemon: DaemonProcess) -> None:
    """The default travel agency's queues and agents on the dashboard (an agent logged in through the
    API shows idle at its extension), an agent renamed on the ACD form, and after a call answered by
    that agent the queue and agent reports with it."""
    daemon.api.call("agent.login", agent="1001", pin=AGENT_PINS["1001"], extension="8002")
    app = TuiApp(client_factory(str(daemon.api_socket)))
    app.refresh()
    rows = _screen(app)
    text = "\n".join(rows)
    # waiting, callbacks, longest wait, staffed, idle | today: offered, answered, abandoned, service level
    assert next(r for r in rows if r.startswith("domestic ")).split() == [
        "domestic", "0", "0", "-", "1", "1", "|", "0", "0", "0", "-"]
    assert "agents (6): 1 idle, 5 out" in text
    assert "1001 王芳   idle  8002" in text and "PSTN-1" in text
    app.press("5")
    app.press("tab")
    assert next(r for r in _screen(app) if r.startswith(">")).split()[1:5] == ["1001", "王芳", "idle", "8002"]
    app.press("enter")
    _focus_on(app, "name")
    app.press("enter")
    for _ in range(5):
        app.press("backspace")
    _type(app, "Wang Fang")
    app.press("enter")
    assert "saved agent[1001].name" in _note(app)
    agent = next(a for a in daemon.api.call("config.get")["data"]["agent"] if a["id"] == "1001")
    assert agent["name"] == "Wang Fang"

    # a call to the domestic queue (PSTN-3's destination, changed live), answered by 1001
    daemon.api.call("config.set", changes=[{"key": "line[1/3].destination", "value": ["queue:domestic"]}])
    w = World(daemon.sim)
    w.co_call("1/3", "13800138000")
    phone = w.phone("8002")
    phone.wait_ringing(12, "the agent's phone")
    phone.off_hook()
    call = wait_for(lambda: next((c for c in daemon.api.call("calls") if c.get("agent") == "1001"), None), 10,
                    "the call connected to the agent")
    daemon.api.call("call.hangup", call=call["id"])
    wait_for(lambda: daemon.api.call("cdr.list"), 5, "the CDR")
    phone.on_hook()
    app.press("esc")
    app.press("2")
    app.press("v")
    rows = _screen(app)
    box_today = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=daemon.api.call("status")["utc_offset_min"])).date()
    assert rows[3].startswith(f"Queues for {box_today.isoformat()} (today, so far): ")  # the box's day, not the host's
    # offered, answered, abandoned, short, overflowed, service level (then the average and longest wait)
    assert next(r for r in rows if r.startswith("domestic ") and "%" in r).split()[:7] == [
        "domestic", "1", "1", "0", "0", "0", "100%"]
    assert next(r for r in rows if r.startswith("domestic ") and "#" in r).split()[1] == "1"  # the bar chart
    app.press("v")
    rows = _screen(app)
    row = next(r for r in rows if r.startswith("1001 ") and "%" in r and "#" not in r)
    assert row.split()[-8:-6] == ["1", "0"]  # answered, missed
    assert next(r for r in rows if r.startswith("1001 ") and "#" in r).count("#") == 58  # the one agent's bar


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux comes with scripts/setup.sh")
def test_tui_in_tmux_blacklists_a_caller_on_the_ivr_screen(ivr_daemon: DaemonProcess, tmp_path: Path) -> None:
    """In tmux at 80x24, TERM=vt100: the IVR screen's black list gets a number through the keys; the
    daemon saves the flow file and the next call from that number is turned away by the flow."""
    with tui_in_tmux(ivr_daemon) as (pane, keys):
        keys("6")
        wait_for(lambda: "IVR flow travel-agency" in pane(), 5, "the IVR screen")
        keys("Tab", "Tab", "Tab")
        wait_for(lambda: "> " in pane() and "blacklist" in next(
            (r for r in pane().splitlines() if r.startswith(">")), ""), 5, "the black list row")
        keys("Enter")
        wait_for(lambda: "list blacklist numbers:" in pane(), 5, "the edit box")
        keys("-l", "13800138000")
        keys("Enter")
        wait_for(lambda: "saved lists.blacklist.numbers" in pane(), 5, "the list saved")
        screen = pane().splitlines()
        assert len(screen) <= 24 and all(len(r) <= 80 and r.isascii() for r in screen)
        assert any("blacklist" in r and "13800138000" in r for r in screen)
        flow = (tmp_path / "flow.toml").read_text(encoding="utf-8")
        assert 'numbers = ["13800138000"]' in flow and "# e.g." in flow  # saved, comments kept
        assert any(r["op"] == "ivr.flow.set" for r in ivr_daemon.api.call("audit.list"))

        # the change is live: a call from that number is warned and released by the screening node
        w = World(ivr_daemon.sim)
        w.co_call("1/1", "13800138000")
        cdr = wait_for(lambda: next(iter(ivr_daemon.api.call("cdr.list")), None), 30, "the blacklisted call's CDR")
        assert cdr["ivr_path"] == ["screen"] and cdr["cause"] == 21  # the box released the call

        # a mistake is refused with the daemon's located message; nothing is written
        keys("Enter")
        wait_for(lambda: "list blacklist numbers:" in pane(), 5, "the edit box again")
        keys("-l", ",12ab")
        keys("Enter")
        wait_for(lambda: "must be a list of digit strings" in pane(), 5, "the daemon's error")
        assert (tmp_path / "flow.toml").read_text(encoding="utf-8") == flow
        keys("Escape")
        wait_for(lambda: "cancelled" in pane(), 5, "the edit cancelled")  # (Esc then q at once is Meta-q)


def _screens_as_nobody(argv: list[str]) -> int:
    """As the user nobody: the TUI connected as ``callbox-tui`` would (``argv``: a configuration and
    a token file), its dashboard and its configuration screen printed."""
    app = TuiApp(client_factory(socket_path(None, argv[0]), read_token(None, argv[1] if len(argv) > 1 else None)))
    app.refresh()
    app.press("4")
    print("\n".join(_screen(app)))
    return 0


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux comes with scripts/setup.sh")
def test_the_tui_finds_the_socket_in_the_configuration_and_presents_a_token(reachable_daemon: DaemonProcess,
                                                                             tmp_path: Path) -> None:
    d = reachable_daemon
    secret = "tui-tok-5d1e08"
    d.api.call("config.set", changes=[{"key": f"api.tokens.{secret}", "value": "admin"}])
    cfg = d.workdir / "tui.toml"  # only [api] socket: where the installer's configuration says it is
    cfg.write_text(f'[box]\nname = "x"\n\n[api]\nsocket = "{d.api_socket}"\n', encoding="utf-8")
    cfg.chmod(0o644)
    token_file = d.workdir / "token"
    token_file.write_text(secret + "\n", encoding="utf-8")
    os.chown(token_file, pwd.getpwnam("nobody").pw_uid, -1)
    token_file.chmod(0o600)

    # nobody is an agent: the configuration screen is refused; with the token (admin) it shows
    code, out, _ = as_nobody(_screens_as_nobody, [str(cfg)])
    assert code == 0 and "4:Config*" in out and "forbidden" in out and "Extensions" not in out
    code, out, err = as_nobody(_screens_as_nobody, [str(cfg), str(token_file)])
    assert (code, err) == (0, "") and "Extensions" in out and "forbidden" not in out

    # the command: a token the daemon refuses ends it before the screen, never printed; a bad config is exit 2
    tui = [str(BIN / "callbox-tui"), "--config", str(cfg)]
    refused = subprocess.run([*tui, "--token", "wrong-token"], capture_output=True, text=True, timeout=20)
    assert refused.returncode == 1 and "the daemon refused the token (forbidden)" in refused.stderr
    assert "wrong-token" not in refused.stderr + refused.stdout
    cfg.write_text('[api]\nsocket = 5\n', encoding="utf-8")
    bad = subprocess.run(tui, capture_output=True, text=True, timeout=20)
    assert bad.returncode == 2 and f"{cfg}:2: api.socket: must be str" in bad.stderr
    cfg.write_text(f'[api]\nsocket = "{d.api_socket}"\n', encoding="utf-8")
    # in a terminal: the socket from $CALLBOX_CONFIG, the token from $CALLBOX_TOKEN_FILE
    with tui_in_tmux(d, args="", env=f"CALLBOX_CONFIG={cfg} CALLBOX_TOKEN_FILE={token_file}") as (pane, keys):
        keys("4")
        wait_for(lambda: "Extensions" in pane(), 5, "the configuration screen")
    assert secret not in d.log_text()
