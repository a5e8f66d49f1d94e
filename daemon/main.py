"""``callboxd``: the daemon's command line. Loads the config (exit 2 with a located error if it is
wrong), sets up logging, and runs the service until SIGTERM (exit 0). A config that does not fit the
board it opens also exits 2; any other failure is logged with its traceback and exits 1, for systemd
to restart the daemon."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import faulthandler
import logging
import signal
import sys

from daemon.config.model import DEFAULT_PATH, ConfigError, load_config
from daemon.systemd import sd_notify, setup_logging


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="callboxd", description="callbox call center daemon")
    ap.add_argument("--config", default=str(DEFAULT_PATH), help="configuration file (TOML)")
    ap.add_argument("--state-dir", help="override box.state_dir")
    ap.add_argument("--cache-dir", help="override box.cache_dir")
    ap.add_argument("--board-socket", help="override board.socket")
    ap.add_argument("--api-socket", help="override api.socket")
    ap.add_argument("--log", choices=("auto", "journal", "stderr"), help="override box.log")
    ap.add_argument("--check", action="store_true", help="validate the configuration and exit")
    args = ap.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"callboxd: configuration error: {exc}", file=sys.stderr)
        return 2
    overrides = {k: v for k, v in (("state_dir", args.state_dir), ("cache_dir", args.cache_dir),
                                   ("board_socket", args.board_socket),
                                   ("api_socket", args.api_socket), ("log", args.log)) if v}
    config = dataclasses.replace(config, **overrides)
    if args.check:
        print(f"{args.config}: OK ({len(config.lines)} lines, {len(config.extensions)} extensions; "
              "the ports are checked against the board when it opens)")
        return 0
    setup_logging(config.log, config.log_level)
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1` dumps every thread's stack: a stuck daemon explains itself
    from daemon.service import Service
    from daemon.store.database import StoreError

    try:
        service = Service(config)
    except StoreError as exc:
        logging.getLogger("daemon").critical("cannot start: %s", exc)
        print(f"callboxd: cannot start: {exc}", file=sys.stderr)
        sd_notify(f"STATUS=cannot start: {exc}")
        return 1
    try:
        return asyncio.run(service.run())
    except ConfigError as exc:
        logging.getLogger("callboxd").error("configuration error: %s", exc)
        return 2
    except Exception:
        logging.getLogger("callboxd").critical("the daemon failed; exit 1", exc_info=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
