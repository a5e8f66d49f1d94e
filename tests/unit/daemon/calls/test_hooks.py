"""Call control's hook interface (``daemon.calls.hooks``) on the whole box in one process (virtual clock):
every bridge listener is told (a second one no longer replaces the recorder), listeners are asked in
priority order with the first answer winning, and the daemon's own parts sit in the documented order."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.acd.host import AcdService
from daemon.api.server import ApiServer
from daemon.calls.hooks import CallListener, Priority
from daemon.calls.model import Call
from daemon.features.extension import ExtensionFeatures
from daemon.features.flash import FlashFeatures
from daemon.features.supervisor import Supervisors
from daemon.flows.ivr_calls import IvrService
from daemon.recording.host import Recording, recorder_config
from recorder import Recorder
from signaling.events import CallEvent, HookFlash
from tests.support.inprocess import Box
from tests.support.phones import connect

A, X = "8001", "8002"


class Bridges(CallListener):
    """Notes every bridge and unbridge it is told of."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def bridged(self, call: Call) -> None:
        self.seen.append(("bridged", call.id))

    def unbridged(self, call: Call) -> None:
        self.seen.append(("unbridged", call.id))


class Flashes(CallListener):
    """Notes the hook flashes it is asked about (in ``asked``, shared), and takes them if ``takes``."""

    def __init__(self, name: str, asked: list[str], takes: bool) -> None:
        self.name, self.asked, self.takes = name, asked, takes

    def intercept(self, ev: CallEvent) -> bool:
        if not isinstance(ev, HookFlash):
            return False
        self.asked.append(self.name)
        return self.takes


@pytest.fixture
def box(box: Box) -> Box:
    """The shared box (tests/conftest.py) with the extension features the daemon starts."""
    ExtensionFeatures(box.engine)
    return box


def test_a_second_bridge_listener_does_not_replace_the_recorder(box: Box, tmp_path: Path) -> None:
    rec = Recording(box.engine, ApiServer(str(tmp_path / "api.sock"), {}), Recorder(recorder_config(box.config)))
    try:
        second = Bridges()
        box.engine.calls.add_listener(second, Priority.RECORDING)  # registered after the recorder, same priority
        connect(box, A, X)
        (call,) = box.engine.calls.calls.values()
        assert rec.recorder.recording(call.id), "the recorder was told of the bridge too"
        assert second.seen == [("bridged", call.id)]
        box.world.phone(A).on_hook()
        box.run(1.0)
        assert not rec.recorder.recording(call.id)
        assert second.seen == [("bridged", call.id), ("unbridged", call.id)]
    finally:
        rec.close_sync()


def test_listeners_are_asked_in_priority_order_and_the_first_answer_wins(box: Box) -> None:
    cc = box.engine.calls
    asked: list[str] = []
    # registered out of order; "late" comes after the hook-flash sessions, so never sees a flash they take
    cc.add_listener(Flashes("late", asked, takes=True), Priority.HOOK_FLASH + 1)
    cc.add_listener(Flashes("second", asked, takes=False), Priority.SUPERVISION + 1)
    cc.add_listener(Flashes("first", asked, takes=False), Priority.SUPERVISION - 1)
    connect(box, A, X)
    box.world.phone(X).flash()
    box.run(0.6)
    assert asked == ["first", "second"]
    assert box.engine.calls.holds_party(box.config.extension_by_number(X).port), "the flash held the call"


def test_a_listener_before_hook_flash_takes_the_flash(box: Box) -> None:
    cc = box.engine.calls
    asked: list[str] = []
    cc.add_listener(Flashes("early", asked, takes=True), Priority.HOOK_FLASH - 1)
    connect(box, A, X)
    box.world.phone(X).flash()
    box.run(0.6)
    assert asked == ["early"]
    assert not cc.holds_party(box.config.extension_by_number(X).port), "the hook-flash sessions never saw it"
    (call,) = cc.calls.values()
    assert call.answer is not None and call.end is None


def test_the_daemons_parts_listen_in_the_documented_order(tmp_path: Path) -> None:
    box = Box(acd=True)  # IVR and ACD first, then recording and the extension features: priority sets the order
    rec = Recording(box.engine, ApiServer(str(tmp_path / "api.sock"), {}), Recorder(recorder_config(box.config)))
    ExtensionFeatures(box.engine)
    try:
        kinds = [type(listener) for listener in box.engine.calls.listeners]
        assert kinds == [Supervisors, ExtensionFeatures, FlashFeatures, AcdService, IvrService, Recording]
        assert box.engine.calls.queues is box.acd and box.engine.calls.flows is box.ivr
        assert list(Priority) == sorted(Priority)  # supervision, extension features, hook-flash, ACD, IVR, recording
        assert [p.name for p in Priority] == ["SUPERVISION", "EXTENSION_FEATURES", "HOOK_FLASH", "ACD", "IVR",
                                              "RECORDING"]
        with pytest.raises(ValueError):
            box.engine.calls.add_listener(rec, Priority.RECORDING)  # once only
        box.engine.calls.remove_listener(rec)
        assert [type(listener) for listener in box.engine.calls.listeners][-1] is IvrService
    finally:
        rec.close_sync()
