"""Pickup, forwarding, do-not-disturb and call waiting on the whole box in one process (virtual clock),
with what each party hears measured (each phone sends its own tone)."""

from __future__ import annotations

from pathlib import Path

import lmdb
import pytest

from daemon.config.model import ConfigError, load_config
from daemon.features.extension import MAX_FORWARDS, ExtensionFeatures
from daemon.features.settings import SettingsStore
from tests.support.audio import tone_frequency
from tests.support.inprocess import Box
from tests.support.phones import dial, listen, talk
from tests.support.processes import default_config_text
from tests.support.tone_levels import level_at
from tests.support.world import World

TONES = {"8001": 500.0, "8002": 700.0, "8003": 1100.0, "8004": 1300.0, "8005": 1700.0}
GROUPS = {"8001": "sales", "8002": "sales", "8003": "sales", "8004": "", "8005": ""}


def config_text(tmp: Path) -> str:
    text = default_config_text().replace('state_dir = "/var/lib/callbox"', f'state_dir = "{tmp / "state"}"')
    for number, group in GROUPS.items():
        if group:
            text = text.replace(f'number = "{number}"\n', f'number = "{number}"\npickup_group = "{group}"\n', 1)
    return text


@pytest.fixture
def box(tmp_path: Path) -> Box:
    cfg = tmp_path / "callbox.toml"
    cfg.write_text(config_text(tmp_path), encoding="utf-8")
    b = Box(cfg)
    b.features = ExtensionFeatures(b.engine)
    b.run(0.2)
    return b


def ph(box: Box, number: str):
    return box.world.phone(number)


# --- pickup ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("picker, code", [("8002", "*#"), ("8005", "*8001#")], ids=["group", "directed"])
def test_pickup_answers_in_place_of_the_ringing_extension(box: Box, picker: str, code: str) -> None:
    dial(box, "8004", "8001")
    box.run_until(lambda: ph(box, "8001").ringing, 5, "8001 ringing")
    dial(box, picker, code)  # 8002: in 8001's pickup group; 8005 (no group) names 8001
    box.run(1.0)
    talk(box, TONES, "8004", picker)
    assert listen(box, TONES, "8004", picker) == {"8004": {picker}, picker: {"8004"}}
    box.run(6.0)
    assert not ph(box, "8001").ringing and box.engine.is_free("2/1")
    (call,) = box.engine.calls.calls.values()
    assert call.b is not None and call.b.label == picker and call.answer is not None


def test_group_pickup_outside_the_group_is_refused(box: Box) -> None:
    dial(box, "8004", "8001")
    box.run_until(lambda: ph(box, "8001").ringing, 5, "8001 ringing")
    dial(box, "8005", "*#")  # 8005 has no pickup group
    box.run(1.5)
    heard = box.heard("8005", box.world.tick - 75)
    assert tone_frequency(heard) == pytest.approx(450.0, rel=0.02)
    assert World.cadence_ms(heard) == pytest.approx((700, 700), abs=60)  # congestion
    (call,) = box.engine.calls.calls.values()
    assert call.b is not None and call.b.label == "8001" and call.answer is None
    assert not [c for c in box.cdrs() if c["src"] == "8005"]  # a refused code has no CDR (a bad number has)


def test_group_pickup_takes_the_call_ringing_longest(box: Box) -> None:
    dial(box, "8004", "8001")
    box.run_until(lambda: ph(box, "8001").ringing, 5, "8001 ringing")
    box.run(1.0)
    dial(box, "8005", "8003")
    box.run_until(lambda: ph(box, "8003").ringing, 5, "8003 ringing")
    dial(box, "8002", "*#")  # 8001 and 8003 both ring in 8002's group: 8001's call is older
    box.run(1.0)
    talk(box, TONES, "8004", "8005", "8002")
    heard = listen(box, TONES, "8004", "8002")
    assert heard == {"8004": {"8002"}, "8002": {"8004"}}


