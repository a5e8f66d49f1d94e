"""The 20 ms tick loop's standing on the machine.

Once start-up is done, the thread that runs the event loop (and so every tick) asks for
``SCHED_FIFO`` where it is permitted (root, ``CAP_SYS_NICE`` or systemd's ``LimitRTPRIO=``), so a busy
machine delays other work, not the box's audio. It asks with ``SCHED_RESET_ON_FORK``: the kernel
starts every thread and process it creates afterwards (worker pools started lazily from the loop,
espeak-ng, sox) at normal priority, so file writes, TTS and store work never compete with the tick.
``freeze_heap`` moves everything start-up allocated out of the garbage collector's sight, so a
collection on the tick walks only what calls create.
"""

from __future__ import annotations

import gc
import logging
import os

log = logging.getLogger(__name__)


def take_realtime(priority: int) -> str:
    """Give the calling thread ``SCHED_FIFO`` at ``priority`` (1-99; 0 asks for nothing). Returns what
    it got, for the log and ``status``: ``"fifo 20"`` or ``"normal (why)"``."""
    if priority <= 0:
        return "normal (realtime_priority = 0)"
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(priority))
    except OSError as exc:
        log.warning("tick loop: SCHED_FIFO %d not permitted (%s): normal scheduling", priority, exc.strerror)
        return f"normal ({exc.strerror})"
    log.info("tick loop: SCHED_FIFO priority %d", priority)
    return f"fifo {priority}"


def freeze_heap() -> None:
    """Collect once, then keep everything alive now out of later collections (``gc.freeze``)."""
    gc.collect()
    gc.freeze()
