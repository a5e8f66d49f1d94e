"""Every screen fits 80x24 as built (nothing cut at the 80th column), on a UTF-8 terminal and on a
VT100 where Chinese names are drawn as pinyin with the columns measured on what is drawn; the
diagnostics screen shows an HDLC (SS7) span's link state instead of CAS rows."""

from pathlib import Path

import pytest

from mgmt_tui.app import TuiApp
from mgmt_tui.text import width
from tests.unit.mgmt_tui.support import FakeDaemon, _focus_on, _lines_as_built, _screen

# every screen, and on the report every view; on the forms an agent, a queue and a menu opened
VISITS = [("1",), ("2",), ("2", "v"), ("2", "v", "v"), ("3",), ("4",), ("5",), ("5", "tab", "enter"),
          ("5", "tab", "tab", "enter"), ("6",), ("6", "tab", "enter")]


@pytest.mark.parametrize("ascii_mode", [False, True])
@pytest.mark.parametrize("keys", VISITS, ids=lambda k: "-".join(k))
def test_every_screen_fits_80x24_as_built(tmp_path: Path, ascii_mode: bool, keys: tuple[str, ...]) -> None:
    app = TuiApp(FakeDaemon(tmp_path), ascii_mode=ascii_mode)
    app.refresh()
    for key in keys:
        app.press(key)
    shown = _screen(app)  # 24 rows
    built = _lines_as_built(app)
    assert len(built) > 3 and all(width(r) <= 80 for r in built), "\n".join(r for r in built if width(r) > 80)
    if ascii_mode:
        assert all(r.isascii() for r in built + shown) and "??" not in "\n".join(built)


def test_diagnostics_cas_rows_and_an_hdlc_link(tmp_path: Path) -> None:
    app = TuiApp(FakeDaemon(tmp_path))
    app.refresh()
    app.press("3")
    built = _lines_as_built(app)
    text = "\n".join(built)
    assert "Span 4 SS7 signalling link (HDLC on TS16)" in text
    assert "link up: 1234 frames in (last 0.2 s ago), 56 out" in text
    assert "bearer timeslots: 30, 1 in calls" in text
    cas = [r for r in built if r.startswith("  3/")]
    assert sum(r.count("1011/1011") for r in cas) == 30  # every CAS timeslot, none of span 4's
    assert "4/" not in "\n".join(cas) and "----/----" not in text
    assert max(width(r) for r in cas) <= 80


def test_vt100_names_are_pinyin_in_the_same_columns(tmp_path: Path) -> None:
    """The same agent row in Chinese and on a VT100: its state and extension at the same columns."""
    rows = {}
    for ascii_mode in (False, True):
        (tmp_path / str(ascii_mode)).mkdir()
        app = TuiApp(FakeDaemon(tmp_path / str(ascii_mode)), ascii_mode=ascii_mode)
        app.refresh()
        app.press("5")
        _focus_on(app, "1002")
        rows[ascii_mode] = next(r for r in _screen(app) if r.startswith("> ") and "1002" in r)
    assert "李明" in rows[False] and "LiMing" in rows[True]
    for word in ("p:1", "8002", "groups"):
        assert width(rows[False][:rows[False].index(word)]) == rows[True].index(word)
