"""The declared argument schemas: each type refuses what it must (naming the argument by its path),
keeps what it may, fills defaults; unknown arguments are refused; the server checks every request
against its op's schema before the handler runs, and logs a client's error replies once."""

from __future__ import annotations

import logging
import math
import time
import tracemalloc

import pytest

from daemon.api.client import ApiClient
from daemon.api.protocol import ApiError, ErrorCode
from daemon.api.schema import (
    TIME,
    AnyOf,
    Args,
    BadArgument,
    Bool,
    Bytes,
    Enum,
    Float,
    Int,
    List,
    MapOf,
    Opt,
    Scalar,
    Str,
    Toml,
)


def refused(arg, value, name: str = "x") -> str:
    with pytest.raises(BadArgument) as err:
        arg.check(value, name)
    assert err.value.code == ErrorCode.BAD_ARGUMENT
    return err.value.argument


@pytest.mark.parametrize("arg, good, bad", [
    (Str(4), ["", "abcd", "二二"], [None, 1, b"ab", "abcde", ["a"], {"a": 1}]),
    (Str(8, min_len=1, pattern=r"[0-9]+"), ["1", "12345678"], ["", "12a", "123456789"]),
    (Int(0, 15), [0, 15, 7], [-1, 16, 99, True, 1.0, "3", None, 2**64 - 1, -2**63]),
    (Float(0, 10), [0, 10, 2.5, 3], [-0.1, 10.01, math.inf, -math.inf, math.nan, True, "1", None, 2**64 - 1]),
    (Bool(), [True, False], [0, 1, "true", None]),
    (Enum("dial", "busy"), ["dial", "busy"], ["Dial", "", 1, ["dial"], {"dial": 1}]),
    (Bytes(3, min_len=1), [b"a", b"abc"], [b"", b"abcd", "abc", [1]]),
    (List(Int(0, 9), max_len=2), [[], [1], [1, 2]], [[1, 2, 3], [10], ["1"], "12", {"a": 1}, (1,)]),
    (Scalar(3), ["abc", 1, 2.5, True], ["abcd", None, [1], {"a": 1}, b"x", math.nan, math.inf]),
    (Toml(depth=2), ["s", 1, 1.5, True, [1, [2]], {"a": {"b": 1}}], [None, b"x", {1: 2}, [[[1]]], 2**63]),
    (MapOf(Str(2), Int(0, 1), max_len=2), [{}, {"a": 1}], [{"abc": 1}, {"a": 2}, {1: 1}, {"a": 1, "b": 0, "c": 1}, []]),
    (AnyOf(Str(4), List(Str(4), max_len=2)), ["ab", ["a", "b"]], [1, ["a", 1], ["a", "b", "c"]]),
])
def test_each_type_takes_what_it_declares_and_refuses_the_rest(arg, good, bad) -> None:
    for v in good:
        assert arg.check(v, "x") == v
    for v in bad:
        assert refused(arg, v) == "x" or refused(arg, v).startswith("x"), v


def test_a_string_where_a_number_is_due_is_refused_at_once() -> None:
    """The reported bug: a 2000-character ``since`` was multiplied by 1e6 (string repetition: seconds, GiBs)."""
    big = "x" * 1_000_000
    tracemalloc.start()
    try:
        for arg in (TIME, Int(0, 10), Float(0, 1)):
            assert refused(arg, big, "since") == "since"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000  # refused as it is: not copied, let alone repeated (measured, not timed)
    assert TIME.check(1_700_000_000, "since") == 1.7e9 and isinstance(TIME.check(5, "since"), float)


def test_toml_values_are_walked_at_most_max_items_steps_per_request() -> None:
    assert Toml(max_items=7).check([1, [2, 3], {"a": 4}], "value") == [1, [2, 3], {"a": 4}]  # 7, the lists too
    assert refused(Toml(max_items=7), [1, [2, 3], {"a": 4, "b": 5}], "value") == "value[2].b"
    assert refused(Toml(), [0] * 100_000, "value") == "value[9999]"
    many = Args({"changes": List(Args({"value": Toml()}), max_len=1000)})
    with pytest.raises(BadArgument) as err:  # counted over the whole request, not per value
        many.check_request({"changes": [{"value": list(range(99))} for _ in range(101)]})
    assert err.value.argument == "changes[100].value" and "in all" in err.value.message  # 100 values each
    assert len(many.check_request({"changes": [{"value": list(range(99))} for _ in range(100)]})["changes"]) == 100


