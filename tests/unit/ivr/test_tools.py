"""Installer tools: flow check, prompt synthesis, and a fragment set that say_mode = "fragments" plays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hal.dsp.g711 import alaw_to_linear
from ivr import say
from ivr.audio import AudioLibrary, Playback
from ivr.events import HangupRequest, PromptFile
from ivr.flow_config import parse_flow
from ivr.prompts import Prompts
from ivr.tools import fragment_words, main, make_fragments
from ivr.tts import Tts
from ivr.validate import validate
from tests.unit.ivr.harness import Call

DEFAULT = Path(__file__).resolve().parents[3] / "packaging" / "ivr" / "travel-agency.toml"


def test_check_reports_valid_and_invalid(tmp_path, capsys):
    assert main(["check", str(DEFAULT)]) == 0
    assert "flow 'travel-agency' is valid (19 nodes, 0 warnings)" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('[flow]\nstart = "a"\n\n[nodes.a]\nkind = "play"\ntts = "您好"\nnext = "b"\n', encoding="utf-8")
    assert main(["check", str(bad)]) == 1
    assert f"error: {bad}:7: flow 'bad', node 'a': next: no node named 'b'" in capsys.readouterr().err


def test_every_fragment_has_a_word():
    words = fragment_words()
    assert set(words) == set(say.FRAGMENT_NAMES)
    assert words["num-liang"] == "两" and words["oclock"] == "点" and words["weekday-7"] == "星期日"


@pytest.fixture(scope="module")
def fragments(tmp_path_factory):
    d = tmp_path_factory.mktemp("frag")
    tts = Tts(d / ".cache")
    make_fragments(d, tts)
    tts.close()
    return d


def test_fragment_mode_plays_the_fragments_in_order(fragments, tmp_path):
    text = f"""
    [flow]
    start = "price"
    say_mode = "fragments"
    fragment_dir = "{fragments}"

    [nodes.price]
    kind = "say"
    as = "money"
    value = "{{price}}"
    next = "end"

    [nodes.end]
    kind = "hangup"
    """
    flow = validate(parse_flow(text.replace("\n    ", "\n"), str(tmp_path / "f.toml")))
    c = Call(flow)  # no price: the say node goes on to next
    assert c.heard == [] and isinstance(c.ended, HangupRequest)
    assert any(s.what.startswith("say failed") for s in c.run.path)
    c = Call(flow, variables={"price": "1020"})
    items = c.playing.items
    assert [i.name for i in items] == ["num-1", "num-1000", "num-0", "num-2", "num-10", "yuan", "zheng"]
    lib = AudioLibrary(Tts(tmp_path / "t"), Prompts(tmp_path / "p"))
    ready = lib.preload(flow)  # as the daemon does when it loads the flow
    assert len(ready) == len(say.FRAGMENT_NAMES)
    for f in ready:
        f.result(10)
    pb = Playback(lib)
    pb.play(1, items)
    frames, done = [], None
    while done is None:
        frame, done = pb.frame()
        frames.append(frame)
    heard = alaw_to_linear(np.concatenate(frames)).astype(float)
    pos = 0
    for item in items:  # each fragment's audio, back to back
        want = alaw_to_linear(lib.get(PromptFile(item.name, item.path)).result(10)).astype(float)
        got = heard[pos:pos + len(want)]
        assert np.corrcoef(got, want)[0, 1] > 0.999, item.name
        pos += len(want)
    lib.close()
    lib.tts.close()


def test_prompts_command_fills_the_cache(tmp_path, capsys):
    small = tmp_path / "s.toml"
    small.write_text('[flow]\nstart = "a"\n\n[prompts]\nhi = "您好"\n\n[nodes.a]\nkind = "hangup"\nprompt = "hi"\n',
                     encoding="utf-8")
    assert main(["prompts", str(small), str(tmp_path / "cache")]) == 0
    assert "1 prompts ready" in capsys.readouterr().out
    assert Tts(tmp_path / "cache").cached("您好") is not None
