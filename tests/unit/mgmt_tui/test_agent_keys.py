"""The ACD screen's agent keys, headless at 80x24 against the daemon's own agent handlers on a real
ACD engine: ``l`` logs an agent in (PIN masked, then the extension, the configured or last one
typed in), ``o`` logs out, ``p`` pauses with a configured reason code, ``u`` resumes — each sends its
op with the right arguments, and the agent's row and the status line show the new state; a wrong PIN
shows the daemon's error and changes nothing; the PIN is never on the screen; a supervisor (no
``config.get``) gets the agents and the keys without the forms."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest

from mgmt_tui.app import TuiApp
from tests.unit.mgmt_tui.support import FakeDaemon, _focus_on, _note, _screen, _text, _type

PIN = "7294"  # agent 1003's PIN in the fake daemon's configuration (nowhere else on the screens)


def _agents(tmp_path: Path, ascii_mode: bool = False, admin: bool = True) -> tuple[TuiApp, FakeDaemon]:
    """The ACD screen with the waiting service call gone (so an agent logged in stays idle)."""
    daemon = FakeDaemon(tmp_path, admin=admin)
    daemon.engine.hangup("w2", daemon.at(935))
    app = TuiApp(daemon, ascii_mode=ascii_mode)
    app.refresh()
    app.press("5")
    return app, daemon


def _row(app: TuiApp, agent: str) -> list[str]:
    """The agent's row on the list, split: ``[id, name, state, extension, ...]``; ``">"`` first if the
    cursor is on it."""
    row = next(r for r in _screen(app) if r[:2] in ("> ", "  ") and r[2:].split()[:1] == [agent])
    return ([">"] if row.startswith(">") else []) + row[2:].split()


def _kept(app: TuiApp, pin: str) -> bool:
    """Whether the app holds ``pin`` anywhere (its attributes, the prompt's field) but in the
    configuration it read (where a configured PIN is)."""
    def holds(x: object) -> bool:
        if isinstance(x, str):
            return x == pin
        if isinstance(x, dict):
            return any(holds(k) or holds(v) for k, v in x.items())
        if isinstance(x, list | tuple):
            return any(holds(v) for v in x)
        if dataclasses.is_dataclass(x):
            return any(holds(getattr(x, f.name)) for f in dataclasses.fields(x))
        return False

    return holds({k: v for k, v in vars(app).items() if k != "acd_config"})


def _ops(daemon: FakeDaemon) -> list[tuple[str, dict]]:
    return [(op, args) for op, args in daemon.calls if op.startswith("agent.")]


@pytest.mark.parametrize("ascii_mode", [False, True])
def test_login_asks_a_masked_pin_and_the_extension(tmp_path: Path, ascii_mode: bool) -> None:
    app, daemon = _agents(tmp_path, ascii_mode)
    assert "l/o log in/out  p/u pause/resume" in _note(app)  # the screen's key help
    _focus_on(app, "1003   Zhang")
    assert _row(app, "1003")[3] == "out"
    seen = []
    app.press("l")
    _type(app, PIN)
    seen.append(_text(app))
    assert any(r.startswith("log in agent 1003 Zhang, PIN: ****") for r in _screen(app))
    app.press("enter")  # the extension: the configured one, typed in already
    seen.append(_text(app))
    assert any(r.startswith("log in agent 1003 Zhang at extension: 8003") for r in _screen(app))
    assert _ops(daemon) == [] and _kept(app, PIN)  # the PIN rides in the prompt, unseen
    app.press("enter")
    seen.append(_text(app) + _note(app))
    assert _ops(daemon) == [("agent.login", {"agent": "1003", "pin": PIN, "extension": "8003"})]
    assert _row(app, "1003")[:5] == [">", "1003", "Zhang", "idle", "8003"]
    assert "logged in agent 1003: idle at 8003" in _note(app)
    assert daemon.agent("1003")["state"] == "idle" and daemon.agent("1003")["extension"] == "8003"
    assert not _kept(app, PIN) and not any(PIN in s for s in seen)  # gone with the prompt, never shown
    if ascii_mode:
        assert all(s.isascii() for s in seen)


def test_a_wrong_pin_shows_the_daemons_error_and_changes_nothing(tmp_path: Path) -> None:
    app, daemon = _agents(tmp_path)
    _focus_on(app, "1003   Zhang")
    app.press("l")
    _type(app, "1234")
    assert "1234" not in _text(app)
    app.press("enter")
    for _ in range(4):
        app.press("backspace")
    _type(app, "8002")
    app.press("enter")
    assert _ops(daemon) == [("agent.login", {"agent": "1003", "pin": "1234", "extension": "8002"})]
    assert "login 1003: refused: agent 1003: wrong PIN" in _note(app)
    assert "1234" not in _text(app) and app.editing is None and not _kept(app, "1234")
    assert _row(app, "1003")[3] == "out" and daemon.agent("1003")["state"] == "logged_out"
    assert _row(app, "1002")[2:4] == ["p:1", "8002"]  # the desk's agent is still there
    app.press("l")
    app.press("esc")  # cancelled: nothing sent
    assert len(_ops(daemon)) == 1 and "cancelled" in _note(app)
    app.press("l")
    _type(app, "5555")
    app.press("enter")
    app.press("esc")  # cancelled at the extension: nothing sent, the PIN gone with the prompt
    assert len(_ops(daemon)) == 1 and "cancelled" in _note(app) and not _kept(app, "5555")


def test_resume_then_pause_with_a_configured_reason(tmp_path: Path) -> None:
    app, daemon = _agents(tmp_path)
    _focus_on(app, "1002   李明")
    assert _row(app, "1002")[3:5] == ["p:1", "8002"]
    app.press("u")
    assert _ops(daemon)[-1] == ("agent.resume", {"agent": "1002"})
    assert _row(app, "1002")[:5] == [">", "1002", "李明", "idle", "8002"]
    assert "resumed agent 1002: idle at 8002" in _note(app) and daemon.agent("1002")["state"] == "idle"

    app.press("p")  # the reasons by code and name; the first one typed in
    assert any(r.startswith("pause agent 1002 李明, reason (0 暂停, 1 午餐): 0") for r in _screen(app))
    app.press("backspace")
    _type(app, "7")
    app.press("enter")  # not a configured code: said here, the prompt stays open, nothing sent
    assert "'7' is not one of 0, 1" in _note(app) and _ops(daemon)[-1][0] == "agent.resume"
    app.press("backspace")
    _type(app, "1")
    app.press("enter")
    assert _ops(daemon)[-1] == ("agent.pause", {"agent": "1002", "reason": "1"})
    assert _row(app, "1002")[3:5] == ["p:1", "8002"] and daemon.agent("1002")["pause_reason"] == "1"
    assert "paused agent 1002: paused (1 午餐) at 8002" in _note(app)


def test_logout_and_login_again_at_the_last_extension(tmp_path: Path) -> None:
    app, daemon = _agents(tmp_path)
    daemon.engine.answered("w1", "8001", daemon.at(940))  # 1001 talks: its logout waits for the call's end
    _focus_on(app, "1001   王芳")
    app.press("o")
    assert _ops(daemon)[-1] == ("agent.logout", {"agent": "1001"})
    assert "agent 1001 is busy at 8001: logout when the call ends" in _note(app)
    assert _row(app, "1001")[3] == "BUSY"

    _focus_on(app, "1002   李明")
    app.press("o")
    assert _ops(daemon)[-1] == ("agent.logout", {"agent": "1002"})
    assert _row(app, "1002")[:4] == [">", "1002", "李明", "out"]
    assert "logged out agent 1002: logged_out" in _note(app) and daemon.agent("1002")["extension"] is None
    app.press("l")
    app.press("enter")  # 1002 has no PIN
    assert any(r.startswith("log in agent 1002 李明 at extension: 8002") for r in _screen(app))  # the last one
    app.press("enter")
    assert _ops(daemon)[-1] == ("agent.login", {"agent": "1002", "pin": "", "extension": "8002"})
    assert _row(app, "1002")[3:5] == ["idle", "8002"]


def test_a_supervisor_gets_the_agents_and_their_keys_without_the_forms(tmp_path: Path) -> None:
    app, daemon = _agents(tmp_path, admin=False)
    text = _text(app)
    assert "the admin role only" in text and "Agents (3)" in text and "Queues" not in text
    assert _screen(app)[4].startswith(">") and _row(app, "1001")[3] == "RING"
    _focus_on(app, "1002")
    app.press("u")
    assert _ops(daemon)[-1] == ("agent.resume", {"agent": "1002"}) and _row(app, "1002")[3] == "idle"
    app.press("p")  # the reasons are in the configuration: a code, checked by the daemon
    assert any(r.startswith("pause agent 1002 李明, reason code:") for r in _screen(app))
    _type(app, "5")
    app.press("enter")
    assert "pause 1002: refused: unknown pause reason '5'" in _note(app) and _row(app, "1002")[3] == "idle"
    app.press("enter")  # no forms to open here
    assert _row(app, "1002")[3] == "idle" and app.editing is None


@pytest.mark.parametrize("admin", [True, False])
def test_the_list_refreshes_the_live_states_every_second_not_the_configuration(tmp_path: Path, admin: bool) -> None:
    app, daemon = _agents(tmp_path, admin=admin)
    loop = SimpleNamespace(set_alarm_in=lambda *_: None)
    reads, snaps = len(daemon.sets("config.get")), len(daemon.sets("acd.snapshot"))
    assert reads >= 1 and _row(app, "1002")[2:4] == ["p:1", "8002"]  # (the cursor is on 1001)
    daemon.engine.resume("1002", daemon.at(940))  # (at the desk's phone)
    app._tick(loop, None)
    assert _row(app, "1002")[2:4] == ["idle", "8002"]  # the live state, a second later
    for _ in range(3):
        app._tick(loop, None)
    assert len(daemon.sets("config.get")) == reads and len(daemon.sets("acd.snapshot")) == snaps + 4
    app.press("r")  # a refresh by hand reads the configuration again
    assert len(daemon.sets("config.get")) == reads + 1
