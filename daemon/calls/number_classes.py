"""What a number dialled to the Chinese network costs: the class of an outside number (what the
exchange sees, after the outbound prefix), for class of service (``daemon.calls.class_of_service``).

Classes, cheapest first: ``emergency`` (110, 119, 120, 122: free, never refused), ``local``,
``national``, ``mobile``, ``international``, ``premium``. ``internal`` is the class of an extension
number (the dial plan decides that, not this module). The rules, in order:

* ``110`` ``119`` ``120`` ``122`` exactly: emergency.
* A carrier-select prefix (17909, 17911, 17951, 12593, 193) before a longer number is looked through:
  the class is the rest's (``17909 00 44...`` is international).
* ``0086`` + a number: a domestic number in international form, classed as ``0`` + the rest.
* ``00`` + anything else: international.
* ``0`` + area code + a local number: national (local when the area code is the box's own); ``0`` +
  an 11-digit mobile number: mobile; an information number behind an area code (``0`` + area +
  ``160``/``168``): premium.
* ``160``/``168`` (voice information) and ``1259x`` (value-added services) at any length: premium.
* 11 digits ``1[3-9]…``: mobile.
* Local fixed numbers (7-8 digits, not starting with 0 or 1), carrier and public-service numbers
  (``1xx``, ``1xxxx`` such as 114, 10086, 12345, 12306), enterprise short numbers ``95xxx``/``96xxx``
  (charged as ordinary calls) and ``400``/``800`` + 7 digits: local.
* Anything else is unrecognised and treated as premium, so that it is refused unless allowed.
"""

from __future__ import annotations

import enum
import re


class NumberClass(enum.StrEnum):
    INTERNAL = "internal"
    LOCAL = "local"
    NATIONAL = "national"
    MOBILE = "mobile"
    INTERNATIONAL = "international"
    PREMIUM = "premium"
    EMERGENCY = "emergency"


EMERGENCY_NUMBERS = frozenset({"110", "119", "120", "122"})
CARRIER_SELECT = ("17909", "17911", "17951", "12593", "193")
PREMIUM_PREFIXES = ("160", "168", "1259")
TWO_DIGIT_AREAS = frozenset({"10", "20", "21", "22", "23", "24", "25", "27", "28", "29"})

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LOCAL_FIXED = re.compile(r"^[2-9]\d{6,7}$")
_SERVICE = re.compile(r"^(1\d{2}|1\d{4}|9[56]\d{3,6}|[48]00\d{7})$")


def classify(number: str, area_code: str = "") -> NumberClass:
    """The class of outside number ``number`` (digits as sent to the exchange); ``area_code`` is the
    box's own (without the 0, e.g. ``"10"`` for Beijing): a national number in it is local."""
    if number in EMERGENCY_NUMBERS:
        return NumberClass.EMERGENCY
    for prefix in CARRIER_SELECT:
        if number.startswith(prefix) and len(number) > len(prefix) + 3:
            return classify(number[len(prefix):], area_code)
    if number.startswith("0086") and len(number) > 4:
        return classify("0" + number[4:], area_code)
    if number.startswith("00"):
        return NumberClass.INTERNATIONAL
    if number.startswith("0"):
        return _national(number[1:], area_code)
    if number.startswith(PREMIUM_PREFIXES):
        return NumberClass.PREMIUM
    if _MOBILE.match(number):
        return NumberClass.MOBILE
    if _LOCAL_FIXED.match(number) or _SERVICE.match(number):
        return NumberClass.LOCAL
    return NumberClass.PREMIUM


def _national(rest: str, area_code: str) -> NumberClass:
    """``rest``: what follows the national trunk prefix 0."""
    if _MOBILE.match(rest):
        return NumberClass.MOBILE
    area = rest[:2] if rest[:2] in TWO_DIGIT_AREAS else rest[:3]
    local = rest[len(area):]
    if len(area) < 2 or not local or area.startswith("0"):
        return NumberClass.PREMIUM  # no area code and number: unrecognised
    if local.startswith(PREMIUM_PREFIXES):
        return NumberClass.PREMIUM
    return NumberClass.LOCAL if area == area_code else NumberClass.NATIONAL
