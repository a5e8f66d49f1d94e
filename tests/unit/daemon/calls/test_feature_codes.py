"""Feature-code matching: complete codes with fields, codes still being dialled, overlapping prefixes."""

from __future__ import annotations

import pytest

from daemon.calls.feature_codes import MORE, FeatureCode, FeatureCodes, Matched


def codes() -> FeatureCodes:
    fc = FeatureCodes()
    for prefix, fields in (("*97", 0), ("*21", 2), ("*22", 0), ("*23", 1), ("*", 1)):
        fc.add(FeatureCode(prefix, prefix, lambda call, f: None, fields))
    return fc


@pytest.mark.parametrize("digits, prefix, fields", [
    ("*97", "*97", []), ("*211023#4711#", "*21", ["1023", "4711"]), ("*22", "*22", []),
    ("*231#", "*23", ["1"]), ("*#", "*", [""]), ("*8001#", "*", ["8001"]), ("*21##", "*21", ["", ""]),
])
def test_complete_codes_and_their_fields(digits: str, prefix: str, fields: list[str]) -> None:
    m = codes().match(digits)
    assert isinstance(m, Matched) and m.code.prefix == prefix and m.fields == fields


@pytest.mark.parametrize("digits", ["*", "*2", "*9", "*21", "*211023", "*211023#", "*2110#47", "*23", "*80"])
def test_unfinished_codes_wait_for_more(digits: str) -> None:
    assert codes().match(digits) == MORE


@pytest.mark.parametrize("digits", ["8001", "0", "*970", "*221", "*211023#4711#5"])
def test_other_digits_are_no_code(digits: str) -> None:
    assert codes().match(digits) is None


def test_the_pin_is_masked_for_the_cdr() -> None:
    m = codes().match("*211023#4711#")
    assert isinstance(m, Matched) and m.masked == "*21##"


def test_a_code_must_start_with_star_or_hash() -> None:
    with pytest.raises(ValueError):
        FeatureCodes().add(FeatureCode("21", "x", lambda call, f: None))
