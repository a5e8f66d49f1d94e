"""Class of service and the daily cap (daemon.calls.class_of_service) on a virtual clock, and their config
(daemon.config.class_of_service): who may dial which class, emergency always, the cap's day in the box's zone."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.calls.class_of_service import CAP_ALARM, ClassOfService, Payer
from daemon.calls.number_classes import NumberClass
from daemon.config.model import Config, ConfigError, load_config
from tests.support.processes import default_config_text

UK, MOBILE, PREMIUM, LOCAL = "00442071234567", "13800138000", "16812345", "87654321"
# 2026-12-07 15:59:00 UTC = 23:59 in China (the box's zone, [acd] utc_offset_min = 480)
BEFORE_MIDNIGHT = 1796659140.0

COS = """
[class_of_service]
area_code = "10"
daily_minutes = 0
api = { integrator = "local", admin = "all" }

[class_of_service.profiles]
tours = ["internal", "local", "national", "mobile", "international"]
lobby = ["internal"]
"""


def config(tmp_path: Path, extra: str = COS, **ext: str) -> Config:
    """The default config plus ``extra``; ``ext`` maps an extension number to TOML lines added to it."""
    text = default_config_text()
    for number, lines in ext.items():
        text = text.replace(f'number = "{number}"\n', f'number = "{number}"\n{lines}\n', 1)
    path = tmp_path / "callbox.toml"
    path.write_text(text + extra, encoding="utf-8")
    return load_config(path)


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def ext(n: str) -> list[Payer]:
    return [Payer("extension", n)]


def test_international_and_premium_are_denied_by_default(tmp_path: Path) -> None:
    cos = ClassOfService(config(tmp_path, ""))
    for number, cls in ((UK, NumberClass.INTERNATIONAL), (PREMIUM, NumberClass.PREMIUM)):
        d = cos.check(number, ext("8001"))
        assert (d.allowed, d.number_class, d.payer, d.reason) == (False, cls, Payer("extension", "8001"), "class")
        assert str(cls) in d.message() and "extension 8001" in d.message()
    assert cos.check(MOBILE, ext("8001")).allowed and cos.check(LOCAL, ext("8001")).allowed
    assert cos.check("01087654321", ext("8001")).number_class is NumberClass.NATIONAL


def test_profiles_per_extension_agent_api_role_and_trunk(tmp_path: Path) -> None:
    cfg = config(tmp_path, COS + '\n', **{"8003": 'cos = "tours"', "8001": 'cos = "lobby"',
                                          "8004": 'cos = ["local", "premium"]'})
    agents: dict[str, str] = {}
    cos = ClassOfService(cfg, agent_at=agents.get)
    assert cos.check(UK, ext("8003")).allowed and not cos.check(PREMIUM, ext("8003")).allowed
    assert not cos.check(LOCAL, ext("8001")).allowed  # the lobby phone: internal only
    assert cos.check(PREMIUM, ext("8004")).allowed and not cos.check(MOBILE, ext("8004")).allowed
    assert cos.check("01087654321", ext("8002")).number_class is NumberClass.LOCAL  # area_code = "10"
    # both payers must allow it: click-to-dial by an integrator (api: local only) from the tours extension
    assert not cos.check(MOBILE, [*ext("8003"), Payer("api", "integrator")]).allowed
    assert cos.check(UK, [*ext("8003"), Payer("api", "admin")]).allowed
    assert not cos.check(UK, [Payer("api", "supervisor")]).allowed  # a role not named: the default profile
    assert not cos.check(UK, [Payer("trunk", "PSTN-1")]).allowed


def test_an_agent_with_a_class_brings_it_to_the_extension_it_logs_in_at(tmp_path: Path) -> None:
    text = default_config_text().replace('id = "1002"\n', 'id = "1002"\ncos = "international"\n', 1)
    path = tmp_path / "callbox.toml"
    path.write_text(text, encoding="utf-8")
    agents: dict[str, str] = {}
    cos = ClassOfService(load_config(path), agent_at=agents.get)
    assert not cos.check(UK, ext("8003")).allowed
    agents["8003"] = "1002"
    assert cos.check(UK, ext("8003")).allowed
    agents["8003"] = "1001"  # an agent without a class of its own: the extension's
    assert not cos.check(UK, ext("8003")).allowed


@pytest.mark.parametrize("number", ["110", "119", "120", "122"])
def test_emergency_is_allowed_from_a_locked_and_capped_extension(tmp_path: Path, number: str) -> None:
    clock = Clock(BEFORE_MIDNIGHT - 3600)
    cos = ClassOfService(config(tmp_path, **{"8001": 'cos = "lobby"\ndaily_minutes = 1'}), clock=clock)
    cos.record({"dialled": LOCAL, "paid_by": "extension 8001", "billsec": 120.0, "end": clock.t})
    assert cos.cap_reached("8001") and not cos.check(LOCAL, ext("8001")).allowed
    d = cos.check(number, ext("8001"))
    assert d.allowed and d.number_class is NumberClass.EMERGENCY


def test_the_daily_cap_blocks_raises_an_alarm_and_starts_again_at_local_midnight(tmp_path: Path) -> None:
    clock = Clock(BEFORE_MIDNIGHT - 600)
    events: list[tuple[str, dict]] = []
    cos = ClassOfService(config(tmp_path, **{"8002": "daily_minutes = 10"}), clock=clock,
                         publish=lambda kind, **data: events.append((kind, data)))
    call = {"dialled": MOBILE, "paid_by": "extension 8002", "billsec": 300.0, "end": clock.t}
    cos.record(call)
    assert cos.minutes_today("8002") == 5.0 and cos.check(MOBILE, ext("8002")).allowed and not events
    cos.record({**call, "billsec": 299.0})
    assert cos.check(MOBILE, ext("8002")).allowed  # 9.98 minutes: under the cap
    cos.record({**call, "billsec": 1.0})
    d = cos.check(MOBILE, ext("8002"))
    assert (d.allowed, d.reason) == (False, "daily_cap") and "daily minutes" in d.message()
    assert events == [("alarm.raised", {"alarm": CAP_ALARM, "extension": "8002", "minutes": 10.0, "cap": 10.0})]
    assert cos.alarms() == ["8002"]
    cos.record({**call, "billsec": 60.0})  # a call that was already running: no second alarm
    assert len(events) == 1
    assert cos.check(MOBILE, ext("8001")).allowed  # another extension: no cap of its own (default 0 = none)
    clock.t = BEFORE_MIDNIGHT + 59  # 23:59:59 in China: still today
    assert not cos.check(MOBILE, ext("8002")).allowed
    clock.t = BEFORE_MIDNIGHT + 61  # 00:00:01 in China (16:00:01 UTC, the same UTC day): a new day
    assert cos.check(MOBILE, ext("8002")).allowed and cos.minutes_today("8002") == 0.0
    assert events[-1] == ("alarm.cleared", {"alarm": CAP_ALARM, "extension": "8002"})
    assert cos.alarms() == []


def test_a_call_of_another_day_does_not_count(tmp_path: Path) -> None:
    clock = Clock(BEFORE_MIDNIGHT + 120)
    cos = ClassOfService(config(tmp_path, **{"8002": "daily_minutes = 10"}), clock=clock)
    cos.restore([{"dialled": MOBILE, "paid_by": "extension 8002", "billsec": 900.0, "end": BEFORE_MIDNIGHT},
                 {"dialled": MOBILE, "paid_by": "extension 8002", "billsec": 60.0, "end": BEFORE_MIDNIGHT + 100},
                 {"dialled": None, "paid_by": "extension 8002", "billsec": 900.0, "end": BEFORE_MIDNIGHT + 100}])
    assert cos.minutes_today("8002") == 1.0
    assert cos.day_start() == BEFORE_MIDNIGHT + 60


@pytest.mark.parametrize(("extra", "ext_lines", "key", "line_of"), [
    ("", 'cos = "vip"', "extension[0].cos", 'cos = "vip"'),
    ('[class_of_service.profiles]\nbad = ["local", "abroad"]\n', "", "class_of_service.profiles.bad", "bad ="),
    ('[class_of_service]\ndefault = "everything"\n', "", "class_of_service.default", "default ="),
    ('[class_of_service]\napi = { robot = "all" }\n', "", "class_of_service.api.robot", "api ="),
    ('[class_of_service]\ndaily_minutes = -5\n', "", "class_of_service.daily_minutes", "daily_minutes ="),
    ("", "daily_minutes = \"lots\"", "extension[0].daily_minutes", "daily_minutes ="),
])
def test_config_errors_name_file_line_and_key(tmp_path: Path, extra: str, ext_lines: str, key: str,
                                              line_of: str) -> None:
    with pytest.raises(ConfigError) as err:
        config(tmp_path, extra, **({"8001": ext_lines} if ext_lines else {}))
    text = (tmp_path / "callbox.toml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, t in enumerate(text, 1) if t.startswith(line_of))
    assert err.value.key == key and err.value.line == line, str(err.value)
    assert str(err.value).startswith(f"{tmp_path / 'callbox.toml'}:{line}: {key}: ")


@pytest.mark.parametrize(("anchor", "added", "key"), [
    ('id = "1002"\n', 'cos = ["local", "satellite"]\n', "agent[1].cos"),
    ('name = "PSTN-3"\n', 'cos = "cheap"\n', "line[2].cos"),
])
def test_agent_and_line_cos_errors_are_located_too(tmp_path: Path, anchor: str, added: str, key: str) -> None:
    text = default_config_text().replace(anchor, anchor + added, 1)
    path = tmp_path / "callbox.toml"
    path.write_text(text, encoding="utf-8")
    line = text.splitlines().index(added.strip()) + 1
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert (err.value.key, err.value.line) == (key, line) and "neither a profile" in err.value.message


def test_an_api_token_with_its_own_class_and_its_errors_never_naming_the_secret(tmp_path: Path) -> None:
    secret = "tok-9c1e77aa03"
    cfg = config(tmp_path, '\n[api.tokens]\n"plain-5b2d" = "integrator"\n'
                           f'"{secret}" = {{ grant = "integrator", cos = "international", name = "crm" }}\n')
    assert cfg.api_token_cos == ((secret, "crm", ("international",)),)
    cos = ClassOfService(cfg)
    assert cos.check(UK, [Payer("token", "crm")]).allowed
    assert not cos.check(UK, [Payer("api", "integrator")]).allowed  # the role's class: the default
    for bad, where in ((f'"{secret}" = {{ grant = "integrator", cos = "gold" }}', "api.tokens.token-1.cos"),
                       (f'"{secret}" = {{ grant = "boss" }}', "api.tokens.token-1.grant"),
                       (f'"{secret}" = "agent:4242"', "api.tokens.token-1")):
        with pytest.raises(ConfigError) as err:
            config(tmp_path, f"\n[api.tokens]\n{bad}\n")
        assert err.value.key == where and secret not in str(err.value), str(err.value)
        assert err.value.line is not None
