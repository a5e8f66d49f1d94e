"""Which line machine runs on each configured port, with which settings: the one place that knows the
kinds of line. The engine builds and re-configures machines from ``line_machines`` and drives them only
through ``signaling.machine.PortMachine``; a new kind of line (SS7 circuits) adds its rows here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from daemon.config.model import Config
from signaling.analog.fxo import FxoConfig, FxoLine
from signaling.analog.fxs import FxsConfig, FxsLine
from signaling.machine import PortMachine
from signaling.no1.trunk import No1Trunk, TrunkConfig
from signaling.no1.variant import DEFAULT_VARIANT, VARIANTS


@dataclass(frozen=True)
class LineSetup:
    """A configured port's machine: its class and the settings it is built (or re-configured) with."""

    port: str
    kind: type[PortMachine]
    config: Any

    def build(self) -> PortMachine:
        return self.kind(self.port, self.config)


def line_machines(config: Config) -> Iterator[LineSetup]:
    """Every configured line: extensions (FXS), CO lines (FXO), No.1 trunk timeslots."""
    for ext in config.extensions:
        yield LineSetup(ext.port, FxsLine, FxsConfig(
            flash_min_ms=ext.flash_min_ms, flash_max_ms=ext.flash_max_ms, callerid=ext.callerid,
            disconnect=ext.disconnect, busy_tone_s=config.dialplan.busy_tone_s))
    for line in config.lines:
        yield LineSetup(line.port, FxoLine, FxoConfig(
            callerid=line.callerid, disconnect_busy="busy" in line.disconnect,
            disconnect_loop_current="loop_current" in line.disconnect,
            disconnect_polarity="polarity" in line.disconnect, answer_detect=line.answer_detect))
    for trunk in config.trunks:
        tcfg = no1_trunk_config(trunk)
        for pid in trunk.ports():
            yield LineSetup(pid, No1Trunk, tcfg)


def no1_trunk_config(trunk: Any) -> TrunkConfig:
    """The signalling settings of a configured ``[[trunk]]`` (``daemon.config.model.No1TrunkConfig``)."""
    timers = dict(trunk.timers)
    timers.setdefault("T_END_OF_DNIS", trunk.dnis_timeout_s)
    variant = VARIANTS[trunk.variant].with_overrides(timers=timers, ka=trunk.ka, kd=trunk.kd)
    return TrunkConfig(variant=variant, direction=trunk.direction, dnis_length=trunk.dnis_length, ani=trunk.ani,
                       ani_after_digits=trunk.ani_after_digits, max_ani=trunk.max_ani, accept=trunk.accept,
                       glare=trunk.glare, mf_level_dbm0=trunk.mf_level_dbm0, caller=trunk.caller or None)


def cas_idle_bits(config: Config, span: int) -> int:
    """The idle ABCD bits of a CAS timeslot no trunk uses: in the variant of its span's trunks (the default
    variant's if none)."""
    name = next((t.variant for t in config.trunks if t.span == span), DEFAULT_VARIANT)
    return VARIANTS[name].bits("idle")
