"""The TUI against a running daemon: screens rendered headless at 80x24 and switched by keys, the
ASCII fallback, a lost daemon shown (not a crash), the configuration screen editing a setting through
the daemon (its errors shown, nothing lost), the diagnostics ring and live digits; and one real run in
tmux at 80x24, TERM=vt100, that changes an extension's name through the keys and sees it take effect,
then logs an ACD agent in on the ACD screen (PIN masked) and sees it in ``acd.snapshot``."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import urwid

from mgmt_tui.app import TuiApp, client_factory
from tests.support.processes import BIN, DaemonProcess, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e


def test_screens_render_at_80x24_and_switch_by_keys(daemon: DaemonProcess) -> None:
    app = TuiApp(client_factory(str(daemon.api_socket)))
    app.refresh()
    screen = app.render((80, 24))
    assert len(screen) == 24 and all(len(row) <= 80 for row in screen)
    text = "\n".join(screen)
    assert "1:Dashboard*" in text and "board UP" in text and "PSTN-1" in text and "8001" in text
    assert app.keypress("3")
    text = "\n".join(app.render((80, 24)))
    assert "3:Diagnostics*" in text and "E1 CAS bits" in text and "1011/1011" in text
    assert app.keypress("2")
    assert "Report for" in "\n".join(app.render((80, 24)))
    assert not app.keypress("x")
    with pytest.raises(urwid.ExitMainLoop):
        app.keypress("q")


def test_ascii_mode_and_a_lost_daemon(daemon: DaemonProcess) -> None:
    app = TuiApp(client_factory(str(daemon.api_socket)), ascii_mode=True)
    app.refresh()
    rows = app.render((80, 24))
    assert all(row.isascii() for row in rows) and "?????" in "\n".join(rows)  # the Chinese box name
    daemon.stop()
    app.refresh()
    assert "daemon unreachable" in "\n".join(app.render((80, 24)))


def _focus_on(app: TuiApp, text: str) -> None:
    """Arrow down (as the installer would) until the marked row contains ``text``."""
    for key in ["down"] * 40 + ["up"] * 40:
        if any(row.startswith(">") and text in row for row in app.render((80, 24))):
            return
        app.press(key)
    raise AssertionError(f"no row with {text!r}:\n" + "\n".join(app.render((80, 24))))


def _type(app: TuiApp, text: str) -> None:
    for ch in text:
        app.press(ch)


def test_config_screen_edits_a_name_through_the_daemon(daemon: DaemonProcess) -> None:
    app = TuiApp(client_factory(str(daemon.api_socket)))
    app.refresh()
    assert app.press("4")
    screen = app.render((80, 24))
    assert len(screen) == 24 and all(len(row) <= 80 for row in screen)
    text = "\n".join(screen)
    assert "4:Config*" in text and "Extensions" in text and screen[2].startswith("> ") and "8001" in screen[2]
    _focus_on(app, "8002")
    app.press("enter")
    assert any(row.startswith("extension 8002 name: ") for row in app.render((80, 24)))
    for _ in range(10):
        app.press("backspace")
    _type(app, "Zhang San")
    app.press("enter")
    text = "\n".join(app.render((80, 24)))
    assert "saved extension[8002].name" in text and "Zhang San" in text
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
    screen = app.render((80, 24))
    assert any(row.startswith("dialplan no_answer_timeout_s: 0") for row in screen)
    assert "dialplan.no_answer_timeout_s: must be at least 1" in screen[-1]
    assert daemon.config.read_text(encoding="utf-8") == before
    app.press("esc")  # cancelled: the row shows the saved value again
    assert any(row.startswith(">") and "no_answer_timeout_s" in row and row.endswith(" 8")
               for row in app.render((80, 24)))

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
    assert "8002 Zhang San" in "\n".join(app.render((80, 24)))  # the dashboard shows the new name


def test_diagnostics_rings_an_extension_and_shows_digits(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    app = TuiApp(client_factory(str(daemon.api_socket)))
    app.refresh()
    app.press("3")
    assert "DTMF heard: (none yet)" in "\n".join(app.render((80, 24)))
    app.press("t")
    _type(app, "8005")
    app.press("enter")
    phone = w.phone("8005")
    wait_for(lambda: phone.state()["ringing"], 3, "8005 ringing from the TUI")
    assert "ringing 8005" in app.render((80, 24))[-1]
    wait_for(lambda: phone.state()["caller_id"] == "10000", 6, "the test caller ID")
    caller = w.phone("8006")
    caller.off_hook()
    time.sleep(0.4)
    caller.dial("80")

    def shown() -> bool:
        app.refresh()
        return "DTMF heard: 8@2/6 0" in "\n".join(app.render((80, 24)))

    wait_for(shown, 5, "the digits on the diagnostics screen")
    caller.on_hook()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux comes with scripts/setup.sh")
def test_tui_in_tmux_at_80x24_vt100(daemon: DaemonProcess) -> None:
    session = f"callbox-tui-{time.monotonic_ns()}"
    tmux = ["tmux", "-L", session]
    subprocess.run([*tmux, "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                    f"env TERM=vt100 {BIN / 'callbox-tui'} --socket {daemon.api_socket}"], check=True)

    def pane() -> str:
        return subprocess.run([*tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout

    try:
        wait_for(lambda: "PSTN-1" in pane(), 10, "the dashboard in tmux")
        assert "?????" in pane()  # VT100: ASCII fallback for the Chinese box name
        w = World(daemon.sim)
        w.co_call("1/1", "13800138000")
        wait_for(lambda: "ringing" in pane(), 10, "the live dashboard to show the ringing call")
        subprocess.run([*tmux, "send-keys", "-t", session, "3"], check=True)
        wait_for(lambda: "E1 CAS bits" in pane(), 5, "the diagnostics screen")
        w.co_hangup("1/1")

        # change a setting through the keys: extension 8001's name (the first row of the config screen)
        keys = ["4", "Enter"] + ["BSpace"] * 12
        subprocess.run([*tmux, "send-keys", "-t", session, *keys], check=True)
        wait_for(lambda: "extension 8001 name:" in pane(), 5, "the edit box")
        subprocess.run([*tmux, "send-keys", "-t", session, "-l", "Wang Xiaoming"], check=True)
        subprocess.run([*tmux, "send-keys", "-t", session, "Enter"], check=True)
        wait_for(lambda: "saved extension[8001].name" in pane(), 5, "the name saved")
        assert all(len(row) <= 80 for row in pane().splitlines()) and len(pane().splitlines()) <= 24
        subprocess.run([*tmux, "send-keys", "-t", session, "1"], check=True)
        wait_for(lambda: "8001 Wang Xiaoming" in pane(), 5, "the dashboard to show the new name")
        row = next(p for p in daemon.api.call("ports") if p.get("extension") == "8001")
        assert row["name"] == "Wang Xiaoming"  # the API agrees

        # log agent 1001 in on the ACD screen: the PIN masked, the configured extension (8002) typed in
        subprocess.run([*tmux, "send-keys", "-t", session, "5", "Tab", "l"], check=True)
        wait_for(lambda: "log in agent 1001 ??, PIN:" in pane(), 5, "the PIN prompt")
        subprocess.run([*tmux, "send-keys", "-t", session, "-l", "1001"], check=True)
        wait_for(lambda: "PIN: ****" in pane(), 5, "the PIN typed, masked")
        subprocess.run([*tmux, "send-keys", "-t", session, "Enter"], check=True)
        wait_for(lambda: "at extension: 8002" in pane(), 5, "the extension prompt")
        subprocess.run([*tmux, "send-keys", "-t", session, "Enter"], check=True)
        wait_for(lambda: "logged in agent 1001: idle at 8002" in pane(), 5, "the login done")
        agent = next(a for a in daemon.api.call("acd.snapshot")["agents"] if a["id"] == "1001")
        assert (agent["state"], agent["extension"]) == ("idle", "8002")
        assert any(r.startswith("> ") and r.split()[1:5] == ["1001", "??", "idle", "8002"] for r in pane().splitlines())
        subprocess.run([*tmux, "send-keys", "-t", session, "q"], check=True)
        wait_for(lambda: subprocess.run([*tmux, "has-session", "-t", session], capture_output=True).returncode != 0,
                 5, "the TUI to quit on q")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def test_acd_dashboard_report_and_agent_form(daemon: DaemonProcess) -> None:
    """The default travel agency's queues and agents on the dashboard (an agent logged in through the
    API shows idle at its extension), the queue report, and an agent renamed on the ACD form."""
    daemon.api.call("agent.login", agent="1001", pin="1001", extension="8002")
    app = TuiApp(client_factory(str(daemon.api_socket)))
    app.refresh()
    rows = app.render((80, 24))
    text = "\n".join(rows)
    assert all(len(r) <= 80 for r in rows)
    assert any(r.startswith("domestic ") for r in rows) and "agents (" in text
    assert "1001 王芳   idle  8002" in text and "PSTN-1" in text
    app.press("2")
    app.press("v")
    assert f"Queues for {dt.date.today().isoformat()} (today, so far)" in "\n".join(app.render((80, 24)))
    app.press("5")
    app.press("tab")
    assert "1001" in next(r for r in app.render((80, 24)) if r.startswith(">"))
    app.press("enter")
    _focus_on(app, "name")
    app.press("enter")
    for _ in range(5):
        app.press("backspace")
    _type(app, "Wang Fang")
    app.press("enter")
    assert "saved agent[1001].name" in app.footer.get_text()[0]
    agent = next(a for a in daemon.api.call("config.get")["data"]["agent"] if a["id"] == "1001")
    assert agent["name"] == "Wang Fang"


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux comes with scripts/setup.sh")
def test_tui_in_tmux_blacklists_a_caller_on_the_ivr_screen(ivr_daemon: DaemonProcess, tmp_path: Path) -> None:
    """In tmux at 80x24, TERM=vt100: the IVR screen's black list gets a number through the keys; the
    daemon saves the flow file and the next call from that number is turned away by the flow."""
    session = f"callbox-tui-{time.monotonic_ns()}"
    tmux = ["tmux", "-L", session]
    subprocess.run([*tmux, "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                    f"env TERM=vt100 {BIN / 'callbox-tui'} --socket {ivr_daemon.api_socket}"], check=True)

    def pane() -> str:
        return subprocess.run([*tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout

    def keys(*k: str) -> None:
        subprocess.run([*tmux, "send-keys", "-t", session, *k], check=True)

    try:
        wait_for(lambda: "PSTN-1" in pane(), 10, "the dashboard in tmux")
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
        keys("q")
        wait_for(lambda: subprocess.run([*tmux, "has-session", "-t", session], capture_output=True).returncode != 0,
                 5, "the TUI to quit on q")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
