"""End to end: an installer blocks and unblocks a No.1 timeslot through the API; the far end sees
the blocking bits (1111) and then idle (1011); blocking is audited; a non-trunk port is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.api.protocol import ApiError
from tests.conftest import e2e_config
from tests.support.processes import DaemonProcess, SimProcess, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e

TRUNK = '\n[[trunk]]\nname = "CT-E1"\nspan = 3\ntimeslots = "1-15,17-31"\ndestination = ["8001"]\ndnis_length = 5\n'


def test_block_and_unblock_a_timeslot(tmp_path: Path, sim: SimProcess) -> None:
    cfg = e2e_config(tmp_path)
    cfg.write_text(cfg.read_text(encoding="utf-8") + TRUNK, encoding="utf-8")
    d = DaemonProcess(tmp_path, sim, cfg)
    d.start()
    try:
        w = World(sim)
        wait_for(lambda: w.e1_get_cas(3, 5) == 0b1011, 5, "the timeslot idle")
        assert d.api.call("e1.block", port="3/5") == {"port": "3/5", "blocked": True}
        wait_for(lambda: w.e1_get_cas(3, 5) == 0b1111, 5, "blocking bits at the far end")
        assert w.e1_get_cas(3, 6) == 0b1011  # only that timeslot
        d.api.call("e1.unblock", port="3/5")
        wait_for(lambda: w.e1_get_cas(3, 5) == 0b1011, 5, "idle again")
        with pytest.raises(ApiError) as err:
            d.api.call("e1.block", port="2/1")
        assert err.value.code == "bad_argument"
        ops = [a["op"] for a in wait_for(lambda: d.api.call("audit.list"), 5, "audit")]
        assert ops[:2] == ["e1.unblock", "e1.block"]
    finally:
        d.stop()
