#!/usr/bin/env python3
"""Example integrator client: print a screen pop whenever a call rings at an agent's extension.

Usage: screen_pop.py [--socket /run/callbox/api.sock] [--extension 8001 ...] [--token TOKEN]

Stands alone on purpose (only the msgpack package): this is what a CRM needs to speak the API —
a 4-byte big-endian length, then a msgpack map, both ways (see docs/api.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import socket
import struct
import sys

import msgpack


def send(sock: socket.socket, msg: dict) -> None:
    body = msgpack.packb(msg, use_bin_type=True)
    sock.sendall(struct.pack(">I", len(body)) + body)


def receive(sock: socket.socket) -> dict:
    def exact(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("the daemon closed the connection")
            buf += chunk
        return buf

    (n,) = struct.unpack(">I", exact(4))
    return msgpack.unpackb(exact(n), raw=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket", default="/run/callbox/api.sock")
    ap.add_argument("--extension", action="append", default=[], help="only these extensions (repeatable)")
    ap.add_argument("--token", default=None, help="an API token from the daemon's config")
    args = ap.parse_args()

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(args.socket)
    hello = receive(sock)
    print(f"connected to {hello.get('name')} (callboxd {hello.get('version')}, protocol {hello['protocol']})",
          flush=True)
    if args.token:
        send(sock, {"id": 1, "op": "auth", "token": args.token})
    filters = {"extension": args.extension} if args.extension else {}
    send(sock, {"id": 2, "op": "subscribe", "kinds": ["call.ringing", "call.answered", "call.ended"],
                "filters": filters})
    while True:
        msg = receive(sock)
        if msg.get("type") != "event":
            if not msg.get("ok", True):
                print(f"error: {msg['error']['code']}: {msg['error']['message']}", file=sys.stderr)
                return 1
            if msg.get("id") == 2:  # from here on no ring is missed
                print(f"watching calls at {', '.join(args.extension) or 'every extension'}", flush=True)
            continue
        now = dt.datetime.now().strftime("%H:%M:%S")
        if msg["kind"] == "call.ringing":
            customer = msg.get("customer") or {}
            print(f"{now} SCREEN POP  ext {msg.get('extension', '?')}  caller {msg.get('caller') or 'withheld'}"
                  f"  {customer.get('name', '')}  call {msg.get('call')}", flush=True)
        elif msg["kind"] == "call.ended":
            cdr = msg.get("cdr", {})
            print(f"{now} ended       call {msg.get('call')}  {cdr.get('disposition')}  {cdr.get('billsec', 0):.0f}s",
                  flush=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
