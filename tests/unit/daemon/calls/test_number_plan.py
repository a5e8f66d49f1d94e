"""The numbering plan at config load: a number that shadows another (a prefix of it, or the same) is a
located error — extensions, the outbound prefix, the voicemail codes and the daemon's feature codes."""

from pathlib import Path

import pytest

from daemon.calls.feature_codes import FIXED_CODES
from daemon.config.model import ConfigError, load_config
from daemon.features.extension import ExtensionFeatures
from daemon.recording.host import PLAYBACK_CODE
from tests.support.inprocess import Box
from tests.support.processes import default_config_text


def _load(tmp_path: Path, old: str, new: str) -> Path:
    """The default config with ``old`` replaced by ``new`` (appended if ``old`` is empty)."""
    text = default_config_text(ivr_lines=True)  # PINs set as the installer does
    path = tmp_path / "callbox.toml"
    path.write_text(text.replace(old, new, 1) if old else text + new, encoding="utf-8")
    return path


def _line(path: Path, needle: str) -> int:
    """The last line holding ``needle``."""
    return max(i for i, ln in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in ln)


def ext(number: str) -> str:
    return f'\n[[extension]]\nnumber = "{number}"\nport = "2/9"\n'


@pytest.mark.parametrize(("old", "new", "key", "needle", "words"), [
    # extension 80 after 8001-8008: it would ring at "80" and 8001 could never be dialled
    ("", ext("80"), "extension[8].number", 'number = "80"',
     "extension 80 (80) is a prefix of extension 8001 (8001): 80 is taken as soon as it is dialled, "
     "so 8001 could never be reached"),
    ("", ext("80011"), "extension[8].number", 'number = "80011"',
     "extension 8001 (8001) is a prefix of extension 80011 (80011)"),
    ("", ext("8001"), "extension[8].number", 'number = "8001"', "8001 is already extension 8001"),
    ('outbound_prefix = "9"', 'outbound_prefix = "80"', "extension[0].number", 'number = "8001"',
     "the outbound prefix (80) is a prefix of extension 8001 (8001)"),
    ("", ext("9"), "extension[8].number", 'number = "9"', "9 is already the outbound prefix"),
    ("", ext("95"), "extension[8].number", 'number = "95"', "the outbound prefix (9) is a prefix of extension 95"),
    ("", ext("*50"), "extension[8].number", 'number = "*50"', "starts with '*'"),
    ('voicemail_code = "*98"', 'voicemail_code = "*2"', "ivr.voicemail_code", "voicemail_code =",
     "the voicemail code (*2) is a prefix of the feature code agent.login (*21)"),
    ('voicemail_code = "*98"', 'voicemail_code = "*722"', "ivr.voicemail_code", "voicemail_code =",
     "the feature code forward_always.set (*72) is a prefix of the voicemail code (*722)"),
    ('code = "*97"', 'code = "800"', "voicemail[0].code", 'code = "800"',
     "the code of voicemail box queue:general (800) is a prefix of extension 8001 (8001)"),
    ('code = "*97"', 'code = "*9"', "voicemail[0].code", 'code = "*9"',
     "the feature code forward_busy.set (*90)"),
])
def test_a_number_that_shadows_another_names_file_line_key(tmp_path: Path, old: str, new: str, key: str,
                                                           needle: str, words: str) -> None:
    path = _load(tmp_path, old, new)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    e = err.value
    assert (e.key, e.line) == (key, _line(path, needle)), str(e)
    assert str(e).startswith(f"{path}:{e.line}: {key}: ") and words in e.message, e.message


def test_numbers_that_only_share_leading_digits_are_fine(tmp_path: Path) -> None:
    path = _load(tmp_path, "", ext("8010"))  # 801x beside 800x: no prefix of another
    assert load_config(path).extension_by_number("8010") is not None


def test_the_fixed_codes_are_the_codes_the_daemon_adds() -> None:
    """``FIXED_CODES`` (what the check protects) is exactly what the running parts register, minus the
    configured voicemail codes; a new feature code must be listed there."""
    box = Box(acd=True)
    ExtensionFeatures(box.engine)  # extension features and the supervisor codes
    added = box.engine.calls.features.prefixes()
    configured = {box.config.ivr.voicemail_code, *(b.code for b in box.config.ivr.boxes if b.code)}
    added = {p: n for p, n in added.items() if p not in configured}
    added[PLAYBACK_CODE] = "recording.playback"  # added by the recorder's host (needs a recorder)
    assert added == FIXED_CODES
