"""The 20 ms tick loop's standing on the machine.

Once start-up is done, the thread that runs the event loop (and so every tick) asks for
``SCHED_FIFO`` where it is permitted (root, ``CAP_SYS_NICE`` or systemd's ``LimitRTPRIO=``), so a busy
machine delays other work, not the box's audio. It asks with ``SCHED_RESET_ON_FORK``: the kernel
starts every thread and process it creates afterwards (worker pools started lazily from the loop,
espeak-ng, sox) at normal priority, so file writes, TTS and store work never compete with the tick.
``freeze_heap`` moves everything start-up allocated out of the garbage collector's sight, so a
collection on the tick walks only what calls create. ``keep_heap`` keeps the memory the tick frees in
the process: the tick's numpy temporaries are a few hundred KB each (the echo canceller's spectra of
40 channels), and with glibc's default, adaptive thresholds they are now and then served by fresh
``mmap`` pages or the top of the heap is handed back after each tick, to be faulted in again on the
next: hundreds of page faults per tick (the 120-channel tick 1.24 ms instead of 0.79).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # glibc's mallopt() parameters (malloc.h)
M_MMAP_THRESHOLD = -3
KEEP_BYTES = 64 << 20  # freed memory kept for reuse, and the size under which a block comes from the heap


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


def keep_heap() -> bool:
    """Have glibc's malloc keep freed memory for reuse (no trimming of the heap under ``KEEP_BYTES``, no
    ``mmap`` for blocks under it), so the tick's temporaries reuse pages already mapped. Fixed
    thresholds also stop malloc's own adapting of them. False where there is no glibc to ask."""
    try:
        libc = ctypes.CDLL(None)
        ok = libc.mallopt(M_TRIM_THRESHOLD, KEEP_BYTES) == 1 and libc.mallopt(M_MMAP_THRESHOLD, KEEP_BYTES) == 1
    except (OSError, AttributeError):
        ok = False
    if not ok:
        log.warning("tick loop: malloc thresholds not settable: freed memory may go back to the system")
    return ok
