"""ACD config: [acd], [[agent]], [[queue]] and [[queue.rule]] parse into dataclasses; mistakes are located."""

from pathlib import Path

import pytest

from daemon.acd.config import ConfigError, Overflow, TimeRange, parse_acd_text

FULL = """
[acd]
utc_offset_min = 480
pause_reasons = { 1 = "午餐", 2 = "培训" }
pause_after_missed = 3

[[agent]]
id = "1023"
name = "王芳"
pin = "4711"
skills = { mandarin = 5, cantonese = 2 }
groups = ["day"]
wrap_up_s = 12

[[agent]]
id = "1024"
name = "李明"
groups = ["night"]
supervisor = true

[[queue]]
name = "sales"
groups = ["day", "night"]
strategy = "fewest_calls"
max_wait_s = 300
overflow = "queue:backup"
always_ring = ["8009"]

[[queue.rule]]
kind = "sticky"
timeout_s = 15

[[queue.rule]]
kind = "vip"
boost = 5

[[queue.rule]]
kind = "time_of_day"
ranges = [{ from = "08:00", to = "21:00", groups = ["day"] }, { groups = ["night"] }]

[[queue]]
name = "backup"
agents = ["1024"]
strategy = "sticky"
overflow = "callback"
"""


def test_full_config_parses() -> None:
    cfg = parse_acd_text(FULL, extensions={"8001", "8009"})
    assert cfg.settings.pause_reasons == (("1", "午餐"), ("2", "培训"))
    a = cfg.agent("1023")
    assert a is not None and a.skill("mandarin") == 5 and a.skill("french") == 0 and a.wrap_up_s == 12.0
    assert cfg.agent("1024").supervisor and cfg.agent("1024").wrap_up_s is None
    sales = cfg.queue("sales")
    assert sales.strategy == "fewest_calls" and sales.overflow == Overflow("queue", "backup")
    assert [r.kind for r in sales.rules] == ["sticky", "vip", "time_of_day"]
    assert sales.rules[0].timeout_s == 15 and sales.rules[1].boost == 5
    assert sales.rules[2].ranges == (TimeRange(("day",), 480, 1260), TimeRange(("night",)))
    assert [m.id for m in cfg.members(sales)] == ["1023", "1024"]
    backup = cfg.queue("backup")  # a rule named as the strategy becomes that rule over longest_idle
    assert backup.strategy == "longest_idle" and [r.kind for r in backup.rules] == ["sticky"]
    assert [m.id for m in cfg.members(backup)] == ["1024"]


@pytest.mark.parametrize("text, key, words", [
    ('[[agent]]\nid = "x1"\n', "agent[0].id", "not valid"),
    ('[[agent]]\nid = "1"\nskills = { a = 11 }\n', "agent[0].skills.a", "1..10"),
    ('[[agent]]\nid = "1"\n[[agent]]\nid = "1"\n', "agent[1].id", "already"),
    ('[[agent]]\nid = "1"\nextension = "8002"\n', "agent[0].extension", "'8002' is not a configured extension"),
    ('[[queue]]\nname = "q"\nstrategy = "random"\n', "queue[0].strategy", "must be one of"),
    ('[[queue]]\nname = "q"\noverflow = "queue:nowhere"\n', "queue[0].overflow", "not another configured queue"),
    ('[[queue]]\nname = "q"\nagents = ["9"]\n', "queue[0].agents", "not a configured agent"),
    ('[[queue]]\nname = "q"\nalways_ring = ["7777"]\n', "queue[0].always_ring", "not a configured extension"),
    ('[[queue]]\nname = "q"\nstrategy = "highest_skill"\n', "queue[0].skill", "name it"),
    ('[[queue]]\nname = "q"\n[[queue.rule]]\nkind = "time_of_day"\nranges = [{ from = "25:00", to = "01:00" }]\n',
     "queue[0].rules[0].ranges[0].from", "HH:MM"),
    ('[[queue]]\nname = "q"\nbogus = 1\n', "queue[0].bogus", "unknown key"),
    ('[acd]\npause_reasons = { x = "a" }\n', "acd.pause_reasons.x", "digits"),
])
def test_mistakes_name_the_key(text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_acd_text(text, extensions={"8001"})
    assert exc.value.key == key and words in exc.value.message


def test_error_has_line_number() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_acd_text('[[queue]]\nname = "q"\n\nmax_wait_s = -1\n')
    assert exc.value.line == 4


def test_docs_example_parses() -> None:
    doc = (Path(__file__).parents[4] / "docs" / "acd.md").read_text(encoding="utf-8")
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    cfg = parse_acd_text(example, extensions={"8001", "8009"})
    q = cfg.queue("travel")
    assert [r.kind for r in q.rules] == ["sticky", "vip", "time_of_day"] and q.always_ring == ("8009",)
    assert cfg.agent("1023").wrap_up_s == 15 and cfg.settings.pause_reasons[1] == ("1", "午餐")
