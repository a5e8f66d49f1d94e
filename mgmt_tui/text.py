"""Text helpers for a terminal that may be a VT100: display width of Chinese text, ASCII fallback,
fixed-width cells, and text bar charts."""

from __future__ import annotations

import unicodedata


def width(s: str) -> int:
    """Columns ``s`` takes on a terminal (East Asian wide characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def ascii_only(s: str) -> str:
    """``s`` for a terminal that shows only ASCII: other characters become ``?``."""
    return "".join(ch if ord(ch) < 128 else "?" for ch in s)


def cell(value: object, cols: int, right: bool = False) -> str:
    """``value`` as exactly ``cols`` columns: cut (with ``~``) or padded."""
    s = "-" if value is None or value == "" else str(value)
    if width(s) > cols:
        out = ""
        for ch in s:
            if width(out + ch) > cols - 1:
                break
            out += ch
        s = out + "~"
    pad = " " * (cols - width(s))
    return pad + s if right else s + pad


def bar(value: float, maximum: float, cols: int, ch: str = "#") -> str:
    """A horizontal bar of ``value`` against ``maximum`` in ``cols`` columns."""
    if maximum <= 0 or value <= 0:
        return ""
    return ch * max(1, round(cols * min(value, maximum) / maximum))
