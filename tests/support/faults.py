"""``callboxd`` with one fault injected, for the end-to-end tests of how the daemon fails: run as
``python -m tests.support.faults FAULT callboxd-arguments...`` (``DaemonProcess(program=faulty(FAULT))``).

* ``tick``: the tick raises once the board has been up for 50 ticks (a bug in the board loop);
* ``writer``: the recorder's writer thread dies on its first batch (a bug in a long-lived thread).
"""

from __future__ import annotations

import sys

from daemon import main as callboxd
from daemon.runtime.engine import Engine
from recorder.writer import RecordingWriter

FAULTS = ("tick", "writer")


def _inject(fault: str) -> None:
    if fault == "tick":
        on_tick = Engine.on_tick

        def failing_tick(self: Engine, tick) -> None:
            if self.ticks >= 50:
                raise RuntimeError("injected fault in the tick")
            on_tick(self, tick)

        Engine.on_tick = failing_tick  # type: ignore[method-assign]
    elif fault == "writer":
        def failing_run(self: RecordingWriter) -> None:
            raise RuntimeError("injected fault in the recorder's writer")

        RecordingWriter._run = failing_run  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown fault {fault!r} (one of {', '.join(FAULTS)})")


def faulty(fault: str) -> list[str]:
    """The command line that runs ``callboxd`` with ``fault`` (for ``DaemonProcess(program=...)``)."""
    return [sys.executable, "-m", "tests.support.faults", fault]


if __name__ == "__main__":
    _inject(sys.argv[1])
    sys.exit(callboxd.main(sys.argv[2:]))
