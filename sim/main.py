"""``callbox-sim``: run the simulated board and its telephone world as a process.

    callbox-sim [--config FILE] [--rundir DIR] [--log-level LEVEL]

``--rundir`` defaults to $CALLBOX_SIM_RUNDIR or /run/callbox-sim; the sockets are created there.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from hal.realtime import take_realtime
from sim.config import ConfigError, load_config
from sim.server import SimServer
from sim.traffic import TrafficSettings
from sim.world import SimWorld

DEFAULT_RUNDIR = "/run/callbox-sim"


async def _run(server: SimServer) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.request_stop)
    # A board keeps time in hardware, whatever the host's load: the simulated one's clock loop asks for
    # real-time standing above the daemon's (a busy test machine then delays other work, not the ticks).
    server.scheduling = take_realtime(server.world.config.realtime_priority)
    await server.run()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="callbox-sim", description="the simulated callbox board and telephone world")
    ap.add_argument("--config", help="TOML config (default: the built-in layout, see docs/sim.md)")
    ap.add_argument("--rundir", default=os.environ.get("CALLBOX_SIM_RUNDIR", DEFAULT_RUNDIR),
                    help="where board.sock, control.sock and spanN.peer are created")
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"callbox-sim: {exc}", file=sys.stderr)
        return 2
    world = SimWorld(config)
    server = SimServer(world, args.rundir)
    if config.traffic and config.traffic.get("enabled", False):
        try:
            settings = TrafficSettings.from_dict({k: v for k, v in config.traffic.items() if k != "enabled"})
        except ValueError as exc:
            print(f"callbox-sim: traffic: {exc}", file=sys.stderr)
            return 2
        server.ops.traffic.start(settings)
    try:
        asyncio.run(_run(server))
    except OSError as exc:
        print(f"callbox-sim: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
