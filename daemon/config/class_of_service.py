"""``[class_of_service]``: the named profiles of allowed number classes, the default profile, the box's
own area code, the API roles' classes and the default daily cap of outside minutes (docs/class-of-service.md).

A ``cos`` value (of an extension, line, trunk, agent or API role) is a profile name or a class name, or
a list of them; it allows the union of their classes. ``check_cos`` validates one where it is read, so
the error names that file:line: key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from daemon.calls.number_classes import NumberClass
from daemon.config.checks import Checker

CLASSES = tuple(c.value for c in NumberClass if c is not NumberClass.EMERGENCY)  # emergency is never configured
BUILTIN_PROFILES: dict[str, tuple[str, ...]] = {
    "internal": ("internal",),
    "local": ("internal", "local"),
    "domestic": ("internal", "local", "national", "mobile"),
    "international": ("internal", "local", "national", "mobile", "international"),
    "all": CLASSES,
}
DEFAULT_PROFILE = "domestic"  # international and premium are denied unless configured
API_ROLES = ("agent", "integrator", "supervisor", "admin")
_NAME_RE = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")
_AREA_RE = re.compile(r"^([1-9][0-9]{1,2})?$")


@dataclass(frozen=True)
class CosConfig:
    profiles: tuple[tuple[str, tuple[str, ...]], ...] = tuple(BUILTIN_PROFILES.items())
    default: tuple[str, ...] = (DEFAULT_PROFILE,)  # for everything without its own cos
    area_code: str = ""  # the box's own area code (without 0): a national call into it is local
    daily_minutes: float = 0.0  # outside minutes a day per extension (0 = no cap) unless the extension says
    api: tuple[tuple[str, tuple[str, ...]], ...] = ()  # API role -> cos (others: default)

    def classes(self, names: tuple[str, ...]) -> frozenset[NumberClass]:
        """The classes a cos value allows (empty: the default profile's)."""
        profiles = dict(self.profiles)
        out: set[NumberClass] = set()
        for name in names or self.default:
            out.update(NumberClass(c) for c in profiles.get(name, (name,)))
        return frozenset(out)

    def api_classes(self, role: str) -> frozenset[NumberClass]:
        return self.classes(dict(self.api).get(role, ()))


def check_cos(c: Checker, keypath: tuple, names: tuple[str, ...], profiles: dict[str, tuple[str, ...]]) -> None:
    """Every name in a cos value is a profile or a class; else a located error."""
    for name in names:
        if name not in profiles and name not in CLASSES:
            raise c.fail(keypath, f"{name!r} is neither a profile ({', '.join(profiles)}) nor a class "
                                  f"({', '.join(CLASSES)})")


def parse_cos(c: Checker, top: dict) -> CosConfig:
    kp = ("class_of_service",)
    t = c.table(top.get("class_of_service", {}), kp, {"profiles", "default", "area_code", "daily_minutes", "api"})
    raw = c.table(t.get("profiles", {}), (*kp, "profiles"), set(t.get("profiles", {})))
    profiles = dict(BUILTIN_PROFILES)
    for name in raw:
        if not _NAME_RE.match(name):
            raise c.fail((*kp, "profiles", name), "a profile name is letters, digits, _ and - (1-32)")
        classes = c.str_list(raw, (*kp, "profiles"), name, (), choices=CLASSES)
        profiles[name] = classes
    default = c.str_list(t, kp, "default", (DEFAULT_PROFILE,))
    check_cos(c, (*kp, "default"), default, profiles)
    api_raw = c.table(t.get("api", {}), (*kp, "api"), set(API_ROLES))
    api = []
    for role in api_raw:
        names = c.str_list(api_raw, (*kp, "api"), role, ())
        check_cos(c, (*kp, "api", role), names, profiles)
        api.append((role, names))
    return CosConfig(
        profiles=tuple(profiles.items()), default=default,
        area_code=c.get(t, kp, "area_code", str, "", pattern=_AREA_RE),
        daily_minutes=float(c.get(t, kp, "daily_minutes", (int, float), 0.0, minimum=0)),
        api=tuple(api))
