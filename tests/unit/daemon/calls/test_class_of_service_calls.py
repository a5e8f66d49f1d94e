"""Class of service on the whole box in one process (virtual clock): every way an extension can spend
money on an outside line is checked against the class of the party who pays; a refusal is heard
(congestion tone, measured), seizes no line, and leaves a CDR; the daily cap blocks and alarms;
emergency numbers always go out. The CDR carries the number actually dialled."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from daemon.calls.class_of_service import CAP_ALARM, Payer
from daemon.features.extension import ExtensionFeatures
from sim.central_office import Scenario
from tests.support.audio import tone_frequency
from tests.support.inprocess import Box
from tests.support.phones import connect, dial, listen, talk
from tests.support.processes import default_config_text
from tests.support.world import World

UK = "00442071234567"
MOBILE = "13800138000"
TONES = {"8001": 500.0, "8002": 700.0, "8003": 1100.0}
PROFILES = """
[class_of_service.profiles]
tours = ["internal", "local", "national", "mobile", "international"]
lobby = ["internal"]
"""


def make_box(tmp: Path, **ext: str) -> Box:
    """The default box (state in ``tmp``) with ``ext``: extension number -> TOML lines added to it."""
    text = default_config_text().replace('state_dir = "/var/lib/callbox"', f'state_dir = "{tmp / "state"}"')
    for number, lines in ext.items():
        text = text.replace(f'number = "{number}"\n', f'number = "{number}"\n{lines}\n', 1)
    cfg = tmp / "callbox.toml"
    cfg.write_text(text + PROFILES, encoding="utf-8")
    b = Box(cfg)
    b.features = ExtensionFeatures(b.engine)
    b.engine.calls.wall = lambda: 1_796_600_000.0 + b.world.tick * 0.02  # CDR times on the virtual clock
    b.run(0.2)
    return b


def co_calls(box: Box) -> list:
    """Every call the central office has seen on any line (placed by the box or to it)."""
    return [c for ln in box.world.co.lines.values() for c in ln.history]


def events(box: Box, kind: str) -> list[dict]:
    return [data for k, data in box.events if k == kind]


def assert_refusal_heard(box: Box, number: str, since: int) -> None:
    """Phone ``number`` hears congestion tone: 450 Hz, 0.7 s on / 0.7 s off."""
    heard = box.heard(number, since)
    assert tone_frequency(heard) == pytest.approx(450.0, abs=5)
    on, off = World.cadence_ms(heard)
    assert on == pytest.approx(700, abs=40) and off == pytest.approx(700, abs=40)


def co_line_with(box: Box, number: str):
    return next((ln for ln in box.world.co.lines.values() if ln.call and ln.call.number == number), None)


@pytest.mark.parametrize(("digits", "number", "cls"), [("900442071234567#", UK, "international"),
                                                       ("916812345#", "16812345", "premium")])
def test_an_international_or_premium_number_is_refused_by_default(tmp_path: Path, digits: str, number: str,
                                                                  cls: str) -> None:
    box = make_box(tmp_path)
    mark = box.world.tick
    dial(box, "8001", digits)
    box.run(4.0)
    assert_refusal_heard(box, "8001", mark + 50 * (len(digits) // 5 + 1))
    assert co_calls(box) == [] and all(not ln.hook_off for ln in box.world.co.lines.values())
    (cdr,) = box.cdrs()
    assert (cdr["direction"], cdr["dialled"], cdr["number_class"], cdr["paid_by"], cdr["denied"], cdr["cause"],
            cdr["disposition"]) == ("outbound", number, cls, "extension 8001", "class", 21, "FAILED")
    (denied,) = events(box, "call.denied")
    assert denied == {"call": cdr["id"], "number": number, "number_class": cls, "payer": "extension 8001",
                      "reason": "class", "extension": "8001"}


def test_an_extension_with_an_international_profile_reaches_the_co_with_audio_both_ways(tmp_path: Path) -> None:
    box = make_box(tmp_path, **{"8003": 'cos = "tours"'})
    box.world.co.scenarios[UK] = Scenario("answer", after_s=3.0)
    dial(box, "8003", f"9{UK}#")
    box.run_until(lambda: co_line_with(box, UK) is not None, 10, "the CO to receive the number")
    line = co_line_with(box, UK)
    box.run_until(lambda: any(c.answer for c in box.engine.calls.calls.values()), 15, "answer")
    line.party.tone(1000.0)
    box.world.phone("8003").mouth.tone(400.0)
    box.run(0.4)
    mark = box.world.tick
    box.run(1.0)
    assert tone_frequency(box.heard("8003", mark)) == pytest.approx(1000.0, rel=0.02)
    assert tone_frequency(line.recorder.heard(mark)[0]) == pytest.approx(400.0, rel=0.02)
    box.world.phone("8003").on_hook()
    box.run(1.0)
    (cdr,) = box.cdrs()
    assert (cdr["dialled"], cdr["number_class"], cdr["paid_by"], cdr["denied"], cdr["disposition"]) == (
        UK, "international", "extension 8003", None, "ANSWERED")


def test_a_forward_to_an_international_number_is_refused_when_set(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    mark = box.world.tick
    dial(box, "8002", f"*729{UK}#")
    box.run(3.0)
    assert_refusal_heard(box, "8002", mark + 50 * 4)
    assert box.features.settings.get("8002").forward_always == ""
    assert events(box, "call.denied")[0]["number_class"] == "international"


def test_the_forwarded_leg_s_cdr_shows_the_number_dialled_and_who_paid(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    box.world.co.scenarios[MOBILE] = Scenario("answer", after_s=3.0)
    dial(box, "8002", f"*729{MOBILE}#")  # a mobile: in the default class
    box.run(2.0)
    assert box.features.settings.get("8002").forward_always == f"9{MOBILE}"
    box.world.phone("8002").on_hook()
    dial(box, "8001", "8002")
    box.run_until(lambda: co_line_with(box, MOBILE) is not None, 10, "the forward to reach the CO")
    box.run_until(lambda: any(c.answer for c in box.engine.calls.calls.values()), 15, "answer")
    box.world.phone("8001").on_hook()
    box.run(1.0)
    (cdr,) = box.cdrs()  # called the extension, dialled the mobile, paid by the forwarding extension
    assert (cdr["caller"], cdr["called"], cdr["dialled"], cdr["number_class"], cdr["paid_by"], cdr["disposition"]) == (
        "8001", "8002", MOBILE, "mobile", "extension 8002", "ANSWERED")


def test_a_forward_refused_when_used_is_paid_by_the_forwarding_extension(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    box.features.settings.update("8002", forward_always=f"9{UK}")  # e.g. set before the class was narrowed
    mark = box.world.tick
    dial(box, "8001", "8002")
    box.run(3.0)
    assert_refusal_heard(box, "8001", mark + 75)
    assert co_calls(box) == []
    (cdr,) = box.cdrs()
    assert (cdr["called"], cdr["dialled"], cdr["paid_by"], cdr["denied"]) == ("8002", UK, "extension 8002", "class")
    assert events(box, "call.forwarded")[0]["to"] == f"9{UK}"


@pytest.mark.parametrize("digits", ["110", "9110#"])
def test_emergency_goes_out_from_a_locked_extension(tmp_path: Path, digits: str) -> None:
    box = make_box(tmp_path, **{"8001": 'cos = "lobby"'})
    mark = box.world.tick
    dial(box, "8001", "912301#")  # a local number: refused on the lobby phone
    box.run(2.0)
    assert_refusal_heard(box, "8001", mark + 100)
    box.world.phone("8001").on_hook()
    box.run(1.0)
    dial(box, "8001", digits)
    box.run_until(lambda: co_line_with(box, "110") is not None, 10, "the CO to receive 110")
    assert [c for c in box.cdrs() if c["dialled"] == "110"] == []  # still in progress
    (call,) = box.engine.calls.calls.values()
    assert (call.dialled, call.number_class, call.denied) == ("110", "emergency", None)


def test_click_to_dial_abroad_is_refused_with_a_cdr_and_no_ring(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    with pytest.raises(PermissionError, match="international.*extension 8001"):
        box.engine.calls.click_to_dial("8001", UK, Payer("api", "integrator"))
    box.run(1.0)
    assert not box.world.phone("8001").ringing and co_calls(box) == []
    (cdr,) = box.cdrs()
    assert (cdr["dialled"], cdr["denied"], cdr["number_class"], cdr["cause"]) == (UK, "class", "international", 21)


def test_click_to_dial_needs_the_api_role_s_class_too(tmp_path: Path) -> None:
    box = make_box(tmp_path, **{"8003": 'cos = "tours"'})
    with pytest.raises(PermissionError, match="api integrator"):
        box.engine.calls.click_to_dial("8003", UK, Payer("api", "integrator"))
    cos = dataclasses.replace(box.config.cos, api=(("integrator", ("tours",)),))
    box.engine.apply_config(dataclasses.replace(box.config, cos=cos))  # config.set does the same
    call = box.engine.calls.click_to_dial("8003", UK, Payer("api", "integrator"))
    box.run_until(lambda: box.world.phone("8003").ringing, 5, "8003 ringing")
    assert call.dialled == UK and call.denied is None


def test_a_blind_transfer_of_the_held_party_abroad_is_refused(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    connect(box, "8001", "8002")
    box.world.phone("8002").flash()
    box.run(1.0)
    mark = box.world.tick
    dial(box, "8002", f"*109{UK}#")
    box.run(3.0)
    assert_refusal_heard(box, "8002", mark + 50 * 4)
    assert co_calls(box) == []
    box.world.phone("8002").flash()  # back to the held party
    box.run(1.0)
    talk(box, TONES, "8001", "8002")
    assert listen(box, TONES, "8001", "8002") == {"8001": {"8002"}, "8002": {"8001"}}


def test_the_daily_cap_blocks_further_outside_calls_but_not_emergency(tmp_path: Path) -> None:
    box = make_box(tmp_path, **{"8004": "daily_minutes = 1"})
    box.world.co.scenarios[MOBILE] = Scenario("answer", after_s=3.0)
    dial(box, "8004", f"9{MOBILE}#")
    box.run_until(lambda: any(c.answer for c in box.engine.calls.calls.values()), 15, "answer")
    box.run(61.0)
    box.world.phone("8004").on_hook()
    box.run(1.0)
    (alarm,) = events(box, "alarm.raised")
    assert alarm["alarm"] == CAP_ALARM and alarm["extension"] == "8004" and alarm["minutes"] >= 1.0
    assert box.engine.calls.cos.alarms() == ["8004"]
    mark = box.world.tick
    dial(box, "8004", f"9{MOBILE}#")
    box.run(3.0)
    assert_refusal_heard(box, "8004", mark + 150)
    assert box.cdrs()[-1]["denied"] == "daily_cap" and len(co_calls(box)) == 1
    box.world.phone("8004").on_hook()
    box.run(1.0)
    dial(box, "8004", "120")
    box.run_until(lambda: co_line_with(box, "120") is not None, 10, "the CO to receive 120")


def test_a_consultation_abroad_after_a_flash_is_refused_and_the_held_party_comes_back(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    connect(box, "8001", "8002")
    box.world.phone("8002").flash()
    box.run(1.0)
    mark = box.world.tick
    dial(box, "8002", f"9{UK}#")
    box.run(3.0)
    assert_refusal_heard(box, "8002", mark + 50 * 4)
    assert co_calls(box) == []
    (cdr,) = box.cdrs()  # the consultation's
    assert (cdr["caller"], cdr["dialled"], cdr["paid_by"], cdr["denied"]) == ("8002", UK, "extension 8002", "class")
    box.world.phone("8002").flash()  # back to the held party
    box.run(1.0)
    talk(box, TONES, "8001", "8002")
    assert listen(box, TONES, "8001", "8002") == {"8001": {"8002"}, "8002": {"8001"}}
