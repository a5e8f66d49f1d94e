"""Benchmark: what API events cost the tick, with 100 subscribed clients.

``publish`` is what the tick pays (an append); the fan-out to the clients runs after the tick in
bounded batches. Both are measured for 30 events (a busy tick).

Run: ``.venv/bin/pytest tests/bench --benchmark-enable``
"""

from __future__ import annotations

import asyncio
import os
import tempfile

import pytest

from daemon.api.protocol import pack
from daemon.api.server import ApiServer

CLIENTS = 100


@pytest.fixture
def served():
    loop = asyncio.new_event_loop()
    path = os.path.join(tempfile.mkdtemp(prefix="callbox-bench-"), "api.sock")
    srv = ApiServer(path, {"server": "bench"})
    loop.run_until_complete(srv.start())

    async def connect():
        conns = []
        for _ in range(CLIENTS):
            reader, writer = await asyncio.open_unix_connection(path)
            body = pack({"id": 1, "op": "subscribe", "kinds": ["call."]})
            writer.write(body)
            conns.append((reader, writer))
        await asyncio.sleep(0.2)
        return conns

    conns = loop.run_until_complete(connect())
    yield srv, loop, conns
    for _, w in conns:
        w.close()
    loop.run_until_complete(srv.stop())
    loop.close()


def test_publish_on_the_tick(benchmark, served) -> None:
    srv, loop, _ = served
    assert len(srv.clients) == CLIENTS

    def tick() -> None:
        for i in range(30):
            srv.publish("call.ringing", call=f"c{i}", extension="8001", caller="13800138000")
        srv._pending.clear()  # the fan-out is measured on its own below

    benchmark(tick)


def test_fanout_after_the_tick(benchmark, served) -> None:
    srv, loop, conns = served
    delivered = []

    def fanout() -> None:
        for i in range(30):
            srv.publish("call.ringing", call=f"c{i}", extension="8001", caller="13800138000")
        srv._fanout_scheduled = False
        while srv._pending:
            srv._fanout()
        delivered.append(sum(len(c.out) for c in srv.clients))
        for c in srv.clients:  # keep the backlogs from filling: the benchmark is the fan-out, not the drops
            while c.out:
                c.take()

    benchmark(fanout)
    assert delivered and min(delivered) == 30 * CLIENTS
