"""Class of service against the running daemon and the simulated exchange: an extension dialling abroad
hears congestion and no line is seized (the central office sees no call); an extension given an
international profile gets through with audio both ways; *72 to an international number is refused;
click-to-dial abroad is forbidden; 110 goes out even from a phone locked to internal calls. Each refusal
leaves a CDR (the number dialled, its class, who pays), an audit row and a call.denied event."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.api.client import ApiClient
from daemon.api.protocol import ApiError
from tests.conftest import e2e_config, running
from tests.support.audio import tone_frequency
from tests.support.processes import DaemonProcess, SimProcess, wait_for
from tests.support.world import World

UK = "00442071234567"
CRM_TOKEN = "crm-7f3a9c2e51d8"  # a token with a class of service of its own


@pytest.fixture
def box(tmp_path: Path, sim: SimProcess) -> Iterator[DaemonProcess]:
    """The e2e config: 8003 may call abroad (profile "tours"), 8004 is a lobby phone (internal only), 8005
    may talk outside for 3 seconds a day."""
    cfg = e2e_config(tmp_path)
    text = cfg.read_text(encoding="utf-8")
    text = text.replace('number = "8003"\n', 'number = "8003"\ncos = "tours"\n', 1)
    text = text.replace('number = "8004"\n', 'number = "8004"\ncos = "internal"\n', 1)
    text = text.replace('number = "8005"\n', 'number = "8005"\ndaily_minutes = 0.05\n', 1)  # 3 seconds
    cfg.write_text(text + '\n[class_of_service.profiles]\ntours = ["internal", "local", "national", "mobile", '
                          '"international"]\n\n[api.tokens]\n'
                   f'"{CRM_TOKEN}" = {{ grant = "integrator", cos = "tours", name = "crm" }}\n', encoding="utf-8")
    yield from running(DaemonProcess(tmp_path, sim, cfg))


@pytest.fixture
def events(box: DaemonProcess) -> Iterator[ApiClient]:
    with ApiClient(str(box.api_socket)) as client:
        client.call("subscribe", kinds=["call.denied"])
        yield client


def no_call_at_the_co(w: World) -> bool:
    return all(st["call"] is None and st["hook"] == "on" for st in w.co_state()["lines"].values())


def hears_congestion(alaw: bytes) -> None:
    """Congestion tone: 450 Hz, 0.7 s on / 0.7 s off (measured)."""
    assert tone_frequency(alaw) == pytest.approx(450.0, abs=5)
    on, off = World.cadence_ms(alaw)
    assert on == pytest.approx(700, abs=60) and off == pytest.approx(700, abs=60)


def test_dialling_abroad_is_refused_with_congestion_and_no_line_seized(box: DaemonProcess,
                                                                      events: ApiClient) -> None:
    w = World(box.sim)
    phone = w.phone("8001")
    phone.lift()
    phone.dial(f"9{UK}#")
    denied = events.next_event("call.denied", timeout=15)
    assert (denied["number"], denied["number_class"], denied["payer"], denied["reason"]) == (
        UK, "international", "extension 8001", "class")
    hears_congestion(w.listen(phone.heard, 3.2))
    assert no_call_at_the_co(w)
    phone.on_hook()
    (cdr,) = wait_for(lambda: box.api.call("cdr.list"), 5, "the CDR")
    assert (cdr["dialled"], cdr["number_class"], cdr["paid_by"], cdr["denied"], cdr["disposition"]) == (
        UK, "international", "extension 8001", "class", "FAILED")
    audit = [a for a in box.api.call("audit.list") if a["op"] == "call.denied"]
    assert audit and audit[0]["who"] == "extension 8001" and audit[0]["args"]["number"] == UK
    csv = box.api.call("cdr.export_csv")["csv"].decode("utf-8-sig").splitlines()
    header, row = csv[0].split(","), csv[1].split(",")
    assert row[header.index("dialled")] == UK and row[header.index("denied")] == "class"


def test_an_international_profile_reaches_the_co_with_audio_both_ways(box: DaemonProcess) -> None:
    w = World(box.sim)
    w.co_scenario(UK, "answer", after_s=1.0)
    phone = w.phone("8003")
    phone.lift()
    phone.dial(f"9{UK}#")
    line = wait_for(lambda: w.co_line_with_digits(UK), 15, "the CO to receive the number")
    wait_for(lambda: any(c.get("answer") for c in box.api.call("calls")), 15, "answer")
    at_phone, at_line = w.tones_both_ways(phone, line)
    assert at_phone == pytest.approx(1000.0, rel=0.02) and at_line == pytest.approx(600.0, rel=0.02)
    phone.on_hook()
    (cdr,) = wait_for(lambda: box.api.call("cdr.list"), 5, "the CDR")
    assert (cdr["dialled"], cdr["number_class"], cdr["paid_by"], cdr["denied"]) == (
        UK, "international", "extension 8003", None)


def test_forwarding_to_an_international_number_is_refused(box: DaemonProcess, events: ApiClient) -> None:
    w = World(box.sim)
    phone = w.phone("8002")
    phone.lift()
    phone.dial(f"*729{UK}#")
    assert events.next_event("call.denied", timeout=10)["extension"] == "8002"
    hears_congestion(w.listen(phone.heard, 3.2))
    phone.on_hook()
    time.sleep(0.5)
    caller, callee = w.internal_call("8001", "8002", box.api)  # not forwarded: 8002 itself rings
    assert no_call_at_the_co(w)
    caller.on_hook()
    callee.on_hook()


def test_click_to_dial_abroad_is_forbidden(box: DaemonProcess) -> None:
    w = World(box.sim)
    with pytest.raises(ApiError) as err:
        box.api.call("call.dial", extension="8001", number=UK)
    assert err.value.code == "forbidden" and "international" in err.value.message
    with pytest.raises(ApiError) as err:  # 8003 may call abroad, but not through this API role
        box.api.call("call.dial", extension="8003", number=UK)
    assert err.value.code == "forbidden" and "api admin" in err.value.message
    time.sleep(1.0)
    assert not w.phone("8001").state()["ringing"] and not w.phone("8003").state()["ringing"]
    assert no_call_at_the_co(w)
    cdrs = wait_for(lambda: box.api.call("cdr.list"), 5, "the CDRs")
    assert sorted((c["src"], c["denied"], c["dialled"]) for c in cdrs) == [("8001", "class", UK),
                                                                          ("8003", "class", UK)]


def test_a_token_with_its_own_class_may_click_to_dial_abroad_from_an_extension_that_may(box: DaemonProcess) -> None:
    w = World(box.sim)
    with ApiClient(str(box.api_socket)) as crm:
        crm.call("auth", token=CRM_TOKEN)
        crm.call("call.dial", extension="8003", number=UK)  # the token's class replaces its role's
        wait_for(lambda: w.phone("8003").state()["ringing"], 7, "8003 rung for the CRM's call abroad")
        with pytest.raises(ApiError) as err:  # the extension pays: its own class still has to allow it
            crm.call("call.dial", extension="8001", number=UK)
        assert err.value.code == "forbidden" and "extension 8001" in err.value.message
    with pytest.raises(ApiError) as err:  # the same request without the token: the role's class (admin: default)
        box.api.call("call.dial", extension="8004", number=UK)
    assert err.value.code == "forbidden"
    assert CRM_TOKEN not in box.log_text()
    assert all(CRM_TOKEN not in str(row) for row in box.api.call("audit.list"))


def test_110_goes_out_from_a_phone_locked_to_internal_calls(box: DaemonProcess) -> None:
    w = World(box.sim)
    phone = w.phone("8004")
    phone.lift()
    phone.dial("110")
    wait_for(lambda: w.co_line_with_digits("110"), 15, "the CO to receive 110")
    phone.on_hook()
    (cdr,) = wait_for(lambda: box.api.call("cdr.list"), 10, "the CDR")
    assert (cdr["dialled"], cdr["number_class"], cdr["denied"]) == ("110", "emergency", None)


def test_the_daily_cap_blocks_alarms_and_survives_a_restart(box: DaemonProcess, events: ApiClient) -> None:
    w = World(box.sim)
    w.co_scenario("12301", "answer", after_s=1.0)
    events.call("subscribe", kinds=["call.denied", "alarm."])
    phone = w.phone("8005")
    phone.lift()
    phone.dial("912301#")
    wait_for(lambda: any(c.get("answer") for c in box.api.call("calls")), 15, "answer")
    time.sleep(3.5)
    phone.on_hook()
    alarm = events.next_event("alarm.raised", timeout=10)
    assert (alarm["alarm"], alarm["extension"], alarm["cap"]) == ("DAILY_CAP", "8005", 0.05)
    assert box.api.call("status")["cap_alarms"] == ["8005"]
    wait_for(lambda: any("daily cap: 8005" in n for n in box.read_notices()), 5, "STATUS= naming the capped extension")
    box.kill9()
    box.start()  # the day's minutes are counted again from the CDRs
    phone.lift()
    phone.dial("912301#")
    hears_congestion(w.listen(phone.heard, 2.5, after=1.0))
    phone.on_hook()
    cdrs = wait_for(lambda: [c for c in box.api.call("cdr.list") if c.get("denied")], 5, "the refused call's CDR")
    assert cdrs[0]["denied"] == "daily_cap" and cdrs[0]["paid_by"] == "extension 8005"
    assert box.api.call("status")["cap_alarms"] == ["8005"]
    time.sleep(1.0)  # on hook longer than a hook flash
    phone.lift()
    phone.dial("119")  # emergency still goes out
    wait_for(lambda: w.co_line_with_digits("119"), 15, "the CO to receive 119")
    phone.on_hook()
