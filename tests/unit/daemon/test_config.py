"""Configuration loading: the shipped default is valid; every mistake names file, key and line."""

from pathlib import Path

import pytest

from daemon.config import ConfigError, load_config

DEFAULT = Path(__file__).resolve().parents[3] / "packaging" / "callbox.toml"


def test_default_config_is_valid() -> None:
    cfg = load_config(DEFAULT)
    assert len(cfg.extensions) == 8 and len(cfg.lines) == 4
    assert cfg.extension_by_number("8001").port == "2/1"
    assert cfg.line_by_port("1/1").destination[0] == "8001"
    assert cfg.dialplan.outbound_prefix == "9"


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
        ('[api.tokens]\nsecret-1 = "agent:1001"\n', "api.tokens.secret-1", 2, "no [[agent]] with id 1001"),
        ('[api.tokens]\nsecret-1 = "agents"\n', "api.tokens.secret-1", 2, "not valid"),
        ('[box]\ncolour = "red"\n', "box.colour", 2, "unknown key"),
        ('[[extension]]\nnumber = "8001"\n', "extension[0].port", 1, "required"),
        ('[dialplan]\nno_answer_timeout_s = nan\n', "dialplan.no_answer_timeout_s", 2, "finite"),
        ('[dialplan]\n\ninter_digit_timeout_s = inf\n', "dialplan.inter_digit_timeout_s", 3, "finite"),
        ('[[extension]]\nnumber = "8001"\nport = "2/1"\nflash_min_ms = 700\n', "extension[0].flash_max_ms", 1,
         "greater"),
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


def test_toml_syntax_error_has_line(tmp_path: Path) -> None:
    p = _write(tmp_path, '[box]\nname = "x"\nlog = \n')
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert err.value.line == 3 and "TOML syntax" in err.value.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")
