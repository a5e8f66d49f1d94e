"""Mandarin reading of digits, numbers, money, dates and times, for TTS text or recorded fragments.

Every reader returns a ``Said``: the Chinese text to hand a TTS engine (``said.text``) and the
same words as prompt-fragment names (``said.fragments``) for recorded-prompt mode, where each name
is a WAV file in the fragment directory (``num-1.wav``, ``num-1000.wav``, ``yuan.wav`` ...).

The rules (as a Mandarin speaker reads numbers aloud on the phone):

* Groups of four digits (个, 万, 亿); inside a group a run of zeros between digits is one 零,
  trailing zeros are silent; a lower part that does not fill its group is preceded by 零
  (10 020 → 一万零二十, 100 000 001 → 一亿零一).
* 十 at the very start is read without 一 (十二, 十五万) but 一十 elsewhere (一百一十, 一万零一十五).
* 2 is 两 before 百 and 千 and as a whole group before 万 or 亿 (两百, 两千, 两万, 两亿); it stays 二
  before 十 and as a unit digit (二十, 十二, 二十二万). As a count before a measure word (两元, 两点,
  两角) it is 两.
* Digit strings (phone numbers, codes) read digit by digit; ``yao=True`` reads 1 as 幺.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

DIGITS = "零一二三四五六七八九"

# Chinese word -> fragment name, for the words the readers produce.
FRAGMENT = {
    **{ch: f"num-{i}" for i, ch in enumerate(DIGITS)},
    "两": "num-liang", "幺": "num-yao", "十": "num-10", "百": "num-100", "千": "num-1000",
    "万": "num-10000", "亿": "num-100000000", "负": "minus", "点": "point",
    "元": "yuan", "角": "jiao", "分": "fen", "整": "zheng",
    "年": "year", "月": "month", "日": "day", "号": "day",
    "时": "oclock", "秒": "second", "半": "half",
    **{f"星期{ch}": f"weekday-{i}" for i, ch in enumerate("一二三四五六日", 1)},
    "星期天": "weekday-7",
    "凌晨": "period-night", "早上": "period-early", "上午": "period-morning", "中午": "period-noon",
    "下午": "period-afternoon", "晚上": "period-evening",
}

KINDS = ("digits", "number", "money", "date", "time")

# every fragment a reading can ask for: the WAVs a fragment directory must hold
FRAGMENT_NAMES = tuple(sorted({*FRAGMENT.values(), "oclock", "minute"}))

MAX_NUMBER = 10 ** 16 - 1


@dataclass(frozen=True)
class Said:
    """A reading: ``text`` for a TTS engine, ``fragments`` for recorded-prompt mode."""

    text: str
    fragments: tuple[str, ...]

    def __add__(self, other: Said) -> Said:
        return Said(self.text + other.text, self.fragments + other.fragments)


def _said(words: list[str], sep: str = "") -> Said:
    return Said(sep.join(words), tuple(FRAGMENT[w] for w in words if w))


# ---- numbers ---------------------------------------------------------------------------------------

def _group(n: int, leading: bool) -> list[str]:
    """Words for 1 <= n <= 9999 within one 4-digit group (no group unit)."""
    words: list[str] = []
    digits = [n // 1000, n // 100 % 10, n // 10 % 10, n % 10]
    units = ["千", "百", "十", ""]
    started = False
    zero = False
    for d, unit in zip(digits, units, strict=True):
        if d == 0:
            zero = started
            continue
        if zero:
            words.append("零")
            zero = False
        if unit == "十" and d == 1 and leading and not started:
            words.append("十")
        elif d == 2 and unit in ("千", "百"):
            words += ["两", unit]
        else:
            words += [DIGITS[d], unit] if unit else [DIGITS[d]]
        started = True
    return words


def _number_words(n: int, leading: bool = True) -> list[str]:
    if n == 0:
        return ["零"]
    for size, unit in ((10 ** 8, "亿"), (10 ** 4, "万")):
        if n >= size:
            high, low = divmod(n, size)
            words = ["两"] if high == 2 else _number_words(high, leading)
            words.append(unit)
            if low:
                if low < size // 10:
                    words.append("零")
                words += _number_words(low, leading=False)
            return words
    return _group(n, leading)


def number(value: int | str | Decimal) -> Said:
    """A number read as an amount: 1020 → 一千零二十, -3.5 → 负三点五, 200 → 两百."""
    d = _decimal(value)
    sign = ["负"] if d < 0 else []
    d = abs(d)
    whole = int(d)
    if whole > MAX_NUMBER:
        raise ValueError(f"number too large to read: {value!r}")
    words = sign + _number_words(whole)
    frac = format(d, "f").partition(".")[2].rstrip("0")
    if frac:
        words += ["点"] + [DIGITS[int(c)] for c in frac]
    return _said(words)


def count(n: int) -> Said:
    """A count before a measure word: 2 → 两 (两元, 两点), otherwise as ``number``."""
    return _said(["两"]) if n == 2 else number(n)


def digits(value: str | int, yao: bool = False) -> Said:
    """A digit string read one digit at a time (phone numbers, codes): 8001 → 八零零一."""
    s = str(value).strip()
    if not s.isdigit() or not s.isascii():
        raise ValueError(f"not a digit string: {value!r}")
    return _said([("幺" if yao and c == "1" else DIGITS[int(c)]) for c in s])


def _decimal(value: int | str | Decimal | float) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    try:
        d = Decimal(str(value).strip().replace(",", "")) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"not a number: {value!r}")
    return d


# ---- money -----------------------------------------------------------------------------------------

def money(value: int | str | Decimal) -> Said:
    """An amount in yuan: 12880 → 一万两千八百八十元整, 12.05 → 十二元零五分, 0.5 → 五角.

    Amounts are rounded half-up to the fen. 整 ends an amount with no 角 and no 分.
    """
    d = _decimal(value)
    sign = ["负"] if d < 0 else []
    fen_total = int((abs(d) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    yuan, rest = divmod(fen_total, 100)
    jiao, fen = divmod(rest, 10)
    if yuan > MAX_NUMBER:
        raise ValueError(f"amount too large to read: {value!r}")
    words: list[str] = list(sign)
    if yuan or not rest:
        words += (["两"] if yuan == 2 else _number_words(yuan)) + ["元"]
    if not rest:
        words.append("整")
        return _said(words)
    if jiao:
        words += ["两" if jiao == 2 else DIGITS[jiao], "角"]
    if fen:
        if yuan and not jiao:
            words.append("零")
        words += ["两" if fen == 2 else DIGITS[fen], "分"]
    return _said(words)


# ---- dates and times -------------------------------------------------------------------------------

_WEEKDAYS = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"]


def _as_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    s = str(value).strip()
    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", s) or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", s)
    if not m:
        raise ValueError(f"not a date (expected YYYY-MM-DD): {value!r}")
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError as exc:
        raise ValueError(f"not a date: {value!r} ({exc})") from None


def date(value: dt.date | str, weekday: bool = True, year: bool = True) -> Said:
    """A date: 2026-11-23 → 二零二六年十一月二十三日 星期一 (year read digit by digit)."""
    d = _as_date(value)
    out = Said("", ())
    if year:
        out += digits(f"{d.year:04d}") + _said(["年"])
    out += _said([*_number_words(d.month), "月", *_number_words(d.day), "日"])
    if weekday:
        out += Said(" ", ()) + _said([_WEEKDAYS[d.weekday()]])
    return out


def _as_time(value: dt.time | dt.datetime | str) -> dt.time:
    if isinstance(value, dt.datetime):
        return value.time()
    if isinstance(value, dt.time):
        return value
    m = re.fullmatch(r"(\d{1,2})[:：点](\d{2})(?:[:：](\d{2}))?", str(value).strip())
    if not m:
        raise ValueError(f"not a time (expected HH:MM): {value!r}")
    try:
        return dt.time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
    except ValueError as exc:
        raise ValueError(f"not a time: {value!r} ({exc})") from None


def _period(hour: int) -> str:
    if hour < 5:
        return "凌晨"
    if hour < 9:
        return "早上"
    if hour < 12:
        return "上午"
    if hour < 13:
        return "中午"
    if hour < 18:
        return "下午"
    return "晚上"


def time(value: dt.time | dt.datetime | str, clock: str = "12h", half: bool = False,
         seconds: bool = False) -> Said:
    """A time of day: 15:15 → 下午三点十五分, 09:05 → 上午九点零五分, 14:00 → 下午两点整.

    ``clock="12h"`` (the default) names the part of the day (凌晨/早上/上午/中午/下午/晚上) and
    counts hours 0-12 (0:30 is 凌晨零点三十分, 12:30 中午十二点三十分); ``"24h"`` reads 15:15 as 十五点十五分.
    ``half=True`` reads :30 as 半. ``seconds=True`` adds the seconds.
    """
    t = _as_time(value)
    words: list[str] = []
    hour = t.hour
    if clock == "12h":
        words.append(_period(hour))
        hour = 12 if hour == 12 else hour % 12  # 0:30 is 凌晨零点, as timetables say it
    elif clock != "24h":
        raise ValueError(f"clock must be 12h or 24h, not {clock!r}")
    words += ["两"] if hour == 2 else _number_words(hour)
    words.append("点")
    secs = t.second if seconds else 0
    if t.minute == 30 and half and not secs:
        words.append("半")
    elif t.minute == 0 and not secs:
        words.append("整")
    else:
        if t.minute:
            words += (["零"] if t.minute < 10 else []) + _number_words(t.minute) + ["分"]
        if secs:
            words += (["零"] if t.minute == 0 or secs < 10 else []) + _number_words(secs) + ["秒"]
    out = Said("", ())
    for w in words:
        out += Said(w, (_time_fragment(w),))
    return out


def _time_fragment(word: str) -> str:
    return "oclock" if word == "点" else "minute" if word == "分" else FRAGMENT[word]


def say(kind: str, value: object) -> Said:
    """Dispatch by kind (``digits``, ``number``, ``money``, ``date``, ``time``), as a say node does."""
    if kind == "digits":
        return digits(str(value))
    if kind == "number":
        return number(value)  # type: ignore[arg-type]
    if kind == "money":
        return money(value)  # type: ignore[arg-type]
    if kind == "date":
        return date(value)  # type: ignore[arg-type]
    if kind == "time":
        return time(value)  # type: ignore[arg-type]
    raise ValueError(f"say kind must be one of {', '.join(KINDS)}, not {kind!r}")
