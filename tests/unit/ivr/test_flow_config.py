"""Flow files: the shipped default loads clean; broken flows are rejected naming flow, node and line."""

from __future__ import annotations

import datetime as dt
import subprocess
import textwrap
from pathlib import Path

import pytest

from ivr.flow import Collect, FlowError, Menu
from ivr.flow_config import Locator, load_flow, parse_flow
from ivr.validate import validate

DEFAULT = Path(__file__).resolve().parents[3] / "packaging" / "ivr" / "travel-agency.toml"

HEAD = """\
[flow]
name = "t"
start = "main"
operator = "op"

[prompts]
hello = "您好"
bad = "输入有误"

[nodes.op]
kind = "transfer"
to = "extension"
target = "8000"
"""


def load(text: str, tmp_path: Path | None = None):
    if tmp_path is None:
        return validate(parse_flow(textwrap.dedent(text), "t.toml"))
    f = tmp_path / "t.toml"
    f.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_flow(f)


def errors_of(text: str, tmp_path: Path | None = None) -> list[str]:
    with pytest.raises(FlowError) as exc:
        load(text, tmp_path)
    return [str(i) for i in exc.value.issues]


def line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(textwrap.dedent(text).splitlines(), 1) if needle in ln)


def test_default_flow_is_valid_and_clean():
    flow = load_flow(DEFAULT)
    assert flow.name == "travel-agency"
    assert flow.warnings == ()
    main = flow.nodes["main"]
    assert isinstance(main, Menu) and main.choices == {"1": "routes", "2": "booking", "3": "complaints",
                                                       "0": "operator"}
    assert "线路咨询请按1" in flow.prompts["welcome"].tts
    assert isinstance(flow.nodes["tour_code"], Collect) and flow.nodes["tour_code"].max_digits == 6
    # after hours and holidays go to voicemail
    assert flow.nodes["after_hours"].to == "voicemail" and flow.nodes["holiday"].to == "voicemail"
    sched = flow.schedules["office"]
    tz = dt.timezone(dt.timedelta(hours=8))
    assert sched.state(dt.datetime(2026, 11, 23, 10, 0, tzinfo=tz)) == "open"  # Monday
    assert sched.state(dt.datetime(2026, 11, 23, 18, 0, tzinfo=tz)) == "closed"
    assert sched.state(dt.datetime(2026, 10, 2, 10, 0, tzinfo=tz)) == "holiday"
    assert sched.state(dt.datetime(2026, 10, 10, 10, 0, tzinfo=tz)) == "open"  # a Saturday worked (调休)
    assert sched.state(dt.datetime(2026, 10, 10, 17, 0, tzinfo=tz)) == "open"  # ... with Monday's hours
    assert sched.state(dt.datetime(2026, 11, 28, 11, 0, tzinfo=tz)) == "open"  # ordinary Saturday morning
    assert sched.state(dt.datetime(2026, 11, 28, 13, 0, tzinfo=tz)) == "closed"
    assert sched.state(dt.datetime(2026, 11, 29, 10, 0, tzinfo=tz)) == "closed"  # Sunday
    # UTC input is converted: 01:30 UTC = 09:30 Beijing
    assert sched.state(dt.datetime(2026, 11, 23, 1, 30, tzinfo=dt.UTC)) == "open"


def test_missing_node_reference_names_flow_node_and_line():
    text = HEAD + """
    [nodes.main]
    kind = "menu"
    prompt = "hello"
    choices = { 1 = "op", 2 = "nowhere" }
    fallback = "op"
    """
    errs = errors_of(text)
    assert errs == [f"t.toml:{line_of(text, 'choices =')}: flow 't', node 'main': choices.2: no node named 'nowhere'"]


