"""Agents' logins that survive a restart: who is logged in at which extension, and paused for which
reason. After a restart (an upgrade, a crash, a power cut) the agents are back as they were, so the
call center does not silently stop taking calls until everyone logs in again.

One row per logged-in agent in a named LMDB database of the daemon's environment (``acd_agents``),
keyed by agent ID: ``{"extension", "pause_reason"}`` (``pause_reason`` None when not paused). The
engine writes a row when an agent logs in, moves, pauses or resumes, and deletes it at logout; a
call or wrap-up in progress is not stored (the calls end with the daemon). Writes are sync LMDB
transactions callable from any thread (the daemon's store writer).
"""

from __future__ import annotations

import lmdb
import msgpack

DB_NAME = b"acd_agents"


class AgentStore:
    def __init__(self, env: lmdb.Environment, db_name: bytes = DB_NAME) -> None:
        self.env = env
        self.db = env.open_db(db_name)

    def put(self, agent_id: str, extension: str, pause_reason: str | None) -> None:
        with self.env.begin(write=True, db=self.db) as txn:
            txn.put(agent_id.encode(), msgpack.packb({"extension": extension, "pause_reason": pause_reason}))

    def delete(self, agent_id: str) -> None:
        with self.env.begin(write=True, db=self.db) as txn:
            txn.delete(agent_id.encode())

    def load(self) -> dict[str, dict]:
        with self.env.begin(db=self.db) as txn:
            return {k.decode(): msgpack.unpackb(v) for k, v in txn.cursor()}