def test_without_a_pickup_group_no_group_pickup(box: Box) -> None:
    """8005 and 8004 have no pickup group: that is not one group of the two."""
    dial(box, "8001", "8004")
    box.run_until(lambda: ph(box, "8004").ringing, 5, "8004 ringing")
    dial(box, "8005", "*#")
    box.run(2.5)
    heard = box.heard("8005", box.world.tick - 100)
    assert World.cadence_ms(heard) == pytest.approx((700, 700), abs=60)  # congestion
    (call,) = box.engine.calls.calls.values()
    assert call.b is not None and call.b.label == "8004" and call.answer is None


def test_pickup_group_config_errors_name_key_and_line(tmp_path: Path) -> None:
    text = config_text(tmp_path).replace('pickup_group = "sales"', 'pickup_group = "sales team"', 1)
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "sales team" in ln)
    assert exc.value.key == "extension[0].pickup_group" and exc.value.line == line
    assert str(cfg) in str(exc.value)


# --- forwarding and DND ---------------------------------------------------------------------------------


def confirm(box: Box, number: str, code: str) -> None:
    dial(box, number, code)
    mark = box.world.tick
    box.run(1.2)
    heard = box.heard(number, mark)
    assert tone_frequency(heard) == pytest.approx(450.0, rel=0.02)
    on, off = World.cadence_ms(heard)
    assert on > 300 and off < 100, "stutter tone confirms the code"
    ph(box, number).on_hook()
    box.run(1.0)


def test_forward_always_then_cancel(box: Box) -> None:
    confirm(box, "8002", "*728003#")
    assert box.features.settings.get("8002").forward_always == "8003"
    dial(box, "8001", "8002")
    box.run_until(lambda: ph(box, "8003").ringing, 5, "8003 ringing in place of 8002")
    assert not ph(box, "8002").ringing
    ph(box, "8003").off_hook()
    box.run(0.5)
    talk(box, TONES, "8001", "8003")
    assert listen(box, TONES, "8001", "8003") == {"8001": {"8003"}, "8003": {"8001"}}
    ph(box, "8001").on_hook()
    ph(box, "8003").on_hook()
    box.run(1.5)
    confirm(box, "8002", "*73")
    dial(box, "8001", "8002")
    box.run_until(lambda: ph(box, "8002").ringing, 5, "8002 ringing again")


def test_a_forward_always_loop_ends_in_busy(box: Box) -> None:
    confirm(box, "8002", "*728003#")
    confirm(box, "8003", "*728002#")
    dial(box, "8001", "8002")
    mark = box.world.tick
    box.run(1.5)
    heard = box.heard("8001", mark)
    assert tone_frequency(heard) == pytest.approx(450.0, rel=0.02)
    assert World.cadence_ms(heard) == pytest.approx((350, 350), abs=60)  # busy
    assert not ph(box, "8002").ringing and not ph(box, "8003").ringing
    assert box.engine.is_free("2/2") and box.engine.is_free("2/3")
    forwards = [ev for kind, ev in box.events if kind == "call.forwarded"]
    assert len(forwards) == MAX_FORWARDS and [ev["to"] for ev in forwards[:2]] == ["8003", "8002"]
    (cdr,) = [c for c in box.cdrs() if c["src"] == "8001"]
    assert cdr["disposition"] == "BUSY" and cdr["called"] == "8002"


def test_forward_busy(box: Box) -> None:
    confirm(box, "8002", "*908003#")
    ph(box, "8002").off_hook()  # busy
    box.run(0.5)
    dial(box, "8001", "8002")
    box.run_until(lambda: ph(box, "8003").ringing, 5, "8003 ringing")
    ph(box, "8003").off_hook()
    box.run(0.5)
    talk(box, TONES, "8001", "8003", "8002")
    assert listen(box, TONES, "8001", "8003") == {"8001": {"8003"}, "8003": {"8001"}}