def test_missing_prompt_and_bad_kind_and_type_all_reported(tmp_path):
    text = HEAD + """
    [nodes.main]
    kind = "menu"
    prompt = "helo"
    choices = { 1 = "op" }
    fallback = "op"

    [nodes.x]
    kind = "dance"

    [nodes.y]
    kind = "menu"
    prompt = "hello"
    choices = { 1 = "op" }
    timeout_s = "five"
    fallback = "op"
    """
    errs = errors_of(text, tmp_path)
    assert any(f":{line_of(text, 'helo')}: flow 't', node 'main': prompt: no prompt named 'helo'" in e for e in errs)
    assert any(f":{line_of(text, 'dance')}: flow 't', node 'x': kind: kind must be one of play, menu" in e
               for e in errs)
    assert any(f":{line_of(text, 'five')}: flow 't', node 'y': timeout_s: must be a number of seconds" in e
               for e in errs)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "3601"])
def test_seconds_are_finite_and_in_range(value):
    text = HEAD + f"""
    [nodes.main]
    kind = "menu"
    prompt = "hello"
    choices = {{ 1 = "op" }}
    timeout_s = {value}
    fallback = "op"
    """
    errs = errors_of(text)
    assert any(f":{line_of(text, 'timeout_s')}: flow 't', node 'main': timeout_s: must be a number of seconds" in e
               for e in errs), errs


def test_required_and_unknown_keys():
    text = HEAD + """
    [nodes.main]
    kind = "collect"
    prompt = "hello"
    next = "op"
    fallback = "op"
    colour = "red"
    """
    errs = errors_of(text)
    assert any("node 'main': max_digits: is required" in e for e in errs)
    assert any(f":{line_of(text, 'colour')}: flow 't', node 'main': colour: unknown key" in e for e in errs)


def test_loop_without_input_is_rejected():
    text = HEAD + """
    [nodes.main]
    kind = "menu"
    prompt = "hello"
    choices = { 1 = "op" }
    on_timeout = "again"
    fallback = "op"

    [nodes.again]
    kind = "play"
    prompt = "bad"
    next = "main"
    """
    errs = errors_of(text)
    assert len(errs) == 1
    assert "loop without caller input" in errs[0] and "main -> again -> main" in errs[0]


def test_loop_through_a_key_press_is_fine():
    text = HEAD + """
    [nodes.main]
    kind = "menu"
    prompt = "hello"
    choices = { 1 = "again", 0 = "op" }
    fallback = "op"

    [nodes.again]
    kind = "play"
    prompt = "bad"
    next = "main"
    """
    assert load(text).warnings == ()


def test_self_loop_of_plays_and_sets_is_rejected():
    text = HEAD + """
    [nodes.main]
    kind = "set"
    vars = { n = "1" }
    next = "main2"

    [nodes.main2]
    kind = "play"
    tts = "您好"
    next = "main"
    """
    errs = errors_of(text)
    assert any("loop without caller input" in e for e in errs)


def test_unreachable_node_and_unused_prompt_warn():
    text = HEAD + """
    [nodes.main]
    kind = "hangup"
    prompt = "hello"

    [nodes.orphan]
    kind = "hangup"
    """
    flow = load(text)
    msgs = [str(w) for w in flow.warnings]
    assert f"t.toml:{line_of(text, '[nodes.orphan]')}: flow 't', node 'orphan': cannot be reached from the start node" \
        in msgs
    assert any("prompt 'bad' is not used" in m for m in msgs)


def test_prompt_files_must_exist_and_be_wav(tmp_path):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "notwav.wav").write_text("hello")
    subprocess.run(["sox", "-n", "-r", "8000", str(tmp_path / "prompts" / "ok.wav"), "trim", "0", "0.1"], check=True)
    text = """
    [flow]
    start = "main"
    prompt_dir = "prompts"

    [prompts]
    ok = { file = "ok.wav" }
    gone = { file = "gone.wav" }
    notwav = { file = "notwav.wav" }

    [nodes.main]
    kind = "play"
    prompt = ["ok", "gone", "notwav"]
    next = "end"

    [nodes.end]
    kind = "hangup"
    """
    errs = errors_of(text, tmp_path)
    assert len(errs) == 2
    assert f"t.toml:{line_of(text, 'gone =')}: flow 't': prompt 'gone': file " in errs[0]
    assert "No such file" in errs[0]
    assert "prompt 'notwav'" in errs[1] and "is not a WAV file" in errs[1]


