"""``callbox-tui``: start the installer's terminal UI against the daemon's API socket.

The socket and the token are found as the ``callbox`` CLI finds them (``daemon.api.connect``):
``--socket`` / ``$CALLBOX_API`` / the configuration's ``[api] socket`` (``--config``,
``$CALLBOX_CONFIG``), and a token from ``--token-file``, ``--token``, ``$CALLBOX_TOKEN_FILE`` or
``$CALLBOX_TOKEN`` presented on every connection (``auth``). A mistake in those is exit 2; a token
the daemon refuses, exit 1, before the screen opens; a daemon not running yet is shown on the
screen and retried every second."""

from __future__ import annotations

import argparse
import contextlib
import sys

from daemon.api.connect import SetupError, add_connection_arguments, connect, read_token, socket_path
from daemon.api.protocol import ApiError
from mgmt_tui.app import TuiApp, client_factory, wants_ascii


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="callbox-tui", description="callbox installer terminal UI")
    add_connection_arguments(ap)
    ap.add_argument("--ascii", action="store_true", default=None,
                    help="ASCII only: Chinese as pinyin (default: on for VT100 terminals)")
    args = ap.parse_args(argv)
    try:
        path = socket_path(args.socket, args.config)
        token = read_token(args.token, args.token_file)
    except SetupError as exc:
        print(f"callbox-tui: {exc}", file=sys.stderr)
        return 2
    if token is not None:  # a refused token is said here, not on a screen the installer must then quit
        try:
            connect(path, token).close()
        except ApiError as exc:
            print(f"callbox-tui: the daemon refused the token ({exc.code})", file=sys.stderr)
            return 1
        except OSError:
            pass  # not running yet: the screen says so and retries
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("callbox-tui: needs a terminal (for a script: the callbox command)", file=sys.stderr)
        return 2
    app = TuiApp(client_factory(path, token), ascii_mode=wants_ascii() if args.ascii is None else True)
    with contextlib.suppress(KeyboardInterrupt):
        app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
