"""Every op's arguments checked against its declared schema, against a running daemon and simulator:
the requests that used to freeze the box or get ``internal`` are ``bad_argument`` naming the
argument, and a fuzz run over every op ``ops`` lists (hypothesis: the right names with wrong types,
huge strings, inf/NaN, huge integers, nested maps and lists, and values of the declared types around
their limits) gets no ``internal`` reply, costs the board no frame, and a call placed as it starts
carries audio both ways after it."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.api.client import ApiClient
from daemon.api.protocol import ApiError, ErrorCode
from tests.support.processes import DaemonProcess
from tests.support.world import World

pytestmark = pytest.mark.e2e

CALL_LINE, CALL_EXTENSION = "1/4", "8007"  # the call that must survive (no generated value names them)
REAL = ["1/1", "2/2", "3/1", "4/1", "8002", "1001", "1008", "domestic", "travel-agency", "13800138000", "dial"]
NASTY = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.floats() | st.sampled_from([math.inf, -math.inf, math.nan])
    | st.text(max_size=16) | st.binary(max_size=16) | st.just("x" * 10_000) | st.sampled_from(REAL),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6) | st.integers(-2**63, 2**64 - 1), kids, max_size=4),
    max_leaves=8)  # under the 1 MiB message limit however many arguments
# a value of the wrong kind, for an argument or inside a list or map: every kind, often
WRONG_VALUES = [None, True, -1, 2**64 - 1, -2**63, math.inf, math.nan, "", "x" * 2000, b"\x00", [], [{}], {},
                {"a": {"b": [1]}}, {1: 2}, [[1, [2]]]]
WRONG = st.sampled_from(WRONG_VALUES)
WIDE = "\U0001d11e"  # 𝄞
# whole files: a generated one could be a valid config or flow that takes the test's own call away
NO_TEXT = {("config.set", "text"), ("ivr.flow.set", "text")}


def examples(op: dict) -> int:
    """Requests generated for ``op``: a few for an op without arguments (they can only be typos), more
    the more arguments it takes."""
    return min(30, 10 + 5 * len(op["args"])) if op["args"] else 3


def refusal(api: ApiClient, op: str, **args) -> ApiError:
    with pytest.raises(ApiError) as err:
        api.call(op, **args)
    return err.value


@pytest.mark.serial  # counts the board's missed frames
def test_a_string_since_is_refused_without_work(daemon: DaemonProcess) -> None:
    """``recordings.query {since: "x" * 2000}`` multiplied the string by a million on the event loop
    (seconds frozen, GiBs); now it is refused before the op runs, and the board never misses a frame."""
    w = World(daemon.sim)
    before = w.board_misses()
    for value in ("x" * 2000, math.inf, math.nan, -1, 2**64 - 1, [1], {"a": 1}, True):
        err = refusal(daemon.api, "recordings.query", since=value)
        assert (err.code, err.argument) == (ErrorCode.BAD_ARGUMENT, "since"), value
    assert daemon.api.call("recordings.query", since=0, limit=5) == []
    assert w.missed_since(before) == 0


def test_requests_that_got_internal_are_bad_arguments_naming_the_argument(daemon: DaemonProcess) -> None:
    api = daemon.api
    for op, args, name in [
        ("e1.set_cas", {"port": "3/1", "bits": 99}, "bits"),  # was masked to 3 and sent
        ("e1.set_cas", {"port": "3/1", "bits": -1}, "bits"),
        ("e1.set_cas", {"port": "3/1", "bits": "9"}, "bits"),
        ("agent.login", {"agent": 1001, "pin": "1", "extension": "8001"}, "agent"),
        ("customer.get", {"number": ["138"]}, "number"),
        ("call.dial", {"extension": "8001", "number": 13800138000}, "number"),
        ("e1.hdlc_received", {"span": [4]}, "span"),
        ("recordings.fetch", {"call": "c", "offset": 2**64 - 1}, "offset"),
        ("cdr.list", {"limit": 10, "since": math.nan}, "since"),
        ("acd.intervals", {"until": math.inf}, "until"),
        ("subscribe", {"kinds": ["call."], "filters": {"agent": [{"a": 1}]}}, "filters.agent[0]"),
        ("subscribe", {"kinds": ["call."], "filters": {"colour": ["red"]}}, "filters.colour"),
        ("config.set", {"changes": [{"key": "box.name", "value": "x", "vaule": 1}]}, "changes[0].vaule"),
        ("cdr.list", {"limt": 5}, "limt"),  # a typo is refused, not ignored
        ("status", {"verbose": True}, "verbose"),
    ]:
        err = refusal(api, op, **args)
        assert (err.code, err.argument) == (ErrorCode.BAD_ARGUMENT, name), (op, args, err)
        assert name.split("[")[0].split(".")[0] in err.message
    assert api.call("e1.set_cas", port="3/1", bits=9) == {"port": "3/1", "bits": 9}
    assert refusal(api, "e1.set_cas", port="9/9", bits=9).code == ErrorCode.NOT_FOUND


def _around(desc: dict) -> st.SearchStrategy:
    """Values of the declared type, at and just beyond its limits (the ones that reach the op)."""
    kind = desc["type"]
    if kind == "int":
        lo, hi = desc["min"], desc["max"]
        return st.sampled_from([lo, hi, lo - 1, hi + 1]) | st.integers(lo, min(hi, lo + 1000))
    if kind == "number":
        return st.sampled_from([desc["min"], desc["max"]]) | st.floats(desc["min"] - 1, desc["max"] + 1)
    if kind == "bool":
        return st.booleans()
    if kind == "enum":
        return st.sampled_from(desc["values"])
    if kind == "string":
        return (st.sampled_from(REAL) | st.text(max_size=min(desc["max_len"] + 1, 24))
                | st.just("9" * (desc["max_len"] + 1)) | st.just(WIDE * min(desc["max_len"], 20_000)))
    if kind == "bytes":
        return st.binary(max_size=min(desc["max_len"] + 1, 64))
    if kind == "list":
        return st.lists(_around(desc["of"]) | WRONG, max_size=min(desc["max_len"] + 1, 4))
    if kind == "map":
        return st.fixed_dictionaries({}, optional={k: _around(d) | WRONG | NASTY for k, d in desc["fields"].items()})
    if kind == "map_of":
        return st.dictionaries(st.text(max_size=8), _around(desc["value"]) | WRONG, max_size=4)
    if kind == "any_of":
        return st.one_of([_around(c) for c in desc["choices"]])
    return NASTY


def _bad(desc: dict) -> st.SearchStrategy:
    """A wrong value for an argument of type ``desc``: another kind, or one of its kind with something
    wrong inside (a list with a wrong item or too many, a map with a wrong or unknown field)."""
    kind = desc["type"]
    if kind == "list":
        inside = st.tuples(st.lists(_around(desc["of"]), max_size=3), _bad(desc["of"])).map(lambda t: t[0] + [t[1]])
        too_long = st.just([None] * (min(desc["max_len"], 10_000) + 1))
        return inside | too_long | WRONG
    if kind == "map":
        fields = desc["fields"]
        return st.sampled_from(sorted(fields)).flatmap(lambda bad: st.fixed_dictionaries(
            {k: (_bad(d) if k == bad else _around(d)) for k, d in fields.items()})) | WRONG | NASTY
    if kind == "map_of":
        return st.dictionaries(st.text(max_size=8), _bad(desc["value"]), min_size=1, max_size=2) | WRONG
    return WRONG | NASTY | _around(desc)  # _around: just beyond the limits too


def _request(op: dict) -> st.SearchStrategy:
    """(op, arguments, unknown arguments): every argument of its declared type (at and beyond its
    limits) but one, which is wrong (``_bad``); or a typo'd argument name besides."""
    name = op["op"]
    fields = {n: d for n, d in op["args"].items() if (name, n) not in NO_TEXT}

    def one_wrong(bad: str | None) -> st.SearchStrategy:
        return st.fixed_dictionaries({n: _bad(d) if n == bad else _around(d) for n, d in fields.items()
                                      if n == bad or d["required"]},
                                     optional={n: _around(d) for n, d in fields.items() if n != bad and not d["required"]})

    args = st.sampled_from([None, *sorted(fields)]).flatmap(one_wrong)
    if (name, "text") in NO_TEXT:
        args = args | st.fixed_dictionaries({"text": WRONG.filter(lambda v: not isinstance(v, str))})
    unknown = st.just({}) | st.just({}) | st.just({}) | st.fixed_dictionaries({"limt": NASTY}, optional={"colour": NASTY})
    return st.tuples(st.just(name), args, unknown)