def test_schedule_and_list_and_lookup_references():
    text = HEAD + """
    [schedules.office]
    hours = { mon-fri = ["09:00-18:00", "25:00-26:00"] }
    holidays = ["2026-02-30"]

    [nodes.main]
    kind = "schedule"
    schedule = "offise"
    open = "c"
    closed = "op"

    [nodes.c]
    kind = "callers"
    blacklist = "nolist"
    warning = "bad"
    next = "l"

    [nodes.l]
    kind = "lookup"
    lookup = "nope"
    next = "op"
    fallback = "op"
    """
    errs = errors_of(text)
    assert any("hours.mon-fri: '25:00-26:00' is not a span" in e for e in errs)
    assert any("holidays: '2026-02-30' is not a date" in e for e in errs)
    text = text.replace('"25:00-26:00"', '"13:00-14:00"').replace("2026-02-30", "2026-02-03")
    errs = errors_of(text)
    assert any(f":{line_of(text, 'offise')}: flow 't', node 'main': schedule: no schedule named 'offise'" in e
               for e in errs)
    assert any("node 'c': blacklist: no caller list named 'nolist'" in e for e in errs)
    assert any("node 'l': lookup: no lookup named 'nope'" in e for e in errs)


def test_toml_syntax_error_has_line():
    errs = errors_of('[flow]\nstart = "main"\n[nodes.main\nkind = "hangup"\n')
    assert len(errs) == 1 and errs[0].startswith("t.toml:3: flow 't': TOML syntax")


def test_template_reading_must_exist():
    text = HEAD + """
    [nodes.main]
    kind = "play"
    tts = "价格是{price|monee}"
    next = "op"
    """
    errs = errors_of(text)
    assert any("{price|monee}: no reading 'monee'" in e for e in errs)


def test_blacklist_warn_needs_warning():
    text = HEAD + """
    [nodes.main]
    kind = "callers"
    blacklist = "b"
    next = "op"

    [lists.b]
    numbers = ["138*"]
    """
    errs = errors_of(text)
    assert any("node 'main': warning: blacklist_action = \"warn\" needs a warning prompt" in e for e in errs)


def test_locator_finds_nested_and_quoted_keys():
    loc = Locator('[flow]\nname = "x"\n\n[nodes."a b"]\nkind = "menu"\nchoices = { "1" = "z" }\n')
    assert loc.line(("flow", "name")) == 2
    assert loc.line(("nodes", "a b")) == 4
    assert loc.line(("nodes", "a b", "choices", "1")) == 6


def test_mangled_flow_files_give_flow_errors_never_crashes():
    import random

    lines = DEFAULT.read_text(encoding="utf-8").splitlines()
    rng = random.Random(3)
    values = ['1', '"x"', 'true', '[]', '{}', '[1, 2]', '"main"', '-5', '3.5', '{ a = 1 }', '"2026-13-01"',
              '["x", 1]', '"*"', '2026-10-01', '"99:00-10:00"']
    rejected = 0
    for _ in range(400):
        ls = list(lines)
        for _ in range(rng.randint(1, 3)):
            j = rng.randrange(len(ls))
            if rng.random() < 0.3:
                del ls[j]
            elif "=" in ls[j]:
                ls[j] = ls[j].split("=", 1)[0] + "= " + rng.choice(values)
            elif ls[j]:
                p = rng.randrange(len(ls[j]))
                ls[j] = ls[j][:p] + rng.choice(['"', '[', ']', '=', '{', 'x', '.']) + ls[j][p + 1:]
        try:
            validate(parse_flow("\n".join(ls), "f.toml"))
        except FlowError as exc:
            rejected += 1
            assert all(str(i).startswith("f.toml") for i in exc.issues)
    assert rejected > 200
