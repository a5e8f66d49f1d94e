"""Configuration loading: the shipped default is valid; every mistake names file, key and line."""

import re
import tomllib
from pathlib import Path

import pytest

from daemon.config import pin_setup
from daemon.config.model import ConfigError, load_config
from daemon.config.pin_policy import weakness
from tests.conftest import unit_settings
from tests.support.processes import CACHE_DIR, DEFAULT_CONFIG, default_config_text

DEFAULT = Path(__file__).resolve().parents[4] / "packaging" / "callbox.toml"


def test_default_config_waits_for_the_installer_to_set_its_pins(tmp_path: Path, capsys) -> None:
    with pytest.raises(ConfigError) as err:  # as shipped: no PIN anyone knows, and the box does not start
        load_config(DEFAULT)
    assert err.value.key == "agent[0].pin" and "no PIN set yet" in err.value.message
    path = tmp_path / "callbox.toml"
    path.write_text(DEFAULT.read_text(encoding="utf-8").replace('"ivr/', f'"{DEFAULT.parent}/ivr/'), encoding="utf-8")
    assert pin_setup.main(["--config", str(path)]) == 0
    shown = dict(line.split() for line in capsys.readouterr().out.splitlines()[1:])
    cfg = load_config(path)
    pins = {a.id: a.pin for a in cfg.acd.agents} | {"queue:general": cfg.ivr.boxes[0].pin}
    assert shown == {f"agent[{a}].pin": pin for a, pin in pins.items() if a != "queue:general"} | {
        "voicemail[queue:general].pin": pins["queue:general"]}
    assert len(set(pins.values())) == len(pins) and all(len(p) == 6 and weakness(p) is None for p in pins.values())
    assert pin_setup.main(["--config", str(path)]) == 0 and load_config(path) == cfg  # once only
    assert "nothing changed" in capsys.readouterr().out


def test_default_config_is_valid(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, default_config_text()))
    assert len(cfg.extensions) == 8 and len(cfg.lines) == 4
    assert cfg.extension_by_number("8001").port == "2/1"
    assert cfg.line_by_port("1/1").destination[0] == "8001"
    assert cfg.dialplan.outbound_prefix == "9"


