"""Phones of an in-process ``Box`` as parties of a call test: each sends its own tone (``tones``: extension
number -> Hz) and what each one hears is measured (which of the others' tones are there).

Shared by the unit tests of hook-flash features, extension features and supervisor taps.
"""

from __future__ import annotations

from tests.support.inprocess import Box
from tests.support.tone_levels import heard_tones


def talk(box: Box, tones: dict[str, float], *numbers: str) -> None:
    """Each phone of ``numbers`` sends its own tone from now on."""
    for n in numbers:
        box.world.phone(n).mouth.tone(tones[n])


def quiet(box: Box, *numbers: str) -> None:
    for n in numbers:
        box.world.phone(n).mouth.silence()


def listen(box: Box, tones: dict[str, float], *numbers: str, seconds: float = 1.0) -> dict[str, set[str]]:
    """Which of the other parties' tones each of ``numbers`` (default: every party of ``tones``) hears
    over ``seconds``, after 0.3 s for the audio paths to settle."""
    box.run(0.3)
    mark = box.world.tick
    box.run(seconds)
    return {n: heard_tones(box.heard(n, mark), {k: f for k, f in tones.items() if k != n})
            for n in numbers or tones}


def everyone(box: Box, tones: dict[str, float]) -> dict[str, set[str]]:
    """Every party of ``tones`` talks: who hears whom."""
    talk(box, tones, *tones)
    return listen(box, tones)


def dial(box: Box, number: str, digits: str) -> None:
    """Phone ``number`` (lifted first if it is on hook) goes quiet and keys ``digits``."""
    p = box.world.phone(number)
    if not p.is_off_hook:
        p.off_hook()
        box.run(0.5)
    p.mouth.silence()
    p.dial(digits)
    box.run(0.2 * len(digits) + 0.5)


def connect(box: Box, caller: str, callee: str) -> None:
    """``caller`` dials ``callee``, which rings and answers."""
    dial(box, caller, callee)
    box.run_until(lambda: box.world.phone(callee).ringing, 5, f"{callee} ringing")
    box.world.phone(callee).off_hook()
    box.run(0.5)