def test_nested_arguments_are_named_by_their_path() -> None:
    changes = Args({"changes": List(Args({"key": Str(8), "value": Opt(Toml())}), max_len=4)})
    assert refused(changes, {"changes": [{"key": "a"}, {"key": 5}]}, "") == "changes[1].key"
    assert refused(changes, {"changes": [{"key": "a", "colour": 1}]}, "") == "changes[0].colour"
    filters = Args({"filters": Opt(Args({"agent": Opt(List(Str(4), max_len=2))}))})
    assert refused(filters, {"filters": {"agent": ["1001", {"a": 1}]}}, "") == "filters.agent[1]"
    assert refused(filters, {"filters": {"agent": "1001"}}, "") == "filters.agent"


def test_args_fill_defaults_refuse_unknown_and_missing_and_check_alternatives() -> None:
    schema = Args({"call": Str(8), "limit": Opt(Int(1, 10), 5), "text": Opt(Str(8)), "changes": Opt(List(Int(0, 1), 2))},
                  one_of=[("text", "changes")])
    assert schema.check_request({"id": 1, "op": "x", "token": "t", "call": "c", "text": "t"}) == {
        "call": "c", "limit": 5, "text": "t", "changes": None}
    assert schema.check_request({"call": "c", "limit": None, "changes": [1]})["limit"] == 5  # nil: the default
    with pytest.raises(BadArgument) as err:
        schema.check_request({"call": "c", "text": "t", "limt": 3})
    assert err.value.argument == "limt" and "unknown argument" in err.value.message and "limit" in err.value.message
    assert refused_request(schema, {"text": "t"}) == "call"
    assert refused_request(schema, {"call": "c"}) == "text"  # neither alternative
    assert refused_request(schema, {"call": "c", "text": "t", "changes": [1]}) == "text"  # both
    assert refused_request(schema, {"call": "c", "text": "t", 5: 1}) == "int"  # a key that is not a string
    assert refused_request(schema, {"call": "c", "text": "t", "k" * 100: 1}) == "string"  # not echoed whole
    assert refused_request(Args(), {"anything": 1}) == "anything"


def refused_request(schema: Args, req: dict) -> str:
    with pytest.raises(BadArgument) as err:
        schema.check_request(req)
    return err.value.argument


def test_describe_reports_types_ranges_defaults_and_alternatives() -> None:
    schema = Args({"port": Str(8, what="a port"), "bits": Int(0, 15), "force": Opt(Bool(), False),
                   "tone": Opt(Enum("dial")), "freq": Opt(Float(100, 3800))}, one_of=[("tone", "freq")])
    assert schema.describe_args() == {
        "args": {"port": {"type": "string", "max_len": 8, "what": "a port", "required": True},
                 "bits": {"type": "int", "min": 0, "max": 15, "required": True},
                 "force": {"type": "bool", "default": False, "required": False},
                 "tone": {"type": "enum", "values": ["dial"], "required": False},
                 "freq": {"type": "number", "min": 100, "max": 3800, "required": False}},
        "one_of": [["tone", "freq"]]}


def test_the_server_checks_arguments_before_the_handler_and_names_them(server) -> None:
    srv, path, _ = server
    ran: list[dict] = []
    srv.op("cas", lambda req: ran.append(req) or req, args={"bits": Int(0, 15), "note": Opt(Str(4), "n")})
    with ApiClient(path) as c:
        for bad, name in (({"bits": 99}, "bits"), ({"bits": "x" * 2000}, "bits"), ({}, "bits"),
                          ({"bits": 3, "nte": "x"}, "nte"), ({"bits": 3, "note": {"a": 1}}, "note")):
            with pytest.raises(ApiError) as err:
                c.call("cas", **bad)
            assert (err.value.code, err.value.argument) == (ErrorCode.BAD_ARGUMENT, name)
        assert ran == []
        assert c.call("cas", bits=3) == {"bits": 3, "note": "n"}
        with pytest.raises(ApiError) as err:  # an op registered without args takes none
            c.call("whoami", verbose=True)
        assert err.value.argument == "verbose"


def test_a_client_sending_junk_is_logged_once_and_summed_up_at_close(server, caplog) -> None:
    _, path, _ = server
    caplog.set_level(logging.INFO, logger="daemon.api.server")
    with ApiClient(path) as c:
        for i in range(200):
            with pytest.raises(ApiError):
                c.call("echo", valu=i)
        with pytest.raises(ApiError):
            c.call("nope")
        assert c.call("echo", value=1) == 1
    deadline = time.monotonic() + 5
    while not any("closed after" in r.getMessage() for r in caplog.records) and time.monotonic() < deadline:
        time.sleep(0.01)
    lines = [r.getMessage() for r in caplog.records if r.name == "daemon.api.server"]
    assert len(lines) == 2, lines
    assert "'valu': unknown argument" in lines[0] and "uid" in lines[0]
    assert "201 error replies (bad_argument 200, unknown_op 1)" in lines[1]
