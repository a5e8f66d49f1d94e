"""``callbox``: a small command line for the running daemon (status, ports, calls, CDRs, a live view).

It speaks the API socket like any integrator; it never opens the daemon's files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time

from daemon.api.client import ApiClient
from daemon.api.protocol import ApiError

DEFAULT_SOCKET = os.environ.get("CALLBOX_API", "/run/callbox/api.sock")


def _t(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%m-%d %H:%M:%S") if ts else "-"


def format_status(s: dict) -> str:
    alarms = ", ".join(f"span {k}: {' '.join(v)}" for k, v in s.get("alarms", {}).items()) or "none"
    return (f"{s['name']}  callboxd {s['version']}  up {s['uptime']:.0f}s\n"
            f"board: {'up' if s['board'] else 'DOWN'}   ticks: {s['ticks']}   skipped: {s['skipped_ticks']}   "
            f"worst tick: {s['tick_cost_max_ms']} ms\n"
            f"active calls: {s['active_calls']}   CDRs: {s['cdrs']}   alarms: {alarms}")


def format_cdrs(rows: list[dict]) -> str:
    head = f"{'end':15} {'dir':8} {'caller':13} {'called':13} {'src':6} {'dst':6} {'trunk':8} {'dur':>6} {'bill':>6} {'cause':>5} disposition"
    lines = [head]
    for r in rows:
        lines.append(f"{_t(r.get('end')):15} {r.get('direction', ''):8} {str(r.get('caller') or '-'):13} "
                     f"{str(r.get('called') or '-'):13} {str(r.get('src') or '-'):6} {str(r.get('dst') or '-'):6} "
                     f"{str(r.get('trunk') or '-'):8} {r.get('duration', 0):6.1f} {r.get('billsec', 0):6.1f} "
                     f"{r.get('cause', ''):>5} {r.get('disposition', '')}")
    return "\n".join(lines)


def format_ports(rows: list[dict]) -> str:
    out = []
    for r in rows:
        if r["kind"] == "e1":
            continue
        who = r.get("extension") or r.get("line") or ""
        out.append(f"{r['port']:6} {r['kind']:4} {who:8} {r.get('state', '-'):18} {r.get('call', '')}")
    e1 = [r for r in rows if r["kind"] == "e1"]
    if e1:
        out.append(f"E1 timeslots: {len(e1)}")
    return "\n".join(out)


def format_calls(rows: list[dict]) -> str:
    if not rows:
        return "no active calls"
    return "\n".join(f"{r['id']:14} {r['direction']:8} {str(r.get('caller') or '-'):13} -> "
                     f"{str(r.get('called') or '-'):13} {r.get('src_port')} -> {r.get('dst_port') or '-'}  "
                     f"{'answered' if r.get('answer') else 'ringing'}" for r in rows)


def watch(client: ApiClient, interval: float, duration: float | None) -> None:
    end = time.monotonic() + duration if duration else None
    while end is None or time.monotonic() < end:
        screen = "\n\n".join((format_status(client.call("status")), format_ports(client.call("ports")),
                              format_calls(client.call("calls")),
                              format_cdrs(client.call("cdr.list", limit=8, newest_first=True))))
        sys.stdout.write("\x1b[H\x1b[2J" + screen + "\n(Ctrl-C to stop)\n")
        sys.stdout.flush()
        time.sleep(interval)


def _date(text: str) -> float:
    try:
        return dt.datetime.fromisoformat(text).timestamp()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from exc


def export_cdrs(client: ApiClient, since: float | None, until: float | None, output: str | None) -> int:
    """Page through ``cdr.export_csv`` and write one CSV file (UTF-8 with BOM, for Excel)."""
    out = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
    cursor, rows = None, 0
    try:
        while True:
            page = client.call("cdr.export_csv", since=since, until=until, cursor=cursor)
            out.write(page["csv"])
            rows += page["rows"]
            cursor = page["next"]
            if cursor is None:
                break
    finally:
        if output:
            out.close()
    print(f"callbox: {rows} CDRs exported", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="callbox", description="talk to the running callbox daemon")
    ap.add_argument("--socket", default=DEFAULT_SOCKET, help="API socket (default %(default)s)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("status", help="one-screen status")
    sub.add_parser("ports", help="every port's state")
    sub.add_parser("calls", help="calls in progress")
    cdr = sub.add_parser("cdr", help="call detail records")
    cdr.add_argument("action", choices=("list", "export"), help="list the newest, or export CSV to stdout / -o")
    cdr.add_argument("--limit", type=int, default=20)
    cdr.add_argument("--since", type=_date, default=None, help="YYYY-MM-DD[THH:MM] (export)")
    cdr.add_argument("--until", type=_date, default=None, help="YYYY-MM-DD[THH:MM] (export)")
    cdr.add_argument("-o", "--output", default=None, help="CSV file (export; default stdout)")
    w = sub.add_parser("watch", help="live view")
    w.add_argument("--interval", type=float, default=1.0)
    w.add_argument("--duration", type=float, default=None)
    args = ap.parse_args(argv)
    try:
        client = ApiClient(args.socket)
    except OSError as exc:
        print(f"callbox: cannot reach the daemon at {args.socket}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        with client:
            if args.cmd == "status":
                print(format_status(client.call("status")))
            elif args.cmd == "ports":
                print(format_ports(client.call("ports")))
            elif args.cmd == "calls":
                print(format_calls(client.call("calls")))
            elif args.cmd == "cdr" and args.action == "export":
                return export_cdrs(client, args.since, args.until, args.output)
            elif args.cmd == "cdr":
                print(format_cdrs(client.call("cdr.list", limit=args.limit, newest_first=True)))
            elif args.cmd == "watch":
                watch(client, args.interval, args.duration)
    except ApiError as exc:
        print(f"callbox: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
