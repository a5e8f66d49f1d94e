"""The API server running on its own loop thread, for the API tests (shared fixture)."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator

import pytest

from daemon.api.protocol import ApiError, ErrorCode
from daemon.api.roles import ADMIN, INTEGRATOR
from daemon.api.schema import Opt, Str, Toml
from daemon.api.server import ApiServer

TOKENS = {"tok-int": "integrator", "tok-sup": "supervisor", "tok-1002": "agent:1002"}


@pytest.fixture
def server() -> Iterator[tuple[ApiServer, str, asyncio.AbstractEventLoop]]:
    sockdir = tempfile.mkdtemp(prefix="callbox-api-")  # not under tmp_path: other users must reach it
    os.chmod(sockdir, 0o755)
    path = os.path.join(sockdir, "api.sock")
    audited: list[dict] = []
    srv = ApiServer(path, {"server": "test"}, tokens=TOKENS, audit=audited.append)
    srv.audited = audited  # type: ignore[attr-defined]
    srv.op("echo", lambda req: req["value"], args={"value": Opt(Toml())})
    srv.op("admin.change", lambda req: "changed", roles=ADMIN, audit=True, args={"note": Opt(Str())})
    srv.op("integrator.change", lambda req: "done", roles=INTEGRATOR, audit=True)

    def login(req: dict) -> str:  # an agent's login: PIN "4711" for every agent
        if req.get("pin") != "4711":
            raise ApiError(ErrorCode.REFUSED, "wrong PIN")
        return "in"
    srv.op("agent.login", login, audit=True, own_agent="agent", binds_agent=True,
           args={"agent": Str(), "pin": Opt(Str())})
    srv.op("agent.pause", lambda req: "paused", audit=True, own_agent="agent", args={"agent": Opt(Str())})
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(srv.start())
        started.set()
        loop.run_forever()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    started.wait(5)
    os.chmod(path, 0o666)  # so a test client running as another user can connect
    yield srv, path, loop
    asyncio.run_coroutine_threadsafe(srv.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    t.join(5)
    shutil.rmtree(sockdir, ignore_errors=True)


