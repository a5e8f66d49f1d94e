"""What makes a PIN acceptable, for the config checks, and new random PINs for the installer.

A PIN (an agent's, a supervisor's, a voicemail box's) is 4 to 12 digits, is not the number it
protects (the agent ID, the extension, the box number) and is not trivial: not one digit repeated
(``0000``) and not a run up or down (``1234``, ``0123``, ``9876``). The shipped configuration holds
``PLACEHOLDER`` instead of PINs: the box does not start until the installer has set them
(``python -m daemon.config.pin_setup``, see packaging/README.md), so no two boxes share a known PIN.

``weakness`` never repeats the PIN in its message (config errors are logged and shown to clients).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

from daemon.config.checks import Checker

PLACEHOLDER = "set-by-installer"
_DIGITS = re.compile(r"^[0-9]{4,12}$")


def trivial(pin: str) -> bool:
    """One digit repeated, or every digit one more (or one less) than the one before it."""
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:], strict=False)}
    return len(steps) == 1 and steps <= {0, 1, -1}


def weakness(pin: str, numbers: Iterable[str] = ()) -> str | None:
    """Why ``pin`` is not acceptable (None: it is). ``numbers``: what it must not equal (agent ID,
    extension, box number)."""
    if pin == PLACEHOLDER:
        return "no PIN set yet: run `python -m daemon.config.pin_setup --config FILE` (the installer's step) or write one"
    if not _DIGITS.match(pin):
        return "a PIN is 4 to 12 digits"
    if pin in {n for n in numbers if n}:
        return "a PIN must not be the number it protects (agent ID, extension or box number)"
    if trivial(pin):
        return "a PIN must not be trivial (one digit repeated, or a run like 1234 or 9876)"
    return None


def generate(numbers: Iterable[str] = (), length: int = 6) -> str:
    """A random acceptable PIN of ``length`` digits (not one of ``numbers``)."""
    avoid = set(numbers)
    while True:
        pin = "".join(secrets.choice("0123456789") for _ in range(length))
        if weakness(pin, avoid) is None:
            return pin


def read_pin(c: Checker, data: dict, keypath: tuple, numbers: Iterable[str] = (), key: str = "pin") -> str:
    """``data[key]`` checked (``""`` when absent: no PIN); a mistake is located, the PIN not shown."""
    pin = data.get(key, "")
    if not isinstance(pin, str):
        raise c.fail((*keypath, key), f'must be a string of digits in quotes ({key} = "...")')
    why = weakness(pin, numbers) if pin else None
    if why is not None:
        raise c.fail((*keypath, key), why)
    return pin
