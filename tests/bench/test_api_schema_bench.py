"""Benchmark: what checking a request's arguments against its op's schema costs the event loop.

A typical request (``cdr.page``), the largest a schema lets through (``config.set`` with 1,000 changes
whose values hold 10,000 TOML values in all) and the reported one (``recordings.query`` with a
2,000-character ``since``, refused at its first check). All run on the loop before the op does anything;
what a request can make them cost is bounded by the schema's limits, not by what was sent.

Run: ``.venv/bin/pytest tests/bench --benchmark-enable``
"""

from __future__ import annotations

import pytest

from daemon.api.cdr_ops import cdr_args
from daemon.api.schema import BadArgument, args_of
from daemon.config import editing as config_editing
from daemon.recording.host import QUERY_ARGS


def test_a_typical_request(benchmark) -> None:
    schema = args_of(cdr_args(100))
    req = {"id": 7, "op": "cdr.page", "since": 1_764_547_200, "until": 1_767_225_600.5, "limit": 500,
           "cursor": b"\x00" * 12, "newest_first": True}
    assert benchmark(schema.check_request, req)["limit"] == 500


def test_the_largest_config_set(benchmark) -> None:
    def request() -> dict:  # made anew each round: the check converts in place
        return {"id": 1, "op": "config.set",
                "changes": [{"key": f"extension[{8000 + i}].name", "value": ["x"] * 9} for i in range(1000)]}

    checked = benchmark.pedantic(config_editing.SET_ARGS.check_request, setup=lambda: ((request(),), {}), rounds=20)
    assert len(checked["changes"]) == 1000


def test_a_string_since_is_refused_at_once(benchmark) -> None:
    schema = args_of(QUERY_ARGS)

    def check() -> str:
        with pytest.raises(BadArgument) as err:
            schema.check_request({"id": 1, "op": "recordings.query", "since": "x" * 2000})
        return err.value.argument

    assert benchmark(check) == "since"
