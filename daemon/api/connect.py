"""How a client of the API socket (the ``callbox`` CLI, the ``callbox-tui``) finds the socket and the
token it presents: the same options, environment and configuration for both.

* Socket: ``--socket``, else ``$CALLBOX_API``, else ``[api] socket`` of the configuration (``--config``,
  ``$CALLBOX_CONFIG`` or /etc/callbox/callbox.toml), else /run/callbox/api.sock.
* Token (``auth``, raising the connection's role): ``--token-file`` (mode 600), ``--token``, then
  ``$CALLBOX_TOKEN_FILE``, ``$CALLBOX_TOKEN``. A token is never printed.

``SetupError`` is a mistake in those (an unreadable configuration or token file), in one line."""

from __future__ import annotations

import argparse
import os
import stat
import tomllib
from pathlib import Path

from daemon.api.client import ApiClient
from daemon.config.checks import Checker
from daemon.config.model import DEFAULT_PATH, ConfigError

DEFAULT_SOCKET = "/run/callbox/api.sock"


class SetupError(Exception):
    """The socket or the token cannot be found as asked (exit 2), said in one line."""


def add_connection_arguments(ap: argparse.ArgumentParser) -> None:
    """``--config``, ``--socket``, ``--token-file`` and ``--token`` on a client's command line."""
    ap.add_argument("--config", default=None,
                    help=f"the box's configuration, for the API socket (default $CALLBOX_CONFIG or {DEFAULT_PATH})")
    ap.add_argument("--socket", default=None, help="API socket (default $CALLBOX_API, else the config's [api] socket)")
    ap.add_argument("--token-file", default=None, help="a file (mode 600) holding a token of [api.tokens] "
                                                        "(default $CALLBOX_TOKEN_FILE)")
    ap.add_argument("--token", default=None, help="a token of [api.tokens] (prefer $CALLBOX_TOKEN or "
                                                   "--token-file: a command line is visible to other users)")


def socket_path(explicit: str | None, config: str | None) -> str:
    """The API socket: ``--socket``, else ``$CALLBOX_API``, else ``[api] socket`` of the configuration
    (``--config``, ``$CALLBOX_CONFIG`` or /etc/callbox/callbox.toml), else the default. A configuration
    named explicitly must be readable; the default one is skipped when absent or unreadable."""
    if explicit:
        return explicit
    if os.environ.get("CALLBOX_API"):
        return os.environ["CALLBOX_API"]
    named = config or os.environ.get("CALLBOX_CONFIG")
    path = Path(named or DEFAULT_PATH)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        if named:
            raise SetupError(f"cannot read the configuration {path}: {getattr(exc, 'strerror', None) or exc}") from exc
        return DEFAULT_SOCKET
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SetupError(f"{path}: TOML syntax: {exc}") from exc
    c = Checker(path, text)
    try:
        raw = data.get("api", {})
        api = c.table(raw, ("api",), set(raw) if isinstance(raw, dict) else set())
        return c.get(api, ("api",), "socket", str, DEFAULT_SOCKET)
    except ConfigError as exc:
        raise SetupError(str(exc)) from exc


def read_token(explicit: str | None, token_file: str | None) -> str | None:
    """The token to present, if any: ``--token-file`` (its first line; refused if other users may read
    it), ``--token`` (visible in ``ps``), then the same from ``$CALLBOX_TOKEN_FILE`` and ``$CALLBOX_TOKEN``."""
    if explicit and not token_file:
        return explicit
    path = token_file or os.environ.get("CALLBOX_TOKEN_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                if os.fstat(f.fileno()).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                    raise SetupError(f"token file {path} is readable by other users: chmod 600 it")
                token = f.readline().strip()
        except OSError as exc:
            raise SetupError(f"cannot read the token file {path}: {exc.strerror}") from exc
        if not token:
            raise SetupError(f"token file {path} is empty")
        return token
    return os.environ.get("CALLBOX_TOKEN") or None


def connect(path: str, token: str | None) -> ApiClient:
    """A connection to the socket at ``path``, raised by ``token`` if one is given (``auth``; the daemon's
    refusal is its ``ApiError``, ``forbidden``, and the connection is closed then)."""
    client = ApiClient(path)
    if token is not None:
        try:
            client.call("auth", token=token)
        except BaseException:
            client.close()
            raise
    return client
