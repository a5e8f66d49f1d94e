"""Dial plan: extension numbers, the outbound prefix, invalid numbers."""

import tomllib

from daemon.calls.dialplan import Dialplan, Extension, Incomplete, Invalid, Outside
from daemon.config.model import parse_config
from tests.support.processes import DEFAULT_CONFIG, default_config_text

TEXT = default_config_text(ivr_lines=True)
CFG = parse_config(tomllib.loads(TEXT), DEFAULT_CONFIG, TEXT)


def test_extension_matches_when_complete() -> None:
    dp = Dialplan(CFG)
    assert dp.match("8") == Incomplete(False)
    assert dp.match("800") == Incomplete(False)
    assert dp.match("8002") == Extension("8002")


def test_outbound_prefix_completes_on_timeout_or_hash() -> None:
    dp = Dialplan(CFG)
    assert dp.match("9") == Incomplete(False)
    assert dp.match("912301") == Incomplete(True)
    assert dp.match("912301", timed_out=True) == Outside("12301")
    assert dp.match("912301#") == Outside("12301")
    assert isinstance(dp.match("9", timed_out=True), Invalid)


def test_invalid_numbers() -> None:
    dp = Dialplan(CFG)
    assert isinstance(dp.match("7"), Invalid)
    assert isinstance(dp.match("8009"), Invalid)
    assert isinstance(dp.match("80", timed_out=True), Invalid)
