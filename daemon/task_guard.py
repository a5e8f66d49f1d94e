"""The daemon's long-lived tasks and threads, watched: an exception that ends one is never silent.

The board loop, the watchdog, the recorder's writer and housekeeping threads run for the daemon's
whole life; if one of them dies the box is down while the process looks alive (systemd would see
nothing). ``TaskGuard`` logs the failure with its traceback and stops the daemon with an exit status
for the service manager: 2 for a configuration error (the config does not fit the board: a restart
cannot fix it, the unit's ``RestartPreventExitStatus=2`` keeps systemd from looping), 1 for anything
else (``Restart=on-failure`` brings the box back).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from typing import Any

from daemon.config.checks import ConfigError

log = logging.getLogger(__name__)

EXIT_FAILURE = 1
EXIT_CONFIG = 2


class TaskGuard:
    """Starts and watches long-lived tasks; ``stopped`` is set when one fails (or ``stop()``), and
    ``exit_code`` then says why (0: asked to stop)."""

    def __init__(self) -> None:
        self.stopped = asyncio.Event()
        self.exit_code = 0
        self.reason = ""  # the first failure, one line (for systemd's STATUS=)
        self.tasks: list[asyncio.Task] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous_hook: Any = None

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task:
        """Run ``coro`` as a long-lived task: if it ends with an exception, the daemon stops."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        task.add_done_callback(self._task_done)
        self.tasks.append(task)
        return task

    def stop(self) -> None:
        self.stopped.set()

    def failed(self, what: str, exc: BaseException) -> None:
        """``what`` (a task or thread) ended with ``exc``: log it and stop the daemon (first failure wins)."""
        if isinstance(exc, ConfigError):
            log.error("configuration error: %s (stopping: fix the configuration, then start the daemon)", exc)
            code = EXIT_CONFIG
        else:
            log.critical("%s failed; stopping the daemon (exit %d) so that it is restarted", what, EXIT_FAILURE,
                         exc_info=exc)
            code = EXIT_FAILURE
        if not self.exit_code:
            self.exit_code = code
            self.reason = (f"configuration error: {exc}" if code == EXIT_CONFIG
                           else f"{what} failed: {type(exc).__name__}: {exc}")
        self.stopped.set()

    def _task_done(self, task: asyncio.Task) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.failed(f"task {task.get_name()}", exc)

    # --- threads ----------------------------------------------------------------------------------

    def watch_threads(self) -> None:
        """From now on a thread that dies of an exception (``threading.excepthook``) stops the daemon.
        Worker pools are not concerned: their exceptions go to the futures that asked for the work."""
        self._loop = asyncio.get_running_loop()
        self._previous_hook = threading.excepthook
        threading.excepthook = self._thread_died

    def unwatch_threads(self) -> None:
        if self._previous_hook is not None:
            threading.excepthook = self._previous_hook
            self._previous_hook = None

    def _thread_died(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        name = f"thread {args.thread.name if args.thread else '?'}"
        loop = self._loop
        if loop is None or loop.is_closed():
            log.critical("%s failed", name, exc_info=args.exc_value)
            return
        try:
            loop.call_soon_threadsafe(self.failed, name, args.exc_value)
        except RuntimeError:  # the loop closed meanwhile: the daemon is stopping anyway
            log.critical("%s failed", name, exc_info=args.exc_value)

    async def cancel_all(self) -> None:
        """Cancel every task still running and wait for it (at shutdown)."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            if not task.done():
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                except Exception as exc:  # noqa: BLE001 - a task failing while being stopped: logged, not raised
                    log.warning("task %s failed while stopping: %s", task.get_name(), exc)
