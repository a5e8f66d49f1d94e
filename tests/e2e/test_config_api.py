"""Configuration through the API against a running daemon: a change is validated, saved atomically
with comments kept, audited, and applied while a call is up on other ports without disturbing it
(audio measured both ways); a mistake is refused naming file, line and key, and nothing is written;
only admin may read or change the configuration, only supervisor+ run diagnostics. An IVR flow read and
changed through the API: the next caller hears the new prompt."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from daemon.api.protocol import ApiError, ErrorCode
from ivr.tts import Tts
from tests.support.audio import contains, decode, tone_frequency
from tests.support.processes import DaemonProcess, wait_for
from tests.support.world import Phone, World
from tests.unit.daemon.api.test_roles import _as_nobody

pytestmark = pytest.mark.e2e


def _audio_both_ways(w: World, a: Phone, b: Phone) -> tuple[float, float]:
    mark = w.tick()
    time.sleep(1.0)
    return tone_frequency(b.heard(since=mark)), tone_frequency(a.heard(since=mark))


def test_change_name_and_timeout_while_a_call_is_up(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    a, b = w.phone("8002"), w.phone("8003")
    a.lift()
    a.dial("8003")
    b.wait_ringing(12, "8003 ringing")
    b.off_hook()
    (call,) = wait_for(lambda: [c for c in daemon.api.call("calls") if c.get("answer")], 10, "answered call")
    a.send_tone(700.0)
    b.send_tone(1300.0)
    time.sleep(0.3)
    assert _audio_both_ways(w, a, b) == (pytest.approx(700.0, rel=0.02), pytest.approx(1300.0, rel=0.02))

    reply = daemon.api.call("config.set", changes=[{"key": "extension[8001].name", "value": "王小明"},
                                                   {"key": "dialplan.no_answer_timeout_s", "value": 3}])
    assert reply["saved"] and reply["restart_required"] == []

    # the call is undisturbed: same call, still answered, audio still flows both ways
    assert [c["id"] for c in daemon.api.call("calls")] == [call["id"]]
    assert _audio_both_ways(w, a, b) == (pytest.approx(700.0, rel=0.02), pytest.approx(1300.0, rel=0.02))
    row = next(p for p in daemon.api.call("ports") if p.get("extension") == "8001")
    assert row["name"] == "王小明"
    text = Path(daemon.config).read_text(encoding="utf-8")
    assert 'name = "王小明"' in text and "no_answer_timeout_s = 3" in text
    assert "# Validated on load: every error names this file, the key and the line." in text  # comments kept
    assert "mode = \"all\"                   # all | selected" in text
    assert Path(str(daemon.config) + ".bak").read_text(encoding="utf-8").count("no_answer_timeout_s = 8") == 1
    got = daemon.api.call("config.get")
    assert got["text"] == text and got["data"]["dialplan"]["no_answer_timeout_s"] == 3

    # the new no-answer timeout (3 s, was 8) takes effect on the next call
    c, d = w.phone("8004"), w.phone("8001")
    c.lift()
    c.dial("8001")
    d.wait_ringing(12, "8001 ringing")
    assert d.state().get("caller_id") in (None, "8004")
    cdr = wait_for(lambda: next((r for r in daemon.api.call("cdr.list", limit=10) if r["called"] == "8001"), None),
                   10, "the unanswered call's CDR")
    # by the box's own clock (its CDR), not by when this test's polling saw the CDR: 3 s, not the old 8
    assert cdr["disposition"] == "NO ANSWER" and 2.5 <= cdr["duration"] <= 5.0
    c.on_hook()

    audit = [r for r in daemon.api.call("audit.list") if r["op"] == "config.set"]
    assert audit and audit[0]["args"]["changes"][0]["key"] == "extension[8001].name"
    assert [c["id"] for c in daemon.api.call("calls")] == [call["id"]]  # still up
    a.on_hook()
    b.on_hook()


def test_a_bad_change_is_refused_and_nothing_is_written(daemon: DaemonProcess) -> None:
    before = Path(daemon.config).read_text(encoding="utf-8")
    with pytest.raises(ApiError) as err:
        daemon.api.call("config.set", changes=[{"key": "dialplan.no_answer_timeout_s", "value": 0}])
    assert err.value.code == "bad_argument"
    assert str(daemon.config) in err.value.message and "dialplan.no_answer_timeout_s" in err.value.message
    line = before.splitlines().index(next(ln for ln in before.splitlines() if ln.startswith("no_answer_timeout_s")))
    assert f"{daemon.config}:{line + 1}:" in err.value.message
    with pytest.raises(ApiError) as err:
        daemon.api.call("config.set", changes=[{"key": "extension[9999].name", "value": "x"}])
    assert err.value.code == "bad_argument" and "extension[9999]" in err.value.message
    assert Path(daemon.config).read_text(encoding="utf-8") == before
    assert not Path(str(daemon.config) + ".bak").exists()
    assert not [r for r in daemon.api.call("audit.list") if r["op"] == "config.set"]


def test_port_changes_are_saved_and_wait_for_a_restart(daemon: DaemonProcess) -> None:
    reply = daemon.api.call("config.set", changes=[{"key": "extension[8008].port", "value": "2/7"},
                                                   {"key": "extension[8007].port", "value": "2/8"},
                                                   {"key": "extension[8006].name", "value": "Li"}])
    assert reply["restart_required"] == ["extension[8007].port", "extension[8008].port"]
    assert 'port = "2/7"' in Path(daemon.config).read_text(encoding="utf-8")
    ports = {p.get("extension"): p for p in daemon.api.call("ports")}
    assert ports["8008"]["port"] == "2/8"  # still on its old port until the restart
    assert ports["8006"]["name"] == "Li"


def test_a_port_the_board_lacks_is_refused_naming_file_line_key(daemon: DaemonProcess) -> None:
    """Saved, it would stop the daemon at its next start (exit 2): refused while the board is open."""
    before = Path(daemon.config).read_text(encoding="utf-8")
    with pytest.raises(ApiError) as err:
        daemon.api.call("config.set", changes=[{"key": "extension[8008].port", "value": "2/9"}])
    line = before.splitlines().index('port = "2/8"') + 1
    assert err.value.code == "bad_argument"
    assert err.value.message.startswith(f"{daemon.config}:{line}: extension[7].port: port 2/9 is not on the board")
    assert Path(daemon.config).read_text(encoding="utf-8") == before


def test_a_port_setting_reaches_its_machine_at_once(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    phone = w.phone("8004")
    reply = daemon.api.call("config.set", changes=[{"key": "extension[8004].callerid", "value": "none"}])
    assert reply["ports_changed"] == ["2/4"] and reply["restart_required"] == []
    rings = phone.rings()
    daemon.api.call("diag.ring", extension="8004", seconds=3, number="5551234")
    wait_for(lambda: phone.rings() > rings, 3, "8004 ringing")
    time.sleep(2.5)  # caller ID would have come 0.5 s after the first 1 s burst
    assert phone.state()["caller_id"] is None
    wait_for(lambda: not phone.state()["ringing"] and _port_state(daemon, "2/4") == "idle", 6, "the ring to end")
    reply = daemon.api.call("config.set", changes=[{"key": "extension[8004].callerid", "value": None}])  # default
    assert reply["ports_changed"] == ["2/4"]
    daemon.api.call("diag.ring", extension="8004", seconds=3, number="5551234")
    wait_for(lambda: phone.state()["caller_id"] == "5551234", 5, "caller ID back on 8004's display")


def _port_state(d: DaemonProcess, port: str) -> str:
    return next(p for p in d.api.call("ports") if p["port"] == port)["state"]


def test_roles_config_is_admin_only_and_diagnostics_supervisor(reachable_daemon: DaemonProcess) -> None:
    d = reachable_daemon
    # tokens added through the API apply at once (no restart)
    reply = d.api.call("config.set", changes=[{"key": "api.tokens.tok-int", "value": "integrator"},
                                              {"key": "api.tokens.tok-sup", "value": "supervisor"}])
    assert reply["restart_required"] == []
    out = _as_nobody(str(d.api_socket), [
        ("config.get", {}), ("diag.ring", {"extension": "8001"}), ("auth", {"token": "tok-int"}),
        ("diag.tone", {"port": "2/1", "freq": 1000.0}), ("auth", {"token": "tok-sup"}),
        ("diag.watch", {}), ("config.set", {"changes": [{"key": "box.name", "value": "x"}]}),
        ("config.get", {})])
    forbidden = {"error": ErrorCode.FORBIDDEN}
    assert out[0] == forbidden and out[1] == forbidden
    assert out[2]["role"] == "integrator" and out[3] == forbidden
    assert out[4]["role"] == "supervisor" and out[5]["events"] == []
    assert out[6] == forbidden and out[7] == forbidden
    assert 'name = "x"' not in e2e_config_text(d)
    (audit,) = d.api.call("audit.list")  # denied calls change nothing
    assert audit["op"] == "config.set" and "tok-" not in repr(audit)  # secrets stay out of the audit log


def e2e_config_text(d: DaemonProcess) -> str:
    return Path(d.config).read_text(encoding="utf-8")


def test_an_ivr_prompt_changed_through_the_api_is_heard_by_the_next_caller(ivr_daemon: DaemonProcess,
                                                                            tmp_path: Path) -> None:
    api = ivr_daemon.api
    assert api.call("ivr.flows") == [{"flow": "travel-agency", "path": str(tmp_path / "flow.toml")}]
    got = api.call("ivr.flow.get", flow="travel-agency")
    assert got["data"]["prompts"]["welcome"].startswith("您好，欢迎致电") and "[prompts]" in got["text"]
    with pytest.raises(ApiError) as err:
        api.call("ivr.flow.get", flow="no-such-flow")
    assert err.value.code == ErrorCode.NOT_FOUND
    welcome = "您好，这里是测试旅行社，预订请按2"
    reply = api.call("ivr.flow.set", flow="travel-agency", changes=[{"key": "prompts.welcome", "value": welcome}])
    assert reply["saved"] and reply["applied"]
    assert api.call("ivr.flow.get", flow="travel-agency")["data"]["prompts"]["welcome"] == welcome
    w = World(ivr_daemon.sim)
    w.co_call("1/1", "13800000000")
    mark = w.tick()
    spoken = decode(Tts(tmp_path / "tts").request(welcome, "cmn-latn-pinyin").result(60).read_bytes())
    # the box answers after the caller ID (between the first two rings) and plays the prompt once its
    # speech is made: the caller's audio is searched for the new prompt as it grows, not cut at a length
    wait_for(lambda: contains(decode(w.co_heard("1/1", since=mark)), spoken) > 0.8, 30,
             "the new welcome prompt in what the caller hears", interval=0.5)
