"""Mandarin readings of numbers, money, dates and times against their expected wording."""

from __future__ import annotations

import datetime as dt

import pytest

from ivr import say

NUMBERS = [
    (0, "零"), (1, "一"), (2, "二"), (10, "十"), (11, "十一"), (12, "十二"), (20, "二十"), (22, "二十二"),
    (99, "九十九"), (100, "一百"), (101, "一百零一"), (102, "一百零二"), (110, "一百一十"),
    (115, "一百一十五"), (200, "两百"), (222, "两百二十二"), (250, "两百五十"), (1000, "一千"),
    (1001, "一千零一"), (1010, "一千零一十"), (1020, "一千零二十"), (1100, "一千一百"),
    (1200, "一千两百"), (2000, "两千"), (2002, "两千零二"), (2020, "两千零二十"), (9999, "九千九百九十九"),
    (10000, "一万"), (10001, "一万零一"), (10010, "一万零一十"), (10020, "一万零二十"), (10100, "一万零一百"),
    (11000, "一万一千"), (15000, "一万五千"), (20000, "两万"), (22000, "两万两千"), (100000, "十万"),
    (110000, "十一万"), (120000, "十二万"), (150000, "十五万"), (220000, "二十二万"),
    (100010, "十万零一十"), (1000000, "一百万"), (2000000, "两百万"), (10000001, "一千万零一"),
    (20000000, "两千万"), (12345678, "一千两百三十四万五千六百七十八"), (100000000, "一亿"),
    (100000001, "一亿零一"), (100010000, "一亿零一万"), (101000000, "一亿零一百万"),
    (110000000, "一亿一千万"), (200000000, "两亿"), (1000100000, "十亿零一十万"),
    (123456789, "一亿两千三百四十五万六千七百八十九"), (1000000000000, "一万亿"),
    (-5, "负五"), ("3.14", "三点一四"), ("2.5", "二点五"), ("1,020", "一千零二十"), ("10.50", "十点五"),
]


@pytest.mark.parametrize(("value", "text"), NUMBERS)
def test_number(value, text):
    assert say.number(value).text == text


MONEY = [
    ("0", "零元整"), ("0.5", "五角"), ("0.05", "五分"), ("0.25", "两角五分"), ("1", "一元整"), ("2", "两元整"),
    ("2.00", "两元整"), ("10", "十元整"), ("12", "十二元整"), ("12.5", "十二元五角"), ("12.50", "十二元五角"),
    ("12.05", "十二元零五分"), ("12.55", "十二元五角五分"), ("2.22", "两元两角两分"), ("100.30", "一百元三角"),
    ("1020", "一千零二十元整"), ("1000.05", "一千元零五分"), ("12880", "一万两千八百八十元整"),
    ("3999.9", "三千九百九十九元九角"), ("20000", "两万元整"), ("0.994", "九角九分"), ("0.995", "一元整"),
    ("-3.2", "负三元两角"), (1999, "一千九百九十九元整"),
]


@pytest.mark.parametrize(("value", "text"), MONEY)
def test_money(value, text):
    assert say.money(value).text == text


DATES = [
    ("2026-11-23", "二零二六年十一月二十三日 星期一"), ("2026-01-01", "二零二六年一月一日 星期四"),
    ("2026-02-02", "二零二六年二月二日 星期一"), ("2026-10-01", "二零二六年十月一日 星期四"),
    ("2027-12-12", "二零二七年十二月十二日 星期日"), ("2026/5/20", "二零二六年五月二十日 星期三"),
    ("20261231", "二零二六年十二月三十一日 星期四"), (dt.date(2030, 6, 15), "二零三零年六月十五日 星期六"),
]


@pytest.mark.parametrize(("value", "text"), DATES)
def test_date(value, text):
    assert say.date(value).text == text


TIMES = [
    ("15:15", {}, "下午三点十五分"), ("09:05", {}, "上午九点零五分"), ("14:00", {}, "下午两点整"),
    ("02:00", {}, "凌晨两点整"), ("00:30", {}, "凌晨零点三十分"), ("00:00", {}, "凌晨零点整"), ("12:00", {}, "中午十二点整"),
    ("12:20", {}, "中午十二点二十分"), ("07:45", {}, "早上七点四十五分"), ("18:02", {}, "晚上六点零二分"),
    ("22:30", {"half": True}, "晚上十点半"), ("10:10", {}, "上午十点十分"), ("15:15", {"clock": "24h"}, "十五点十五分"),
    ("20:00", {"clock": "24h"}, "二十点整"), ("07:45:09", {"seconds": True}, "早上七点四十五分零九秒"),
    ("11:00:30", {"seconds": True}, "上午十一点零三十秒"), (dt.time(16, 40), {}, "下午四点四十分"),
]


@pytest.mark.parametrize(("value", "kw", "text"), TIMES)
def test_time(value, kw, text):
    assert say.time(value, **kw).text == text


@pytest.mark.parametrize(("value", "kw", "text"), [
    ("8001", {}, "八零零一"), ("13800138000", {"yao": True}, "幺三八零零幺三八零零零"), ("0", {}, "零"),
])
def test_digits(value, kw, text):
    assert say.digits(value, **kw).text == text


def test_fragments_name_every_word():
    assert say.number(1020).fragments == ("num-1", "num-1000", "num-0", "num-2", "num-10")
    assert say.money("2.05").fragments == ("num-liang", "yuan", "num-0", "num-5", "fen")
    assert say.time("14:05").fragments == ("period-afternoon", "num-liang", "oclock", "num-0", "num-5", "minute")
    assert say.date("2026-11-23").fragments[-1] == "weekday-1"
    assert say.date("2026-11-23", weekday=False).fragments[-1] == "day"


@pytest.mark.parametrize(("kind", "value"), [
    ("number", "abc"), ("number", "nan"), ("money", "12元"), ("date", "2026-13-01"), ("date", "tomorrow"),
    ("time", "25:00"), ("digits", "12a"), ("colour", "red"), ("number", 10 ** 16),
])
def test_bad_values_raise_value_error(kind, value):
    with pytest.raises(ValueError):
        say.say(kind, value)


def test_say_dispatch():
    assert say.say("money", "12880.00").text == "一万两千八百八十元整"
    assert say.say("time", "15:15").text == "下午三点十五分"


@pytest.mark.parametrize(("n", "text"), [(1, "一"), (2, "两"), (3, "三"), (12, "十二"), (22, "二十二"), (200, "两百")])
def test_count_before_a_measure_word(n, text):
    """"您有两条新留言", "预计等待约两分钟": 2 alone is 两; 22 stays 二十二."""
    assert say.count(n).text == text
    assert say.count(2).fragments == ("num-liang",)