def test_forward_reason_says_busy_or_dnd_and_no_forward_to_itself(box: Box) -> None:
    confirm(box, "8002", "*908003#")
    ph(box, "8002").off_hook()
    box.run(0.5)
    dial(box, "8001", "8002")
    box.run_until(lambda: ph(box, "8003").ringing, 5, "8003 ringing (8002 busy)")
    for n in ("8001", "8002"):
        ph(box, n).on_hook()
    box.run(1.5)
    confirm(box, "8002", "*78")
    dial(box, "8001", "8002")
    box.run_until(lambda: ph(box, "8003").ringing, 5, "8003 ringing (8002 on DND)")
    reasons = [ev["reason"] for kind, ev in box.events if kind == "call.forwarded"]
    assert reasons == ["busy", "dnd"]
    ph(box, "8001").on_hook()
    box.run(1.5)
    dial(box, "8004", "*728004#")  # forward always to itself: refused with congestion, nothing stored
    box.run(2.5)
    heard = box.heard("8004", box.world.tick - 100)
    assert World.cadence_ms(heard) == pytest.approx((700, 700), abs=60)
    assert box.features.settings.get("8004").forward_always == ""


def test_forward_on_no_answer(box: Box) -> None:
    confirm(box, "8002", "*928003#")
    dial(box, "8001", "8002")
    box.run_until(lambda: ph(box, "8002").ringing, 5, "8002 ringing")
    box.run_until(lambda: ph(box, "8003").ringing, 40, "8003 ringing after the no-answer time")
    assert box.engine.is_free("2/2")
    ph(box, "8003").off_hook()
    box.run(0.5)
    talk(box, TONES, "8001", "8003")
    assert listen(box, TONES, "8001", "8003") == {"8001": {"8003"}, "8003": {"8001"}}


def test_do_not_disturb(box: Box) -> None:
    confirm(box, "8002", "*78")
    dial(box, "8001", "8002")
    mark = box.world.tick
    box.run(1.5)
    heard = box.heard("8001", mark)
    assert tone_frequency(heard) == pytest.approx(450.0, rel=0.02)
    assert World.cadence_ms(heard) == pytest.approx((350, 350), abs=60)  # busy
    assert not ph(box, "8002").ringing and box.engine.is_free("2/2")
    # inbound hunting skips it: 8001 (first in the hunt) is still off hook, 8002 is next, 8003 rings
    box.world.co.call("1/2", "13800138000")
    box.run_until(lambda: ph(box, "8003").ringing, 8, "8003 ringing, past 8002")
    assert not ph(box, "8002").ringing
    for n in ("8001", "8003"):
        if ph(box, n).ringing:
            ph(box, n).off_hook()
    box.world.co.line("1/2").hangup()
    box.run(2.0)
    for n in ("8001", "8003"):
        ph(box, n).on_hook()
    box.run(1.0)
    confirm(box, "8002", "*79")
    dial(box, "8001", "8002")
    box.run_until(lambda: ph(box, "8002").ringing, 5, "8002 rings once DND is off")


def test_settings_persist_in_lmdb(tmp_path: Path) -> None:
    env = lmdb.open(str(tmp_path / "db"), max_dbs=4)
    store = SettingsStore(env)
    store.update("8002", forward_busy="98001234", dnd=True)
    env.close()
    env = lmdb.open(str(tmp_path / "db"), max_dbs=4)
    again = SettingsStore(env)
    assert again.get("8002").forward_busy == "98001234" and again.get("8002").dnd
    assert again.get("8003").forward_busy == ""


# --- call waiting ---------------------------------------------------------------------------------------


