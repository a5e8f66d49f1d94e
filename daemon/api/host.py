"""What the API's op modules see of the running service: a typed view, so an op module depends on
the parts it reads (config, engine, store, writer, API server, board, the optional IVR, ACD and
recorder hosts) and never on ``daemon.service`` itself (which imports the op modules to wire them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from daemon.acd.host import AcdService
    from daemon.api.server import ApiServer
    from daemon.config.model import Config
    from daemon.flows.ivr_calls import IvrService
    from daemon.recording.host import Recording
    from daemon.runtime.engine import Engine
    from daemon.store.database import Store, StoreWriter
    from hal.board import Board


class OpsHost(Protocol):
    config: Config
    engine: Engine
    store: Store
    writer: StoreWriter
    api: ApiServer
    board: Board
    board_up: bool
    started: float
    scheduling: str
    recording: Recording | None
    ivr: IvrService | None
    acd: AcdService | None