def _typical(desc: dict) -> object:
    """A value of type ``desc`` that passes its checks (not necessarily naming anything that exists)."""
    kind = desc["type"]
    if kind in ("int", "number"):
        return desc["min"]
    if kind == "enum":
        return desc["values"][0]
    if kind == "bytes":
        return b"\x00" * max(desc.get("min_len", 0), 1)
    if kind == "list":
        return [_typical(desc["of"])] * max(desc.get("min_len", 0), 1)
    if kind == "map":
        return {k: _typical(d) for k, d in desc["fields"].items() if d["required"]}
    if kind == "any_of":
        return _typical(desc["choices"][0])
    return {"bool": False, "map_of": {}}.get(kind, "1/1")  # "1/1": a port, a number, a name


def _wrong_inside(desc: dict) -> list[tuple[str, object]]:
    """(where, value): ``desc``'s value with one wrong thing put somewhere inside it, or itself wrong
    (a string: also one of the right length in the widest characters)."""
    kind = desc["type"]
    out = [("", v) for v in WRONG_VALUES]
    if kind == "string":  # the right kind and length, but the widest characters (4 bytes each in UTF-8)
        out.append(("", WIDE * min(desc["max_len"], 20_000)))
    if kind == "list":
        out += [(f"[1]{where}", [_typical(desc["of"]), v]) for where, v in _wrong_inside(desc["of"])]
    elif kind == "map":
        for k, d in desc["fields"].items():
            out += [(f".{k}{where}", {**_typical(desc), k: v}) for where, v in _wrong_inside(d)]
    elif kind == "map_of":
        out += [(f".k{where}", {"k": v}) for where, v in _wrong_inside(desc["value"])]
    return out


