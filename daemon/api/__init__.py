"""The msgpack socket API (``/run/callbox/api.sock``): framing, server, and a client.

``daemon.api.protocol`` is the wire format, ``daemon.api.client`` the client the CLI and the TUI
use (the only part of ``daemon`` they may import), ``daemon.api.server`` the daemon's side.
"""
