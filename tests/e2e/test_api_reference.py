"""docs/api.md against the running daemon and the e2e suite: every op the daemon serves is documented
with the roles that may call it, whether it is audited and every argument it takes (and nothing
documented is missing); every event kind the code publishes by name is documented; and every
documented op and event is used by an end-to-end test (a test that drives the running daemon and
simulator through the socket); and every op refuses each role below the ones it names."""

from __future__ import annotations

import re

import pytest

from daemon.api.protocol import ErrorCode
from tests.support.processes import ROOT, DaemonProcess
from tests.unit.daemon.api.test_roles import _as_nobody

pytestmark = pytest.mark.e2e

DOC = ROOT / "docs" / "api.md"
ROLE_WORDS = {"all": ["agent", "integrator", "supervisor", "admin"], "integrator+": ["integrator", "supervisor", "admin"],
              "supervisor+": ["supervisor", "admin"], "admin": ["admin"]}
PUBLISHED = re.compile(r"""publish\(\s*["']([a-z0-9_]+\.[a-z0-9_.]+)["']""")


def doc_rows(section: str) -> list[tuple[list[str], list[str]]]:
    """The rows of a section's table: (the names in the first cell, every cell stripped)."""
    rows, current = [], None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
        elif current == section and line.startswith("| `"):
            cells = [c.strip() for c in line.split("|")[1:-1]]
            rows.append((re.findall(r"`([a-z0-9_.]+)`", cells[0]), cells))
    return rows


def doc_table(section: str) -> list[tuple[list[str], str]]:
    """The rows of a section's table: (the names in the first cell, the second cell)."""
    return [(names, cells[1]) for names, cells in doc_rows(section)]


def e2e_sources() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests" / "e2e").glob("test_*.py"))


def test_every_op_is_documented_with_its_roles(daemon: DaemonProcess) -> None:
    served = {o["op"]: o for o in daemon.api.call("ops")}
    documented: dict[str, tuple[list[str], bool]] = {}
    for names, access in doc_table("Ops"):
        word = access.split(",")[0].split()[0]
        assert word in ROLE_WORDS, f"docs/api.md: {names}: unknown access {access!r}"
        for name in names:
            documented[name] = (ROLE_WORDS[word], "audited" in access)
    assert sorted(set(served) - set(documented)) == [], "ops the daemon serves that docs/api.md does not list"
    assert sorted(set(documented) - set(served)) == [], "ops docs/api.md lists that the daemon does not serve"
    wrong = {name: (served[name]["roles"], served[name]["audit"]) for name, doc in documented.items()
             if (served[name]["roles"], served[name]["audit"]) != doc}
    assert wrong == {}, "ops whose roles or audit differ from docs/api.md"


def test_every_argument_an_op_takes_is_documented(daemon: DaemonProcess) -> None:
    """The arguments each op's schema declares (as ``ops`` reports them) are the ones docs/api.md names
    in the op's arguments cell; an op documented with none (—) takes none."""
    served = {o["op"]: o for o in daemon.api.call("ops")}
    assert served["e1.set_cas"]["args"]["bits"] == {"type": "int", "min": 0, "max": 15, "required": True}
    missing, extra = {}, {}
    for names, cells in doc_rows("Ops"):
        named = set(re.findall(r"`([a-z0-9_]+)`", cells[2]))
        for name in names:
            declared = set(served[name]["args"])
            if declared - named:
                missing[name] = sorted(declared - named)
            if cells[2] == "—" and declared:
                extra[name] = sorted(declared)
    assert missing == {}, "arguments the daemon takes that docs/api.md does not name"
    assert extra == {}, "ops documented without arguments that take some"


def test_every_event_published_by_name_is_documented() -> None:
    documented = {name for names, _ in doc_table("Events") for name in names}
    published = set()
    for pkg in ("daemon", "ivr", "recorder", "fax", "hal", "signaling", "drivers"):
        for path in (ROOT / pkg).rglob("*.py"):
            published |= set(PUBLISHED.findall(path.read_text(encoding="utf-8")))
    assert sorted(published - documented) == []


# Events that report a fault of the box itself, which nothing outside can provoke: each is shown by
# the unit test named here, which must publish-check it by name.
FAULT_EVENTS = {"call.error": "tests/unit/daemon/runtime/test_line_requests.py"}


def test_every_documented_op_and_event_has_an_end_to_end_test() -> None:
    tests = e2e_sources()
    untested = [name for section in ("Ops", "Events") for names, _ in doc_table(section) for name in names
                if not re.search(rf"""["']{re.escape(name)}["']""", tests) and name not in FAULT_EVENTS]
    assert untested == []
    for name, unit in FAULT_EVENTS.items():
        assert re.search(rf"""["']{re.escape(name)}["']""", (ROOT / unit).read_text(encoding="utf-8")), (name, unit)


def test_every_op_refuses_the_roles_below_it(reachable_daemon: DaemonProcess) -> None:
    """A client as the user nobody (an agent), then raised to integrator and to supervisor by tokens,
    calls every op its role may not call: each is ``forbidden`` and nothing is audited (changed)."""
    d = reachable_daemon
    d.api.call("config.set", changes=[{"key": "api.tokens.tok-int", "value": "integrator"},
                                      {"key": "api.tokens.tok-sup", "value": "supervisor"}])
    audited = len(d.api.call("audit.list"))
    ops = d.api.call("ops")
    calls: list[tuple[str, dict]] = []
    expected: list[tuple[str, str]] = []
    for role, token in (("agent", None), ("integrator", "tok-int"), ("supervisor", "tok-sup")):
        if token:
            calls.append(("auth", {"token": token}))
            expected.append(("auth", role))
        for o in ops:
            if role not in o["roles"]:
                calls.append((o["op"], {}))
                expected.append((o["op"], ErrorCode.FORBIDDEN))
    assert len(calls) > 40
    out = _as_nobody(str(d.api_socket), calls)
    got = [(op, r["role"] if op == "auth" else r.get("error") if isinstance(r, dict) else r)
           for (op, _), r in zip(calls, out, strict=True)]
    assert got == expected
    assert len(d.api.call("audit.list")) == audited
