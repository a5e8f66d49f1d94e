"""``callbox-tui``: start the installer's terminal UI against the daemon's API socket."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from mgmt_tui.app import TuiApp, client_factory, wants_ascii


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="callbox-tui", description="callbox installer terminal UI")
    ap.add_argument("--socket", default=os.environ.get("CALLBOX_API", "/run/callbox/api.sock"))
    ap.add_argument("--ascii", action="store_true", default=None, help="ASCII only (default: on for VT100 terminals)")
    args = ap.parse_args(argv)
    app = TuiApp(client_factory(args.socket), ascii_mode=wants_ascii() if args.ascii is None else True)
    with contextlib.suppress(KeyboardInterrupt):
        app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