def _sweep(op: dict) -> list[tuple[str, dict, dict]]:
    """Every argument of ``op`` given every wrong kind of value, at every depth of its type, the others
    typical: type confusion found for sure, not by chance."""
    typical = {n: _typical(d) for n, d in op["args"].items() if d["required"]}
    return [(op["op"], {**typical, name: value}, {}) for name, desc in op["args"].items()
            for _, value in _wrong_inside(desc) if not ((op["op"], name) in NO_TEXT and isinstance(value, str))]


@pytest.mark.serial  # counts the board's missed frames
def test_fuzzed_arguments_to_every_op_never_get_internal_nor_disturb_a_call(daemon: DaemonProcess) -> None:
    api, w = daemon.api, World(daemon.sim)
    assert api.call("whoami")["role"] == "admin"  # every handler is reachable
    ops = api.call("ops")
    config, flow = api.call("config.get")["text"], api.call("ivr.flow.get", flow="travel-agency")["text"]
    phone, _ = w.answered_call(CALL_LINE, CALL_EXTENSION, api, tones=None)
    requests = [r for o in ops for r in _sweep(o)]
    for o in ops:  # first, so that generating them does not take the CPU from the daemon while it serves them

        @settings(max_examples=examples(o), deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(_request(o))
        def generate(request: tuple[str, dict, dict]) -> None:
            requests.append(request)

        generate()
    seen: dict[str, int] = {}
    before = w.board_misses()
    for op, args, unknown in requests:
        try:
            api.call(op, **args, **unknown)
            code, argument = "ok", None
        except ApiError as exc:
            code, argument = exc.code, exc.argument
            assert exc.code != ErrorCode.INTERNAL, (op, args, unknown, exc.message)
        if unknown:  # never ignored
            assert (code, argument in unknown) == (ErrorCode.BAD_ARGUMENT, True), (op, unknown, code, argument)
        seen[code] = seen.get(code, 0) + 1
    print("fuzzed replies by code:", seen, "ticks missed at the board:", w.missed_since(before))
    assert seen.get("ok") and seen.get(ErrorCode.BAD_ARGUMENT)
    assert api.call("status")["board"]
    assert w.missed_since(before) == 0  # the board got every frame
    assert api.call("config.get")["text"] == config
    assert api.call("ivr.flow.get", flow="travel-agency")["text"] == flow
    assert w.tones_both_ways(phone, CALL_LINE) == (pytest.approx(1000.0, rel=0.02), pytest.approx(600.0, rel=0.02))