def test_call_waiting_tone_flash_answers_and_swaps(box: Box) -> None:
    dial(box, "8001", "8002")
    box.run_until(lambda: ph(box, "8002").ringing, 5, "8002 ringing")
    ph(box, "8002").off_hook()
    box.run(0.5)
    talk(box, TONES, "8001", "8002")
    dial(box, "8003", "8002")  # a second call for 8002
    box.run(0.5)
    talk(box, TONES, "8003")
    mark = box.world.tick
    box.run(4.4)
    heard = box.heard("8002", mark)
    bursts = [level_at(heard[i:i + 2400], 450.0) for i in range(0, len(heard) - 2400, 400)]
    assert max(bursts) > -18, "a call-waiting tone burst (-13 dBm0, 400 ms in 4.4 s)"
    assert sum(b > -18 for b in bursts) < len(bursts) / 4, "only a burst, not a continuous tone"
    assert level_at(heard, TONES["8001"]) > -15, "the first caller is still heard"
    assert level_at(heard, TONES["8003"]) < -40
    assert listen(box, TONES, "8003")["8003"] == set()  # hears only ringback
    ringback = box.heard("8003", mark)
    assert tone_frequency(ringback) == pytest.approx(450.0, rel=0.02) and level_at(ringback, 450.0) > -25
    ph(box, "8002").flash()
    box.run(0.6)
    talk(box, TONES, "8002")
    assert listen(box, TONES, "8001", "8002", "8003") == {"8001": set(), "8002": {"8003"}, "8003": {"8002"}}
    ph(box, "8002").flash()  # swap back
    box.run(0.6)
    assert listen(box, TONES, "8001", "8002", "8003") == {"8001": {"8002"}, "8002": {"8001"}, "8003": set()}
    ph(box, "8002").on_hook()  # 8001's call ends; 8003 (held) rings back
    box.run_until(lambda: ph(box, "8002").ringing, 5, "recall of the held call")
    ph(box, "8002").off_hook()
    box.run(0.5)
    talk(box, TONES, "8002")
    assert listen(box, TONES, "8002", "8003") == {"8002": {"8003"}, "8003": {"8002"}}


def test_waiting_call_unanswered_gets_busy(box: Box) -> None:
    dial(box, "8001", "8002")
    box.run_until(lambda: ph(box, "8002").ringing, 5, "8002 ringing")
    ph(box, "8002").off_hook()
    box.run(0.5)
    dial(box, "8003", "8002")
    box.run(31.0)
    heard = box.heard("8003", box.world.tick - 100)
    assert tone_frequency(heard) == pytest.approx(450.0, rel=0.02)
    assert World.cadence_ms(heard) == pytest.approx((350, 350), abs=60)  # busy
    assert 2 not in box.engine.media.overlays and not box.features.waiting
    talk(box, TONES, "8001", "8002")
    assert listen(box, TONES, "8001", "8002") == {"8001": {"8002"}, "8002": {"8001"}}


def test_waiting_caller_hangs_up_and_the_tone_stops(box: Box) -> None:
    dial(box, "8001", "8002")
    box.run_until(lambda: ph(box, "8002").ringing, 5, "8002 ringing")
    ph(box, "8002").off_hook()
    box.run(0.5)
    dial(box, "8003", "8002")
    box.run(1.0)
    assert box.features.waiting
    ph(box, "8003").on_hook()
    box.run(1.0)
    mark = box.world.tick
    box.run(9.0)  # two call-waiting cycles (400 ms on, 4 s off) if the tone went on
    heard = box.heard("8002", mark)
    assert max(level_at(heard[i:i + 2400], 450.0) for i in range(0, len(heard) - 2400, 400)) < -35
    assert not box.features.waiting and 2 not in box.engine.media.overlays
    talk(box, TONES, "8001", "8002")
    assert listen(box, TONES, "8001", "8002") == {"8001": {"8002"}, "8002": {"8001"}}


def test_one_waiting_call_per_extension(box: Box) -> None:
    dial(box, "8001", "8002")
    box.run_until(lambda: ph(box, "8002").ringing, 5, "8002 ringing")
    ph(box, "8002").off_hook()
    box.run(0.5)
    dial(box, "8003", "8002")  # waits
    dial(box, "8004", "8002")  # a second one does not: busy
    box.run(2.5)
    heard = box.heard("8004", box.world.tick - 100)
    assert World.cadence_ms(heard) == pytest.approx((350, 350), abs=60)
    assert [c.a.label for c in box.features.waiting.values()] == ["8003"]
