"""Board drivers: one shim per kind of board, each giving the HAL uniform spans, frames and events.

``DRIVERS`` names every driver the daemon can be configured with (``[board] driver``) and where it
lives; ``open_driver`` builds one from the ``[board]`` settings. ``sim`` reaches the simulated board
over its board link; ``dahdi`` (real cards through /dev/dahdi) and vendor SDKs register beside it.
A driver's module is imported only when it is chosen, so a box never loads another board's library.
"""

from __future__ import annotations

import importlib
from typing import Any

from hal.board import Board

# name -> "module:factory"; the factory takes the [board] settings (socket, ...) as keywords
DRIVERS: dict[str, str] = {
    "sim": "drivers.sim.board:SimBoardDriver",
}


def open_driver(name: str, **settings: Any) -> Board:
    """The driver ``name`` (a key of ``DRIVERS``) built from the ``[board]`` settings."""
    module, _, factory = DRIVERS[name].partition(":")
    return getattr(importlib.import_module(module), factory)(**settings)