def test_synthesised_prompts_are_kept_in_the_cache_dir_the_unit_provides(tmp_path: Path) -> None:
    shipped = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))["box"]
    assert (shipped["state_dir"], shipped["cache_dir"]) == ("/var/lib/callbox", "/var/cache/callbox")
    assert unit_settings()["CacheDirectory"] == "callbox"  # systemd makes /var/cache/callbox, writable
    assert load_config(_write(tmp_path, default_config_text())).tts_dir == CACHE_DIR / "tts"  # the suite's
    assert load_config(_write(tmp_path, '[box]\nstate_dir = "/srv/box"\n')).tts_dir == Path("/srv/box/tts")
    with pytest.raises(ConfigError, match=r":2: box.cache_dir: must be str"):
        load_config(_write(tmp_path, "[box]\ncache_dir = 1\n"))


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "callbox.toml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("text", "key", "line", "words"),
    [
        ('[box]\nname = "x"\n\n[[extension]]\nnumber = "8001"\nport = 21\n', "extension[0].port", 6, "must be str"),
        ('[[extension]]\nnumber = "8001"\nport = "2/1"\n[[extension]]\nnumber = "8001"\nport = "2/2"\n',
         "extension[1].number", 5, "already"),
        ('[dialplan]\nno_answer_timeout_s = "long"\n', "dialplan.no_answer_timeout_s", 2, "must be"),
        ('[[line]]\nport = "1/1"\ndestination = ["9999"]\n', "line[0].destination", 3, "not a configured"),
        ('[[extension]]\nnumber = "8001"\nport = "2/1"\n\n[[agent]]\nid = "1001"\nextension = "8011"\n',
         "agent[0].extension", 7, "'8011' is not a configured extension"),
        ('[box]\nlog = "syslog"\n', "box.log", 2, "one of"),
        ('[[line]]\nport = "1/1"\n\nanswer_detect = "ears"\n', "line[0].answer_detect", 4, "one of"),
        ('[[agent]]\nid = "1001"\npin = "957"\n', "agent[0].pin", 3, "4 to 12 digits"),
        ('[[agent]]\nid = "1001"\npin = "1001"\n', "agent[0].pin", 3, "not be the number it protects"),
        ('[[extension]]\nnumber = "8001"\nport = "2/1"\n\n[[agent]]\nid = "1001"\nextension = "8001"\npin = "8001"\n',
         "agent[0].pin", 8, "not be the number it protects"),
        ('[[agent]]\nid = "1001"\npin = "4444"\n', "agent[0].pin", 3, "trivial"),
        ('[[agent]]\nid = "1001"\npin = "98765"\n', "agent[0].pin", 3, "trivial"),
        ('[[agent]]\nid = "1001"\npin = 4826\n', "agent[0].pin", 3, "in quotes"),
        ('[[extension]]\nnumber = "8001"\nport = "2/1"\nvoicemail_pin = "0123"\n', "extension[0].voicemail_pin", 4,
         "trivial"),
        ('[[voicemail]]\nbox = "extension:8001"\npin = "8001"\n', "voicemail[0].pin", 3, "not be the number"),
        ('[pin]\nmax_failures = 0\n', "pin.max_failures", 2, "at least 1"),
        ('[api.tokens]\nsecret-1 = "agent:1001"\n', "api.tokens.token-1", 2, "no [[agent]] with id 1001"),
        ('[api.tokens]\nsecret-1 = "agents"\n', "api.tokens.token-1", 2, "not valid"),
        ('[box]\ncolour = "red"\n', "box.colour", 2, "unknown key"),
        ('[[extension]]\nnumber = "8001"\n', "extension[0].port", 1, "required"),
        ('[dialplan]\nno_answer_timeout_s = nan\n', "dialplan.no_answer_timeout_s", 2, "finite"),
        ('[dialplan]\n\ninter_digit_timeout_s = inf\n', "dialplan.inter_digit_timeout_s", 3, "finite"),
        ('[[extension]]\nnumber = "8001"\nport = "2/1"\nflash_min_ms = 700\n', "extension[0].flash_max_ms", 1,
         "greater"),
        ('[echo]\ntail_ms = 200\n', "echo.tail_ms", 2, "at most 128"),
        ('[box]\n\ncache_max_mb = 0\n', "box.cache_max_mb", 3, "at least 1"),
        ('[echo]\n\nnlp_db = -3\n', "echo.nlp_db", 3, "at least 0"),
        ('[echo]\ntail = 32\n', "echo.tail", 2, "unknown key"),
        ('[[line]]\nport = "1/1"\necho_cancel = "yes"\n', "line[0].echo_cancel", 3, "must be bool"),
        ('[[extension]]\nnumber = "8001"\nport = "2/1"\necho_cancel = 1\n', "extension[0].echo_cancel", 4,
         "must be bool"),
    ],
)
def test_errors_name_file_key_and_line(tmp_path: Path, text: str, key: str, line: int, words: str) -> None:
    p = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    e = err.value
    assert e.path == str(p) and e.key == key and e.line == line, str(e)
    assert words in e.message
    assert str(e).startswith(f"{p}:{line}: {key}: ")
    if key.startswith("api.tokens"):  # a token is a secret: named by its place, located by its line
        assert "secret-1" not in str(e)
    if key.endswith("pin"):  # the PIN is never repeated in the error (it is logged, and shown to API clients)
        pin = re.search(r'pin = "?([0-9]+)', text).group(1)
        assert pin not in e.message


def test_echo_cancelling_is_on_for_analog_ports_and_off_for_trunks_by_default(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, default_config_text()))
    assert (cfg.echo.tail_ms, cfg.echo.nlp_db) == (32.0, 12.0)
    assert all(ln.echo_cancel for ln in cfg.lines) and all(e.echo_cancel for e in cfg.extensions)
    text = ('[echo]\ntail_ms = 64\nnlp_db = 0\n[[line]]\nport = "1/1"\necho_cancel = false\n'
            '[[trunk]]\nname = "t1"\nspan = 3\n[[trunk]]\nname = "t2"\nspan = 4\necho_cancel = true\n')
    cfg = load_config(_write(tmp_path, text))
    assert (cfg.echo.tail_ms, cfg.echo.nlp_db) == (64.0, 0.0)
    assert not cfg.lines[0].echo_cancel
    assert [t.echo_cancel for t in cfg.trunks] == [False, True]


def test_toml_syntax_error_has_line(tmp_path: Path) -> None:
    p = _write(tmp_path, '[box]\nname = "x"\nlog = \n')
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert err.value.line == 3 and "TOML syntax" in err.value.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")
