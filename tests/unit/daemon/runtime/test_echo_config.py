"""Which channels cancel line echo follows the configuration: every [[line]] and [[extension]] by default,
a [[trunk]] that asks; and a changed ``echo_cancel`` or ``[echo]`` applies at once (``apply_config``)."""

from __future__ import annotations

from daemon.config.model import load_config
from tests.support.inprocess import Box
from tests.support.processes import edit_config


def test_analog_ports_cancel_by_default_and_a_changed_config_applies_at_once() -> None:
    box = Box()
    engine, media = box.engine, box.engine.media
    analog = sorted(engine.channel(p.port) for p in (*box.config.lines, *box.config.extensions))
    assert media.echo_channels == analog
    assert media.echo is not None and media.echo.tail_ms == 32.0
    path = edit_config(box.tmp / "callbox.toml", line={"echo_cancel": False}, echo={"tail_ms": 64})
    engine.apply_config(load_config(path))
    assert media.echo_channels == sorted(engine.channel(e.port) for e in box.config.extensions)
    assert media.echo.tail_ms == 64.0
