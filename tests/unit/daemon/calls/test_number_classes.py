"""The class of every kind of Chinese number the box may be asked to dial (daemon.calls.number_classes)."""

from __future__ import annotations

import pytest

from daemon.calls.number_classes import NumberClass, classify

E, L, N, M, X, P = (NumberClass.EMERGENCY, NumberClass.LOCAL, NumberClass.NATIONAL, NumberClass.MOBILE,
                    NumberClass.INTERNATIONAL, NumberClass.PREMIUM)

CASES = [
    # emergency, whatever else is configured
    ("110", E), ("119", E), ("120", E), ("122", E),
    # local fixed lines, carrier and public-service numbers, enterprise short numbers, 400/800
    ("87654321", L), ("6543210", L), ("114", L), ("10086", L), ("10000", L), ("12345", L), ("12306", L),
    ("12301", L), ("95588", L), ("96777", L), ("4008123456", L), ("8008101234", L),
    # national: 0 + area code (2 or 3 digits) + local number
    ("01087654321", N), ("075512345678", N), ("057187654321", N),
    # mobile: 11 digits 1[3-9], also with a 0 in front and in 0086 form
    ("13800138000", M), ("19912345678", M), ("013800138000", M), ("008613912345678", M),
    # international (X), also behind a carrier-select prefix
    ("00442071234567", X), ("0012125551234", X), ("1790900442071234567", X), ("19300442071234567", X),
    # premium and information services; behind an area code; unrecognised numbers
    ("16812345", P), ("1600123456", P), ("125901234", P), ("01016812345", P), ("1234567", P), ("0", P),
    ("12", P), ("11111111111111", P),
    # a carrier-select prefix in front of a national number; 0086 + a fixed number
    ("179110755123456789", N), ("00861087654321", N),
]


@pytest.mark.parametrize(("number", "expected"), CASES, ids=[c[0] for c in CASES])
def test_classify(number: str, expected: NumberClass) -> None:
    assert classify(number) == expected


@pytest.mark.parametrize(("number", "expected"), [("01087654321", L), ("075512345678", N), ("01016812345", P)])
def test_a_national_number_in_the_box_s_own_area_is_local(number: str, expected: NumberClass) -> None:
    assert classify(number, area_code="10") == expected
