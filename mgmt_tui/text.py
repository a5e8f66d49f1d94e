"""Text helpers for a terminal that may be a VT100: display width of Chinese text, the ASCII form of a
name (pinyin for Chinese), fixed-width cells measured on what is actually drawn, and text bar charts.

A TUI in ASCII mode draws inside ``ascii_display(True)``: ``cell`` then turns its value into ASCII
*before* measuring and padding it, so the columns stay aligned whatever the terminal can show."""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Iterator
from contextvars import ContextVar

from pypinyin import Style, lazy_pinyin

_ASCII: ContextVar[bool] = ContextVar("ascii_display", default=False)
_PUNCTUATION = dict(zip("，。：；！？、（）×—–“”‘’·《》【】～", ",.:;!?,()x--\"\"''.<>[]~", strict=True))


def width(s: str) -> int:
    """Columns ``s`` takes on a terminal (East Asian wide characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def ascii_only(s: str) -> str:
    """``s`` for a terminal that shows only ASCII: Chinese characters as pinyin, each syllable
    capitalised and joined (``王芳`` -> ``WangFang``, ``国内线路`` -> ``GuoNeiXianLu``); full-width
    forms as their ASCII twins; anything else that is not ASCII as ``?``."""
    if s.isascii():
        return s
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            out.extend(syl.capitalize() for syl in lazy_pinyin("".join(run), style=Style.NORMAL))
            run.clear()

    for ch in s:
        if _is_han(ch):
            run.append(ch)
            continue
        flush()
        if ch.isascii():
            out.append(ch)
            continue
        folded = unicodedata.normalize("NFKC", ch)  # full-width digits/letters, the ideographic space
        if folded.isascii() and folded:
            out.append(folded)
        elif ch in _PUNCTUATION:
            out.append(_PUNCTUATION[ch])
        else:
            out.append("?")
    flush()
    return "".join(out)


@contextlib.contextmanager
def ascii_display(on: bool) -> Iterator[None]:
    """Within it, ``drawn`` and ``cell`` produce what an ASCII-only terminal shows (``on``)."""
    token = _ASCII.set(on)
    try:
        yield
    finally:
        _ASCII.reset(token)


def drawn(s: str) -> str:
    """``s`` as the terminal will draw it: ASCII (``ascii_only``) inside ``ascii_display(True)``."""
    return ascii_only(s) if _ASCII.get() else s


def fit(s: str, cols: int) -> str:
    """``s`` as drawn, in at most ``cols`` columns: a longer one is cut and ends in ``~``."""
    s = drawn(s)
    if width(s) <= cols:
        return s
    out, used = [], 0
    for ch in s:
        w = width(ch)
        if used + w > cols - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "~"


def cell(value: object, cols: int, right: bool = False) -> str:
    """``value`` as exactly ``cols`` columns of what is drawn: cut (with ``~``) or padded."""
    s = fit("-" if value is None or value == "" else str(value), cols)
    pad = " " * (cols - width(s))
    return pad + s if right else s + pad


def bar(value: float, maximum: float, cols: int, ch: str = "#") -> str:
    """A horizontal bar of ``value`` against ``maximum`` in ``cols`` columns."""
    if maximum <= 0 or value <= 0:
        return ""
    return ch * max(1, round(cols * min(value, maximum) / maximum))
